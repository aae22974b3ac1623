/*
 * streamtool: a byte stream through libvineyard's vy_stream_* calls, for
 * tests/bats/70-streams.bats.
 *
 *   streamtool write NAME CHUNK [--mmap] [--hang-after K] [--timeout MS]
 *                    [--readers N]
 *       stdin into a new stream NAME in chunks of CHUNK bytes (the last
 *       may be shorter), then finish. --mmap fills chunks through
 *       vy_stream_next_chunk's mapping instead of vy_stream_write;
 *       --hang-after K stops after K chunks and sleeps (to be killed);
 *       --readers N waits (at most 30 s) until N readers opened it.
 *   streamtool read NAME [--delay-ms D] [--go FILE] [--wait MS]
 *       every chunk to stdout until the end; waits D ms after each chunk;
 *       with --go, after the first chunk waits (at most 60 s) until FILE
 *       exists. Prints "chunks=N" on stderr at the end.
 *   streamtool info NAME
 *       prints the stream's state=, readers= and appended= (vy_stream_info).
 *
 * Exit: 0 ok, 6 timed out, 5 the stream failed (its sentence on stderr),
 * 9 permission denied, 1 otherwise.
 */
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "helpers.h"

static int
code(struct vy_client *c, int rc, const char *what)
{
	fprintf(stderr, "streamtool: %s: %s (%d)\n", what, vy_errmsg(c), rc);
	return rc == -ETIMEDOUT ? 6 : rc == -EIO ? 5 : rc == -EACCES ? 9 : 1;
}

static size_t
read_full(char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(0, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static int
do_write(struct vy_client *c, int argc, char **argv)
{
	size_t chunk = strtoull(argv[3], NULL, 0), n;
	long hang = -1, k = 0, readers = 0;
	int mmap_ = 0, timeout = 30000, rc, i;
	struct vy_stream *s;
	char *buf;
	vy_id id;

	for (i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--mmap") == 0)
			mmap_ = 1;
		else if (strcmp(argv[i], "--hang-after") == 0 && i + 1 < argc)
			hang = atol(argv[++i]);
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else if (strcmp(argv[i], "--readers") == 0 && i + 1 < argc)
			readers = atol(argv[++i]);
		else
			die("bad option %s", argv[i]);
	}
	if (!chunk || !(buf = malloc(chunk)))
		die("bad chunk size");
	if ((rc = vy_stream_create(c, VY_STREAM_BYTES, 0, argv[2], &id)))
		return code(c, rc, "create");
	if ((rc = vy_stream_open_writer(c, id, NULL, 0, &s)))
		return code(c, rc, "open_writer");
	for (i = 0; readers; i++) {
		struct vy_stream_info si;

		if ((rc = vy_stream_info(c, id, NULL, &si)))
			return code(c, rc, "info");
		if ((long)si.readers >= readers)
			break;
		if (i == 3000)
			die("%ld readers did not come", readers);
		usleep(10000);
	}
	while ((n = read_full(buf, chunk)) > 0) {
		if (mmap_) {
			void *p;

			rc = vy_stream_next_chunk(c, s, n, timeout, &p);
			if (rc == 0) {
				memcpy(p, buf, n);
				rc = vy_stream_append(c, s, 0, timeout);
			}
		} else {
			rc = vy_stream_write(c, s, buf, n, timeout);
		}
		if (rc)
			return code(c, rc, "write");
		if (++k == hang) {
			printf("hanging\n");
			fflush(stdout);
			for (i = 0; i < 600; i++)
				sleep(1);
			die("not killed");
		}
		if (n < chunk)
			break;
	}
	if ((rc = vy_stream_finish(c, s)))
		return code(c, rc, "finish");
	vy_stream_close(c, s);
	free(buf);
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
do_read(struct vy_client *c, int argc, char **argv)
{
	const char *go = NULL;
	long delay = 0, chunks = 0;
	int wait = 30000, rc, i;
	struct vy_stream *s;
	struct vy_object *o;
	struct stat st;

	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
			delay = atol(argv[++i]);
		else if (strcmp(argv[i], "--go") == 0 && i + 1 < argc)
			go = argv[++i];
		else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc)
			wait = atoi(argv[++i]);
		else
			die("bad option %s", argv[i]);
	}
	if ((rc = vy_stream_open_reader(c, 0, argv[2], wait, &s)))
		return code(c, rc, "open_reader");
	fprintf(stderr, "streamtool: reading\n");
	for (;;) {
		const char *p;
		size_t len;

		rc = vy_stream_read(c, s, wait, &o);
		if (rc) {
			rc = code(c, rc, "read");
			vy_stream_close(c, s); /* no leak for LeakSanitizer */
			return rc;
		}
		if (!o)
			break;
		p = vy_object_data(o);
		len = vy_object_nbytes(o);
		while (len) {
			ssize_t n = write(1, p, len);

			if (n <= 0)
				die("write: %s", strerror(errno));
			p += n;
			len -= (size_t)n;
		}
		vy_object_release(c, o);
		chunks++;
		if (go && chunks == 1)
			for (i = 0; i < 600 && stat(go, &st) < 0; i++)
				sleep_ms(100);
		if (delay)
			sleep_ms(delay);
	}
	vy_stream_close(c, s);
	fprintf(stderr, "chunks=%ld\n", chunks);
	return 0;
}

static int
do_info(struct vy_client *c, const char *name)
{
	struct vy_stream_info si;
	int rc;

	if ((rc = vy_stream_info(c, 0, name, &si)))
		return code(c, rc, "info");
	printf("state=%d\nreaders=%" PRIu64 "\nappended=%" PRIu64 "\n",
	       (int)si.state, (uint64_t)si.readers, (uint64_t)si.appended);
	return 0;
}

int
main(int argc, char **argv)
{
	struct vy_client *c;
	int rc;

	if (argc < 3 || (strcmp(argv[1], "write") == 0 && argc < 4))
		die("usage: streamtool write NAME CHUNK [...] | read NAME "
		    "[...] | info NAME");
	c = must_connect();
	if (strcmp(argv[1], "write") == 0)
		rc = do_write(c, argc, argv);
	else if (strcmp(argv[1], "read") == 0)
		rc = do_read(c, argc, argv);
	else if (strcmp(argv[1], "info") == 0)
		rc = do_info(c, argv[2]);
	else
		die("unknown mode %s", argv[1]);
	vy_close(c);
	return rc;
}
