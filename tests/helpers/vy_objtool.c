/*
 * vy_objtool: a test and benchmark client over the public libvineyard API
 * (tests/bats/40-persist.bats, tests/bench/b40-persist.sh),
 * for what vineyardctl cannot do in one call (composite objects of many
 * blobs) or fast enough (thousands of persists, timing a restart).
 *
 *   put NAME FILE...      one composite object, a blob member per file,
 *                         named NAME and persisted in the same request;
 *                         prints the id once the daemon acknowledged it
 *   check NAME FILE...    exit 0 if NAME's members equal the files, 3 if
 *                         NAME is not there, 1 if anything differs
 *   many N SIZE [THREADS] N blobs of SIZE bytes, each persisted alone, from
 *                         THREADS connections; prints seconds taken
 *   persist-time FILE     puts FILE as one blob, then prints the seconds
 *                         vy_persist took (compress, write, fsync)
 *   answer-time TIMEOUT VINEYARDD ARGS...
 *                         starts the daemon, prints the milliseconds until
 *                         it first answers a status request, and exits
 *                         when the daemon does
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vineyard.h"
#include "timing.h"

static int
die(struct vy_client *c, int rc, const char *what)
{
	fprintf(stderr, "vy_objtool: %s: %s\n", what,
		c && *vy_errmsg(c) ? vy_errmsg(c) : strerror(-rc));
	return rc == -ENOENT ? 3 : 1;
}

static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		exit(1);
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		perror(path);
		exit(1);
	}
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static struct vy_client *
connect_or_exit(void)
{
	struct vy_client *c;
	char err[512];
	int rc = vy_connect_err(NULL, &c, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "vy_objtool: %s\n", err);
		exit(4);
	}
	return c;
}

static int
cmd_put(int argc, char **argv)
{
	struct vy_client *c = connect_or_exit();
	struct vy_meta *m = vy_meta_new("vineyard::test::Files");
	char idbuf[VY_ID_STRLEN];
	vy_id id;
	int i, rc;

	for (i = 1; i < argc; i++) {
		struct vy_writer *w;
		char mname[32];
		size_t len;
		char *buf = slurp(argv[i], &len);

		snprintf(mname, sizeof(mname), "f%d", i - 1);
		rc = vy_blob_create(c, len, &w);
		if (rc == 0)
			rc = vy_writer_write(w, 0, buf, len);
		free(buf);
		if (rc == 0)
			rc = vy_meta_add_member_writer(m, mname, w);
		if (rc)
			return die(c, rc, "blob");
	}
	vy_meta_set_int(m, "files", argc - 1);
	rc = vy_put_object(c, m, argv[0], 1, &id);
	vy_meta_free(m);
	if (rc)
		return die(c, rc, "put");
	vy_id_format(id, idbuf);
	printf("%s\n", idbuf);
	vy_close(c);
	return 0;
}

static int
cmd_check(int argc, char **argv)
{
	struct vy_client *c = connect_or_exit();
	struct vy_object *o;
	int i, rc, bad = 0;

	rc = vy_get_by_name(c, argv[0], 0, &o);
	if (rc)
		return die(c, rc, argv[0]);
	if (vy_object_nmembers(o) != (size_t)(argc - 1)) {
		fprintf(stderr, "vy_objtool: %s has %zu members, not %d\n",
			argv[0], vy_object_nmembers(o), argc - 1);
		bad = 1;
	}
	for (i = 1; i < argc && !bad; i++) {
		char mname[32];
		struct vy_object *b;
		size_t len;
		char *buf = slurp(argv[i], &len);

		snprintf(mname, sizeof(mname), "f%d", i - 1);
		b = vy_object_member_by_name(o, mname);
		if (!b || vy_object_nbytes(b) != len ||
		    (len && memcmp(vy_object_data(b), buf, len) != 0)) {
			fprintf(stderr, "vy_objtool: %s.%s differs from %s\n",
				argv[0], mname, argv[i]);
			bad = 1;
		}
		free(buf);
	}
	vy_object_release(c, o);
	vy_close(c);
	return bad;
}

struct many {
	size_t n, size;
	int seed;
	int rc;
};

static void *
many_thread(void *arg)
{
	struct many *m = arg;
	struct vy_client *c = connect_or_exit();
	char *buf = malloc(m->size ? m->size : 1);
	size_t i, k;

	for (i = 0; i < m->n && m->rc == 0; i++) {
		vy_id id;

		/* Distinct, mildly compressible contents. */
		for (k = 0; k < m->size; k++)
			buf[k] = (char)((k / 16) ^ (i * 31 + (size_t)m->seed));
		m->rc = vy_put_blob(c, buf, m->size, &id);
		if (m->rc == 0)
			m->rc = vy_persist(c, id);
		if (m->rc)
			die(c, m->rc, "persist");
	}
	free(buf);
	vy_close(c);
	return NULL;
}

static int
cmd_many(int argc, char **argv)
{
	size_t n = strtoull(argv[0], NULL, 10);
	size_t size = strtoull(argv[1], NULL, 10);
	int threads = argc > 2 ? atoi(argv[2]) : 1, i;
	pthread_t *t;
	struct many *m;
	double t0 = now();

	if (threads < 1)
		threads = 1;
	t = calloc((size_t)threads, sizeof(*t));
	m = calloc((size_t)threads, sizeof(*m));
	for (i = 0; i < threads; i++) {
		m[i].n = n / (size_t)threads + ((size_t)i < n % (size_t)threads);
		m[i].size = size;
		m[i].seed = i * 7919;
		pthread_create(&t[i], NULL, many_thread, &m[i]);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		if (m[i].rc)
			return 1;
	}
	printf("%.3f\n", now() - t0);
	free(t);
	free(m);
	return 0;
}

static int
cmd_persist_time(int argc, char **argv)
{
	struct vy_client *c = connect_or_exit();
	struct stat st;
	double t0;
	vy_id id;
	int fd = open(argv[0], O_RDONLY), rc;

	(void)argc;
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(argv[0]);
		return 1;
	}
	rc = vy_put_blob_fd(c, fd, (size_t)st.st_size, &id);
	close(fd);
	if (rc)
		return die(c, rc, "put");
	t0 = now();
	rc = vy_persist(c, id);
	if (rc)
		return die(c, rc, "persist");
	printf("%.3f\n", now() - t0);
	vy_close(c);
	return 0;
}

static int
cmd_answer_time(int argc, char **argv)
{
	double timeout = atof(argv[0]), t0 = now();
	pid_t pid = fork();

	(void)argc;
	if (pid < 0)
		return 1;
	if (pid == 0) {
		execv(argv[1], argv + 1);
		_exit(127);
	}
	while (now() - t0 < timeout) {
		struct vy_client *c;
		char *json;
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "vy_objtool: the daemon exited\n");
			return 1;
		}
		if (vy_connect(NULL, &c) == 0) {
			if (vy_status_json(c, &json) == 0) {
				printf("%.1f\n", (now() - t0) * 1e3);
				fflush(stdout);
				free(json);
				vy_close(c);
				/* Reap the daemon when it is told to stop. */
				waitpid(pid, &st, 0);
				return 0;
			}
			vy_close(c);
		}
		usleep(1000);
	}
	fprintf(stderr, "vy_objtool: no answer within %.0f s\n", timeout);
	return 1;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "put") == 0)
		return cmd_put(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 2, argv + 2);
	if (argc >= 4 && strcmp(argv[1], "many") == 0)
		return cmd_many(argc - 2, argv + 2);
	if (argc == 3 && strcmp(argv[1], "persist-time") == 0)
		return cmd_persist_time(argc - 2, argv + 2);
	if (argc >= 4 && strcmp(argv[1], "answer-time") == 0)
		return cmd_answer_time(argc - 2, argv + 2);
	fprintf(stderr, "usage: vy_objtool put|check NAME FILE... | many N "
		"SIZE [THREADS] | persist-time FILE | answer-time TIMEOUT "
		"VINEYARDD ARGS...\n");
	return 2;
}
