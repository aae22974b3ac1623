/*
 * ctl_stream: the stream side of `vineyardctl put --stream` (stdin or a
 * file into a byte stream, chunk by chunk as the bytes come, returning at
 * the end of the input) and `vineyardctl get --follow` (a stream's chunks
 * to stdout or a file as they are sealed, until the stream ends).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "banned.h"

/* A chunk goes once full, or once the input has been quiet this long:
 * a slow producer's lines reach readers without waiting for 4 MiB. */
#define QUIET_MS 50

static int
flush_chunk(struct vy_client *c, struct vy_stream *s, const char *buf,
	    size_t *len, int timeout_ms)
{
	int rc;

	if (*len == 0)
		return 0;
	rc = vy_stream_write(c, s, buf, *len, timeout_ms);
	*len = 0;
	return rc;
}

/* Waits (polling, up to timeout_ms; < 0 without end) until n readers
 * have the stream open: a fan-out where no reader may miss a chunk. */
static int
wait_readers(struct vy_client *c, vy_id id, unsigned n, int timeout_ms)
{
	struct vy_stream_info si;
	struct timespec t0, now, nap = { 0, 20 * 1000000L };
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if ((rc = vy_stream_info(c, id, NULL, &si)))
			return rc;
		if (si.readers >= n)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout_ms >= 0 && (now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms) {
			fprintf(stderr, "%s: put --stream: %u reader%s did not "
				"open the stream within %d ms (%" PRIu64
				" did)\n", prog, n, n == 1 ? "" : "s",
				timeout_ms, si.readers);
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
	}
}

int
put_stream(const char *path, const char *name, size_t chunk, int timeout_ms,
	   unsigned readers, unsigned mode)
{
	struct vy_client *c;
	struct vy_stream *s = NULL;
	char idbuf[VY_ID_STRLEN], why[200];
	size_t len = 0;
	char *buf;
	vy_id id;
	int fd = 0, rc;

	if (strcmp(path, "-") != 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, path,
				strerror(errno));
			return errno == ENOENT ? EX_NOTFOUND : EX_FAIL;
		}
	}
	buf = malloc(chunk);
	if (!buf) {
		fprintf(stderr, "%s: out of memory for a chunk of %zu bytes\n",
			prog, chunk);
		return EX_FAIL;
	}
	c = connect_or_die();
	rc = vy_set_mode(c, mode); /* the stream's and its chunks' */
	if (rc == 0)
		rc = vy_stream_create(c, VY_STREAM_BYTES, 0, name, &id);
	if (rc == 0)
		rc = vy_stream_open_writer(c, id, NULL, 0, &s);
	if (rc) {
		free(buf);
		return finish(c, rc, "put --stream");
	}
	/* The id first: a reader may start on it while the input runs. */
	vy_id_format(id, idbuf);
	if (!opt_quiet && !opt_json)
		fprintf(stderr, "%s: stream %s\n", prog, idbuf);
	if (readers && (rc = wait_readers(c, id, readers, timeout_ms))) {
		vy_stream_fail(c, s, "its readers did not come");
		vy_stream_close(c, s);
		free(buf);
		vy_close(c);
		return exit_code(rc);
	}
	for (;;) {
		ssize_t n;

		if (len > 0 && len < chunk) {
			struct pollfd p = { fd, POLLIN, 0 };

			if (poll(&p, 1, QUIET_MS) == 0) {
				rc = flush_chunk(c, s, buf, &len, timeout_ms);
				if (rc)
					break;
			}
		}
		n = read(fd, buf + len, chunk - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, sizeof(why), "reading %s: %s", path,
				 strerror(errno));
			fprintf(stderr, "%s: %s\n", prog, why);
			vy_stream_fail(c, s, why);
			vy_stream_close(c, s);
			free(buf);
			vy_close(c);
			return EX_FAIL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == chunk && (rc = flush_chunk(c, s, buf, &len,
						      timeout_ms)))
			break;
	}
	if (rc == 0)
		rc = flush_chunk(c, s, buf, &len, timeout_ms);
	free(buf);
	if (fd > 0)
		close(fd);
	if (rc) {
		/* The library's sentence before the fail overwrites it. */
		rc = fail(c, rc, "put --stream");
		vy_stream_fail(c, s, "the writer gave up (see its error)");
		vy_stream_close(c, s);
		vy_close(c);
		return rc;
	}
	rc = vy_stream_finish(c, s);
	vy_stream_close(c, s);
	if (rc)
		return finish(c, rc, "put --stream");
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

int
get_follow(const char *arg, const char *out, int wait_ms)
{
	struct vy_client *c;
	struct vy_stream *s;
	struct vy_object *o;
	vy_id id = 0;
	int fd = 1, rc, is_id;

	is_id = vy_id_parse(arg, &id) == 0;
	c = connect_or_die();
	rc = vy_stream_open_reader(c, id, is_id ? NULL : arg, wait_ms, &s);
	if (rc)
		return finish(c, rc, arg);
	if (strcmp(out, "-") != 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, out,
				strerror(errno));
			vy_stream_close(c, s);
			vy_close(c);
			return EX_FAIL;
		}
	}
	for (;;) {
		rc = vy_stream_read(c, s, wait_ms, &o);
		if (rc || !o)
			break;
		if (vy_object_is_blob(o)) {
			rc = write_all(fd, vy_object_data(o),
				       vy_object_nbytes(o));
		} else {
			/* an object stream: one chunk id a line */
			char line[VY_ID_STRLEN + 1];
			size_t k;

			vy_id_format(vy_object_id(o), line);
			k = strlen(line);
			line[k++] = '\n';
			rc = write_all(fd, line, k);
		}
		vy_object_release(c, o);
		if (rc) {
			fprintf(stderr, "%s: writing %s: %s\n", prog,
				strcmp(out, "-") ? out : "stdout",
				strerror(-rc));
			vy_stream_close(c, s);
			vy_close(c);
			return EX_FAIL;
		}
	}
	if (fd > 1 && close(fd) < 0 && rc == 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, out, strerror(errno));
		rc = -EIO;
	}
	if (rc) {
		rc = fail(c, rc, arg);
		vy_stream_close(c, s);
		vy_close(c);
		return rc;
	}
	vy_stream_close(c, s);
	vy_close(c);
	return EX_OK;
}
