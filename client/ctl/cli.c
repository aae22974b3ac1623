/*
 * vineyardctl: the command-line client. One table of subcommands, each a
 * short function over libvineyard. Objects are named on the command line by
 * id (o + 16 hex digits) or by name. Exit codes are listed in usage() and
 * vineyardctl(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vineyard.h"
#include "banned.h"

enum {
	EX_OK = 0,
	EX_FAIL = 1,      /* any other error */
	EX_USAGE = 2,     /* bad command line */
	EX_NOTFOUND = 3,  /* no such object or name */
	EX_NODAEMON = 4,  /* cannot reach vineyardd */
	EX_NOSPACE = 5,   /* the daemon's memory limit is reached */
	EX_TIMEOUT = 6,   /* a wait ran out */
	EX_INUSE = 7,     /* refused: object in use (member of another) */
};

static const char *prog = "vineyardctl";
static const char *opt_socket;
static int opt_json, opt_quiet;

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
};

static int
exit_code(int rc)
{
	switch (rc) {
	case 0: return EX_OK;
	case -ENOENT: return EX_NOTFOUND;
	case -ENOSPC: return EX_NOSPACE;
	case -ETIMEDOUT: return EX_TIMEOUT;
	case -EBUSY: return EX_INUSE;
	case -EINVAL: return EX_USAGE;
	case -ECONNREFUSED: case -ECONNRESET: case -EPIPE: return EX_NODAEMON;
	}
	return EX_FAIL;
}

static int
fail(struct vy_client *c, int rc, const char *what)
{
	const char *msg = c ? vy_errmsg(c) : "";

	fprintf(stderr, "%s: %s%s%s\n", prog, what, *what ? ": " : "",
		*msg ? msg : strerror(-rc));
	return exit_code(rc);
}

static struct vy_client *
connect_or_die(void)
{
	struct vy_client *c;
	char err[600];
	int rc = vy_connect_err(opt_socket, &c, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "%s: %s\n", prog, err);
		exit(rc == -ENOENT || rc == -ECONNREFUSED || rc == -EACCES ?
		     EX_NODAEMON : exit_code(rc));
	}
	return c;
}

/* Seconds from the command line as the library's int milliseconds:
 * clamped, because converting a double beyond INT_MAX is undefined (and
 * came out negative, i.e. no wait at all, for --timeout 1e7). */
static int
seconds_to_ms(double s)
{
	if (!(s > 0))
		return 0;
	if (s >= INT_MAX / 1000.0)
		return INT_MAX;
	return (int)(s * 1000);
}

/* An id, or a name resolved now (waiting up to wait_ms). */
static int
resolve(struct vy_client *c, const char *arg, int wait_ms, vy_id *id)
{
	if (vy_id_parse(arg, id) == 0)
		return 0;
	return vy_name_get(c, arg, wait_ms, id);
}

static void
human(uint64_t v, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.1f %s", d, unit[u]);
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* ---- progress ---- */

struct progress {
	int on;
	const char *what;
	uint64_t total;
	struct timespec t0;
};

static double
since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
progress_init(struct progress *p, const char *what, uint64_t total)
{
	p->on = !opt_quiet && isatty(2) && total >= (64u << 20);
	p->what = what;
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
}

static void
progress_show(struct progress *p, uint64_t done)
{
	char a[32], b[32], r[32];
	double t;
	int pct, i;

	if (!p->on)
		return;
	t = since(&p->t0);
	human(done, a, sizeof(a));
	human(p->total, b, sizeof(b));
	human(t > 0 ? (uint64_t)((double)done / t) : 0, r, sizeof(r));
	pct = p->total ? (int)(done * 100 / p->total) : 100;
	fprintf(stderr, "\r%s [", p->what);
	for (i = 0; i < 30; i++)
		fputc(i < pct * 30 / 100 ? '#' : '.', stderr);
	fprintf(stderr, "] %3d%% %s/%s %s/s ", pct, a, b, r);
	if (done >= p->total)
		fputc('\n', stderr);
}

/* ---- commands ---- */

#define CHUNK (64u << 20)

static int
cmd_put(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "persist", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *path;
	struct vy_client *c;
	struct vy_writer *w;
	struct progress pr;
	struct stat st;
	int persist = 0, fd, rc, ch;
	char idbuf[VY_ID_STRLEN];
	vy_id id = 0;
	uint64_t done = 0;

	while ((ch = getopt_long(argc, argv, "n:p", lo, NULL)) != -1) {
		if (ch == 'n')
			name = optarg;
		else if (ch == 'p')
			persist = 1;
		else
			return EX_USAGE;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: %s put FILE|- [--name NAME] "
			"[--persist]\n", prog);
		return EX_USAGE;
	}
	path = argv[optind];
	if (strcmp(path, "-") == 0) {
		fd = 0;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, path,
				strerror(errno));
			return errno == ENOENT ? EX_NOTFOUND : EX_FAIL;
		}
	}
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: %s: %s\n", prog, path,
			S_ISDIR(st.st_mode) ? "is a directory" :
			strerror(errno));
		return EX_FAIL;
	}
	c = connect_or_die();
	if (!S_ISREG(st.st_mode)) {
		/* A stream of unknown length: gather it, then one put. */
		size_t cap = 1u << 20, len = 0;
		char *buf = malloc(cap);
		ssize_t n;

		while (buf && (n = read(fd, buf + len, cap - len)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				fprintf(stderr, "%s: reading %s: %s\n", prog,
					path, strerror(errno));
				free(buf);
				vy_close(c);
				return EX_FAIL;
			}
			len += (size_t)n;
			if (len == cap) {
				char *nb = realloc(buf, cap * 2);

				if (!nb)
					free(buf);
				buf = nb;
				cap *= 2;
			}
		}
		if (!buf) {
			fprintf(stderr, "%s: out of memory reading %s\n", prog,
				path);
			vy_close(c);
			return EX_FAIL;
		}
		rc = vy_blob_create(c, len, &w);
		if (rc == 0)
			rc = vy_writer_write(w, 0, buf, len);
		free(buf);
	} else {
		progress_init(&pr, path, (uint64_t)st.st_size);
		rc = vy_blob_create(c, (size_t)st.st_size, &w);
		while (rc == 0 && done < (uint64_t)st.st_size) {
			size_t k = (uint64_t)st.st_size - done > CHUNK ? CHUNK :
				   (size_t)((uint64_t)st.st_size - done);

			rc = vy_writer_write_fd(w, (size_t)done, fd, k);
			if (rc == -ENODATA) {
				vy_blob_abort(c, w);
				fprintf(stderr, "%s: %s shrank while being "
					"read\n", prog, path);
				vy_close(c);
				return EX_FAIL;
			}
			done += k;
			progress_show(&pr, done);
		}
		if (st.st_size == 0)
			progress_show(&pr, 0);
	}
	if (fd > 0)
		close(fd);
	if (rc) {
		if (w && rc != -ENOSPC)
			vy_blob_abort(c, w);
		rc = fail(c, rc, "put");
		vy_close(c);
		return rc;
	}
	rc = vy_blob_seal(c, w, &id);
	if (rc) {
		rc = fail(c, rc, "put");
		vy_close(c);
		return rc;
	}
	/* Name and persist are part of the put: if either fails, the blob
	 * goes again rather than staying behind unnamed. */
	if (name)
		rc = vy_name_put(c, name, id);
	if (rc == 0 && persist)
		rc = vy_persist(c, id);
	if (rc) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s", vy_errmsg(c));
		vy_delete(c, &id, 1, 0, NULL);
		fprintf(stderr, "%s: put: %s\n", prog, msg);
		vy_close(c);
		return exit_code(rc);
	}
	vy_id_format(id, idbuf);
	if (opt_json)
		printf("{\"id\": \"%s\"}\n", idbuf);
	else
		printf("%s\n", idbuf);
	vy_close(c);
	return EX_OK;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len > CHUNK ? CHUNK : len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
cmd_get(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = "-";
	struct vy_client *c;
	struct vy_object *o;
	struct progress pr;
	double wait_s = 0;
	int fd = 1, rc, ch;
	vy_id id;
	char tmp[4096];

	while ((ch = getopt_long(argc, argv, "o:w:", lo, NULL)) != -1) {
		if (ch == 'o')
			out = optarg;
		else if (ch == 'w')
			wait_s = atof(optarg);
		else
			return EX_USAGE;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: %s get ID|NAME [-o FILE|-] "
			"[--wait SECONDS]\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	rc = resolve(c, argv[optind], seconds_to_ms(wait_s), &id);
	if (rc == 0)
		rc = vy_get(c, id, &o);
	if (rc) {
		rc = fail(c, rc, argv[optind]);
		vy_close(c);
		return rc;
	}
	if (!vy_object_is_blob(o)) {
		fprintf(stderr, "%s: %s is a %s, not a blob; see '%s meta %s' "
			"for its members\n", prog, argv[optind],
			vy_object_typename(o), prog, argv[optind]);
		vy_object_release(c, o);
		vy_close(c);
		return EX_FAIL;
	}
	if (strcmp(out, "-") != 0) {
		/* Write beside the target, then rename: no half file. */
		snprintf(tmp, sizeof(tmp), "%s.vineyardctl-XXXXXX", out);
		fd = mkstemp(tmp);
		if (fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, out,
				strerror(errno));
			vy_object_release(c, o);
			vy_close(c);
			return EX_FAIL;
		}
	}
	{
		const char *p = vy_object_data(o);
		uint64_t len = vy_object_nbytes(o), done = 0;

		progress_init(&pr, out, len);
		while (rc == 0 && done < len) {
			size_t k = len - done > CHUNK ? CHUNK :
				   (size_t)(len - done);

			rc = write_all(fd, p + done, k);
			done += k;
			progress_show(&pr, done);
		}
	}
	vy_object_release(c, o);
	vy_close(c);
	if (fd != 1) {
		if (rc == 0 && (fsync(fd) < 0 || fchmod(fd, 0644) < 0))
			rc = -errno;
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
		if (rc == 0 && rename(tmp, out) < 0)
			rc = -errno;
		if (rc)
			unlink(tmp);
	}
	if (rc) {
		fprintf(stderr, "%s: writing %s: %s\n", prog, out,
			strerror(-rc));
		return EX_FAIL;
	}
	return EX_OK;
}

struct ls_ctx {
	int n;
};

static int
ls_one(void *ctx, const struct vy_list_entry *e)
{
	struct ls_ctx *l = ctx;
	char idbuf[VY_ID_STRLEN], size[32];
	size_t i;

	vy_id_format(e->id, idbuf);
	if (opt_json) {
		printf("%s\n  {\"id\": \"%s\", \"typename\": ", l->n ? "," : "",
		       idbuf);
		json_str(stdout, e->typename);
		printf(", \"nbytes\": %" PRIu64 ", \"names\": [", e->nbytes);
		for (i = 0; i < e->nnames; i++) {
			if (i)
				printf(", ");
			json_str(stdout, e->names[i]);
		}
		printf("], \"persisted\": %s}", e->persisted ? "true" :
		       "false");
	} else {
		human(e->nbytes, size, sizeof(size));
		printf("%s  %-28s %10s  %-9s ", idbuf, e->typename, size,
		       e->persisted ? "persisted" : "-");
		for (i = 0; i < e->nnames; i++)
			printf("%s%s", i ? "," : "", e->names[i]);
		if (!e->nnames)
			printf("-");
		printf("\n");
	}
	l->n++;
	return 0;
}

static int
cmd_ls(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "type", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *glob = NULL;
	struct ls_ctx l = { 0 };
	struct vy_client *c;
	int rc, ch;

	while ((ch = getopt_long(argc, argv, "t:", lo, NULL)) != -1) {
		if (ch == 't')
			glob = optarg;
		else
			return EX_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s ls [--type GLOB]\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	if (opt_json)
		printf("[");
	else if (!opt_quiet)
		printf("%-17s  %-28s %10s  %-9s %s\n", "ID", "TYPENAME", "SIZE",
		       "PERSISTED", "NAMES");
	rc = vy_list(c, glob, ls_one, &l);
	if (opt_json)
		printf("%s]\n", l.n ? "\n" : "");
	if (rc) {
		rc = fail(c, rc, "ls");
		vy_close(c);
		return rc;
	}
	vy_close(c);
	return EX_OK;
}

static int
cmd_meta(int argc, char **argv)
{
	struct vy_client *c;
	char *json;
	vy_id id;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s meta ID|NAME\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	rc = resolve(c, argv[1], 0, &id);
	if (rc == 0)
		rc = vy_meta_json(c, id, &json);
	if (rc) {
		rc = fail(c, rc, argv[1]);
		vy_close(c);
		return rc;
	}
	fputs(json, stdout);
	free(json);
	vy_close(c);
	return EX_OK;
}

static int
cmd_name(int argc, char **argv)
{
	struct vy_client *c;
	vy_id id;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s name ID|NAME NEWNAME\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	rc = resolve(c, argv[1], 0, &id);
	if (rc == 0)
		rc = vy_name_put(c, argv[2], id);
	if (rc) {
		rc = fail(c, rc, "name");
		vy_close(c);
		return rc;
	}
	vy_close(c);
	return EX_OK;
}

static int
cmd_unname(int argc, char **argv)
{
	struct vy_client *c;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s unname NAME...\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	for (i = 1; i < argc && rc == 0; i++)
		rc = vy_name_drop(c, argv[i]);
	if (rc) {
		rc = fail(c, rc, "unname");
		vy_close(c);
		return rc;
	}
	vy_close(c);
	return EX_OK;
}

static int
cmd_rm(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "shallow", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct vy_client *c;
	vy_id *ids;
	size_t count = 0;
	unsigned flags = 0;
	int i, n, rc = 0, ch;

	while ((ch = getopt_long(argc, argv, "s", lo, NULL)) != -1) {
		if (ch == 's')
			flags |= VY_DELETE_SHALLOW;
		else
			return EX_USAGE;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: %s rm [--shallow] ID|NAME...\n", prog);
		return EX_USAGE;
	}
	n = argc - optind;
	ids = calloc((size_t)n, sizeof(*ids));
	if (!ids)
		return EX_FAIL;
	c = connect_or_die();
	for (i = 0; i < n && rc == 0; i++) {
		rc = resolve(c, argv[optind + i], 0, &ids[i]);
		if (rc) {
			rc = fail(c, rc, argv[optind + i]);
			free(ids);
			vy_close(c);
			return rc;
		}
	}
	rc = vy_delete(c, ids, (size_t)n, flags, &count);
	free(ids);
	if (rc) {
		rc = fail(c, rc, "rm");
		vy_close(c);
		return rc;
	}
	if (opt_json)
		printf("{\"deleted\": %zu}\n", count);
	else if (!opt_quiet && count > (size_t)n)
		fprintf(stderr, "%s: deleted %zu objects (members included)\n",
			prog, count);
	vy_close(c);
	return EX_OK;
}

/* persist and unpersist: argv[0] says which. */
static int
cmd_persist(int argc, char **argv)
{
	int un = strcmp(argv[0], "unpersist") == 0;
	struct vy_client *c;
	vy_id id;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s %s ID|NAME...\n", prog, argv[0]);
		return EX_USAGE;
	}
	c = connect_or_die();
	for (i = 1; i < argc && rc == 0; i++) {
		rc = resolve(c, argv[i], 0, &id);
		if (rc == 0)
			rc = un ? vy_unpersist(c, id) : vy_persist(c, id);
		if (rc)
			rc = fail(c, rc, argv[i]);
	}
	vy_close(c);
	return rc;
}

static int
cmd_wait(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct vy_client *c;
	double t = 60;
	char idbuf[VY_ID_STRLEN];
	vy_id id;
	int rc, ch;

	while ((ch = getopt_long(argc, argv, "t:", lo, NULL)) != -1) {
		if (ch == 't')
			t = atof(optarg);
		else
			return EX_USAGE;
	}
	if (optind + 1 != argc || t < 0) {
		fprintf(stderr, "usage: %s wait NAME [--timeout SECONDS]\n",
			prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	rc = vy_name_get(c, argv[optind], seconds_to_ms(t), &id);
	if (rc) {
		rc = fail(c, rc, argv[optind]);
		vy_close(c);
		return rc;
	}
	vy_id_format(id, idbuf);
	printf("%s\n", idbuf);
	vy_close(c);
	return EX_OK;
}

/* Picks "key": number out of the daemon's status JSON. */
static uint64_t
jnum(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

static void
jstr(const char *json, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	p = strstr(json, pat);
	if (!p) {
		snprintf(out, len, "-");
		return;
	}
	p += strlen(pat);
	e = strchr(p, '"');
	snprintf(out, len, "%.*s", e ? (int)(e - p) : 0, p);
}

static int
cmd_status(int argc, char **argv)
{
	struct vy_client *c;
	char *json, used[32], limit[32], payload[32], huge[32], mnt[256],
		mode[32];
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: %s status\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	rc = vy_status_json(c, &json);
	if (rc) {
		rc = fail(c, rc, "status");
		vy_close(c);
		return rc;
	}
	if (opt_json) {
		fputs(json, stdout);
	} else {
		human(jnum(json, "used_bytes"), used, sizeof(used));
		human(jnum(json, "limit_bytes"), limit, sizeof(limit));
		human(jnum(json, "payload_bytes"), payload, sizeof(payload));
		jstr(json, "huge_pages", huge, sizeof(huge));
		jstr(json, "mount", mnt, sizeof(mnt));
		jstr(json, "fs_mode", mode, sizeof(mode));
		printf("daemon:     pid %" PRIu64 ", up %" PRIu64 " s, socket "
		       "%s\n", jnum(json, "pid"), jnum(json, "uptime_s"),
		       vy_socket_path(c));
		printf("objects:    %" PRIu64 " (%" PRIu64 " blobs, %" PRIu64
		       " names)\n", jnum(json, "objects"), jnum(json, "blobs"),
		       jnum(json, "names"));
		printf("memory:     %s used of %s (%s of data), huge pages "
		       "%s\n", used, limit, payload, huge);
		printf("in flight:  %" PRIu64 " unsealed blobs, %" PRIu64
		       " deleted blobs still mapped\n",
		       jnum(json, "unsealed_blobs"),
		       jnum(json, "deleted_in_use"));
		printf("clients:    %" PRIu64 "\n", jnum(json, "clients"));
		printf("mount:      %s%s%s%s\n", mnt, strcmp(mode, "-") ?
		       " (" : "", strcmp(mode, "-") ? mode : "",
		       strcmp(mode, "-") ? ")" : "");
		{
			uint64_t disk = jnum(json, "disk_bytes");
			uint64_t raw = jnum(json, "disk_raw_bytes");
			char dbuf[32], rbuf[32], dir[512];

			human(disk, dbuf, sizeof(dbuf));
			human(raw, rbuf, sizeof(rbuf));
			jstr(json, "data_dir", dir, sizeof(dir));
			printf("persisted:  %" PRIu64 " objects, %s on disk "
			       "(%s before compression, ratio %.2f), %"
			       PRIu64 " damaged files skipped\n",
			       jnum(json, "persisted_objects"), dbuf, rbuf,
			       disk ? (double)raw / (double)disk : 1.0,
			       jnum(json, "damaged_files"));
			printf("data dir:   %s\n", dir);
		}
	}
	free(json);
	vy_close(c);
	return EX_OK;
}

static const struct cmd cmds[] = {
	{ "put", cmd_put, "FILE|- [--name NAME] [--persist]",
	  "store a file (or stdin) as a blob; prints its id" },
	{ "get", cmd_get, "ID|NAME [-o FILE|-] [--wait SECONDS]",
	  "write a blob's bytes to FILE (default stdout)" },
	{ "ls", cmd_ls, "[--type GLOB]",
	  "list objects: id, typename, size, persisted, names" },
	{ "meta", cmd_meta, "ID|NAME", "print an object's metadata as JSON" },
	{ "name", cmd_name, "ID|NAME NEWNAME",
	  "bind NEWNAME to an object (re-points an existing name)" },
	{ "unname", cmd_unname, "NAME...", "drop names" },
	{ "rm", cmd_rm, "[--shallow] ID|NAME...",
	  "delete objects (and members left unreferenced, unless --shallow)" },
	{ "persist", cmd_persist, "ID|NAME...",
	  "keep objects across daemon restarts (returns once on disk)" },
	{ "unpersist", cmd_persist, "ID|NAME...",
	  "drop objects' persisted copies; they stay in memory" },
	{ "wait", cmd_wait, "NAME [--timeout SECONDS]",
	  "wait for a name to appear; prints its id" },
	{ "status", cmd_status, "", "show the daemon's figures" },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s [--socket PATH] [--json] [-q] COMMAND [ARGS]\n\n"
		"commands:\n", prog);
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-8s %s\n           %s\n", cmds[i].name,
			cmds[i].args, cmds[i].help);
	fprintf(f, "\noptions:\n"
		"  -s, --socket PATH  daemon socket (default: "
		"$VINEYARD_IPC_SOCKET, else %s)\n"
		"  -j, --json         machine-readable output\n"
		"  -q, --quiet        no headers or progress bars\n"
		"  -h, --help         this help; COMMAND --help for one "
		"command\n"
		"  -V, --version      show the version\n\n"
		"Objects are given by id (o + 16 hex digits) or by name.\n"
		"exit status: 0 ok, 1 error, 2 usage, 3 not found, 4 daemon "
		"unreachable,\n5 no space, 6 timed out, 7 in use. See "
		"vineyardctl(1).\n", VY_DEFAULT_SOCKET);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;
	int ch;

	/* Stop at the subcommand: its options are its own. */
	while ((ch = getopt_long(argc, argv, "+s:jqhV", lo, NULL)) != -1) {
		switch (ch) {
		case 's': opt_socket = optarg; break;
		case 'j': opt_json = 1; break;
		case 'q': opt_quiet = 1; break;
		case 'h': usage(stdout); return EX_OK;
		case 'V': printf("vineyardctl %s\n", VY_VERSION); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	for (i = 0; i < NCMDS; i++) {
		if (strcmp(argv[optind], cmds[i].name))
			continue;
		argc -= optind;
		argv += optind;
		if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
				 strcmp(argv[1], "-h") == 0)) {
			printf("usage: %s %s %s\n\n%s\n", prog, cmds[i].name,
			       cmds[i].args, cmds[i].help);
			return EX_OK;
		}
		optind = 0; /* 0, not 1: makes glibc reinitialise getopt */
		return cmds[i].fn(argc, argv);
	}
	fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", prog,
		argv[optind], prog);
	return EX_USAGE;
}
