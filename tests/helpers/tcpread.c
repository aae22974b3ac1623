/*
 * tcpread: reads a blob over the TCP front the ways libvineyard offers
 * (vy_blob_read, vy_blob_read_pieces, vy_get's copy) and checks the bytes
 * against a file, for 61-tcp.bats. Each read keeps several requests in
 * flight; after a short, failed or stopped read the same connection must
 * still be in step, which every mode checks with a one-byte read after.
 *
 *   tcpread PORT ID check FILE CAP   every way, pieces of CAP bytes
 *   tcpread PORT ID range FILE OFF LEN   vy_blob_read of a range (past
 *                                    the end: fewer bytes, not an error)
 *   tcpread PORT ID stop CAP N       the function refuses the N-th piece
 *   tcpread PORT ID slow CAP MS      a piece every MS ms; prints "piece"
 *                                    after the first, then the outcome
 *   tcpread PORT ID quit CAP         exits after the first piece, the
 *                                    rest of the reply left unread
 */
#include <inttypes.h>
#include <time.h>

#include "helpers.h"

static uint8_t *want;
static size_t want_len;

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	size_t cap = 0, n = 0, k;

	if (!f)
		die("%s: %s", path, strerror(errno));
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			if (!(p = realloc(p, cap)))
				die("out of memory");
		}
		k = fread(p + n, 1, cap - n, f);
		n += k;
	} while (k);
	fclose(f);
	*len = n;
	return p;
}

struct seen {
	uint64_t at;     /* bytes handed over so far */
	uint64_t pieces;
	uint64_t stop_at;  /* refuse this piece (1-based); 0: never */
	unsigned sleep_ms;
	int quit;
	int bad;
};

static int
take(void *arg, const void *data, size_t n)
{
	struct seen *s = arg;

	s->pieces++;
	if (s->stop_at && s->pieces == s->stop_at)
		return 7;
	if (s->at + n > want_len || memcmp(data, want + s->at, n) != 0)
		s->bad = 1;
	s->at += n;
	if (s->quit)
		_exit(0);	/* the rest stays unread on the socket */
	if (s->sleep_ms) {
		struct timespec ts = { (time_t)(s->sleep_ms / 1000),
				       (long)(s->sleep_ms % 1000) * 1000000L };

		if (s->pieces == 1) {
			printf("piece\n");
			fflush(stdout);
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* The connection is still in step: one byte of the blob reads back. */
static void
in_step(struct vy_client *c, vy_id id)
{
	uint8_t b;
	size_t got;

	if (vy_blob_read(c, id, 0, &b, 1, &got))
		die("read after: %s", vy_errmsg(c));
	if (want_len && (got != 1 || b != want[0]))
		die("read after: got %zu bytes", got);
	printf("in_step=1\n");
}

int
main(int argc, char **argv)
{
	struct vy_client *c;
	struct seen s = { 0 };
	char err[256];
	uint64_t got64;
	size_t cap, got;
	uint8_t *buf = NULL;
	uint8_t *file = NULL;
	vy_id id;
	int rc;

	if (argc < 5)
		die("usage: tcpread PORT ID check|range|stop|slow|quit ...");
	if (vy_id_parse(argv[2], &id))
		die("bad id %s", argv[2]);
	if (vy_connect_tcp("127.0.0.1", (unsigned)atoi(argv[1]), NULL, &c,
			   err, sizeof(err)))
		die("connect: %s", err);
	if (!strcmp(argv[3], "check") && argc == 6) {
		struct vy_object *o;

		file = want = slurp(argv[4], &want_len);
		cap = strtoull(argv[5], NULL, 10);
		if (!(buf = malloc(want_len + 1)))
			die("out of memory");
		if ((rc = vy_blob_read(c, id, 0, buf, want_len + 1, &got)))
			die("vy_blob_read: %s", vy_errmsg(c));
		if (got != want_len || memcmp(buf, want, want_len))
			die("vy_blob_read: %zu bytes, not the file's %zu", got,
			    want_len);
		if (!(buf = realloc(buf, cap)))
			die("out of memory");
		if ((rc = vy_blob_read_pieces(c, id, 0, want_len + 100, buf, cap,
					      take, &s, &got64)))
			die("vy_blob_read_pieces: %s", vy_errmsg(c));
		if (s.bad || got64 != want_len || s.at != want_len)
			die("pieces: %" PRIu64 " bytes, bad %d", got64, s.bad);
		if ((rc = vy_get(c, id, &o)))
			die("vy_get: %s", vy_errmsg(c));
		if (vy_object_nbytes(o) != want_len ||
		    (want_len && memcmp(vy_object_data(o), want, want_len)))
			die("vy_get: the bytes differ");
		vy_object_release(c, o);
		printf("bytes=%zu pieces=%" PRIu64 "\n", want_len, s.pieces);
		in_step(c, id);
	} else if (!strcmp(argv[3], "range") && argc == 7) {
		uint64_t off = strtoull(argv[5], NULL, 10);
		size_t len = strtoull(argv[6], NULL, 10);

		file = want = slurp(argv[4], &want_len);
		if (!(buf = malloc(len + 1)))
			die("out of memory");
		if ((rc = vy_blob_read(c, id, off, buf, len, &got)))
			die("vy_blob_read: %s", vy_errmsg(c));
		if (got && (off + got > want_len ||
			    memcmp(buf, want + off, got)))
			die("range: the bytes differ");
		printf("got=%zu\n", got);
		in_step(c, id);
	} else if (!strcmp(argv[3], "stop") && argc == 6) {
		cap = strtoull(argv[4], NULL, 10);
		s.stop_at = strtoull(argv[5], NULL, 10);
		if (!(buf = malloc(cap)))
			die("out of memory");
		rc = vy_blob_read_pieces(c, id, 0, UINT64_MAX / 2, buf, cap,
					 take, &s, &got64);
		printf("rc=%d got=%" PRIu64 "\n", rc, got64);
		in_step(c, id);
	} else if (!strcmp(argv[3], "slow") && argc == 6) {
		cap = strtoull(argv[4], NULL, 10);
		s.sleep_ms = (unsigned)atoi(argv[5]);
		if (!(buf = malloc(cap)))
			die("out of memory");
		rc = vy_blob_read_pieces(c, id, 0, UINT64_MAX / 2, buf, cap,
					 take, &s, &got64);
		printf("rc=%d got=%" PRIu64 " err=%s\n", rc, got64,
		       vy_errmsg(c));
		/* the connection still answers, in step */
		{
			struct vy_status *st;

			rc = vy_status(c, &st);
			printf("status=%d\n", rc);
			if (!rc)
				free(st);
		}
	} else if (!strcmp(argv[3], "quit") && argc == 5) {
		cap = strtoull(argv[4], NULL, 10);
		s.quit = 1;
		if (!(buf = malloc(cap)))
			die("out of memory");
		vy_blob_read_pieces(c, id, 0, UINT64_MAX / 2, buf, cap, take,
				    &s, &got64);
		die("quit: the read ended before a piece came");
	} else {
		die("bad arguments");
	}
	free(buf);
	free(file);
	vy_close(c);
	return 0;
}
