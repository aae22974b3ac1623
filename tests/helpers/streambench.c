/*
 * streambench: the two sides of tests/bench/b70-streams.sh, a byte stream
 * against a plain pipe with the same sizes and the same work per byte.
 *
 *   streambench pipe-write BYTES CHUNK      BYTES to stdout in CHUNK writes
 *   streambench pipe-read CHUNK             stdin in CHUNK reads
 *   streambench stream-write NAME BYTES CHUNK [READERS]
 *       a new byte stream NAME of BYTES in chunks of CHUNK, each filled in
 *       place (vy_stream_next_chunk), after READERS readers opened it
 *   streambench stream-read NAME            every chunk, mapped
 *
 * Writers fill each chunk from one buffer made up front; readers sum
 * every 8-byte word they get (so both read every byte) and print
 * "bytes=N sum=X" on stderr; the script compares the pairs' output.
 */
#include <inttypes.h>

#include "helpers.h"

static uint64_t
sum_words(const void *p, size_t len)
{
	const uint64_t *w = p;
	uint64_t s = 0;
	size_t i;

	for (i = 0; i < len / 8; i++)
		s += w[i];
	return s;
}

static char *
pattern(size_t chunk)
{
	char *buf = malloc(chunk);
	size_t i;

	if (!buf)
		die("out of memory");
	for (i = 0; i < chunk; i++)
		buf[i] = (char)(i * 131 + 7);
	return buf;
}

static int
pipe_write(uint64_t bytes, size_t chunk)
{
	char *buf = pattern(chunk);
	uint64_t done = 0;

	while (done < bytes) {
		size_t k = bytes - done < chunk ? (size_t)(bytes - done) : chunk;
		size_t off = 0;

		while (off < k) {
			ssize_t n = write(1, buf + off, k - off);

			if (n <= 0)
				die("write: %s", strerror(errno));
			off += (size_t)n;
		}
		done += k;
	}
	free(buf);
	return 0;
}

static int
pipe_read(size_t chunk)
{
	char *buf = malloc(chunk);
	uint64_t total = 0, sum = 0;

	if (!buf)
		die("out of memory");
	for (;;) {
		size_t got = 0;
		ssize_t n = 0;

		/* whole chunks, as a stream reader gets them */
		while (got < chunk && (n = read(0, buf + got, chunk - got)) > 0)
			got += (size_t)n;
		if (n < 0)
			die("read: %s", strerror(errno));
		sum += sum_words(buf, got);
		total += got;
		if (got < chunk)
			break;
	}
	fprintf(stderr, "bytes=%" PRIu64 " sum=%016" PRIx64 "\n", total, sum);
	free(buf);
	return 0;
}

static int
stream_write(const char *name, uint64_t bytes, size_t chunk, long readers)
{
	struct vy_client *c = must_connect();
	struct vy_stream *s;
	char *buf = pattern(chunk);
	uint64_t done = 0;
	vy_id id;
	int rc, i;

	if ((rc = vy_stream_create(c, VY_STREAM_BYTES, 0, name, &id)) ||
	    (rc = vy_stream_open_writer(c, id, NULL, 0, &s)))
		die("stream: %s", vy_errmsg(c));
	for (i = 0; readers; i++) {
		struct vy_stream_info si;

		if (vy_stream_info(c, id, NULL, &si))
			die("info: %s", vy_errmsg(c));
		if ((long)si.readers >= readers)
			break;
		if (i == 3000)
			die("readers did not come");
		usleep(10000);
	}
	while (done < bytes) {
		size_t k = bytes - done < chunk ? (size_t)(bytes - done) : chunk;
		void *p;

		if ((rc = vy_stream_next_chunk(c, s, k, 60000, &p)))
			die("next_chunk: %s", vy_errmsg(c));
		memcpy(p, buf, k);
		if ((rc = vy_stream_append(c, s, 0, 60000)))
			die("append: %s", vy_errmsg(c));
		done += k;
	}
	if (vy_stream_finish(c, s))
		die("finish: %s", vy_errmsg(c));
	vy_stream_close(c, s);
	vy_close(c);
	free(buf);
	return 0;
}

static int
stream_read(const char *name)
{
	struct vy_client *c = must_connect();
	struct vy_stream *s;
	struct vy_object *o;
	uint64_t total = 0, sum = 0;

	if (vy_stream_open_reader(c, 0, name, 30000, &s))
		die("open_reader: %s", vy_errmsg(c));
	for (;;) {
		if (vy_stream_read(c, s, 60000, &o))
			die("read: %s", vy_errmsg(c));
		if (!o)
			break;
		sum += sum_words(vy_object_data(o), vy_object_nbytes(o));
		total += vy_object_nbytes(o);
		vy_object_release(c, o);
	}
	vy_stream_close(c, s);
	vy_close(c);
	fprintf(stderr, "bytes=%" PRIu64 " sum=%016" PRIx64 "\n", total, sum);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "pipe-write") == 0)
		return pipe_write(strtoull(argv[2], NULL, 0),
				  strtoull(argv[3], NULL, 0));
	if (argc == 3 && strcmp(argv[1], "pipe-read") == 0)
		return pipe_read(strtoull(argv[2], NULL, 0));
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "stream-write") == 0)
		return stream_write(argv[2], strtoull(argv[3], NULL, 0),
				    strtoull(argv[4], NULL, 0),
				    argc == 6 ? atol(argv[5]) : 0);
	if (argc == 3 && strcmp(argv[1], "stream-read") == 0)
		return stream_read(argv[2]);
	die("usage: streambench pipe-write BYTES CHUNK | pipe-read CHUNK | "
	    "stream-write NAME BYTES CHUNK [READERS] | stream-read NAME");
}
