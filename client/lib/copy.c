/*
 * copy: blob bytes by copy, for TCP clients (vy_connect_tcp) that cannot
 * map the daemon's memory: puts in chunks of up to PROTO_MAX_COPY, and
 * ranged reads. The daemon answers these on its UNIX socket too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "client_int.h"
#include "banned.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Copies of 2 MiB and more get memory of their own, advised for huge pages
 * and faulted in whole before the bytes arrive: on virtual machines a
 * fault per 4 KiB page taken inside recv() cost more than the transfer
 * (256 MiB: ~4 s against ~0.05 s populated in 2 MiB pages). */
#define COPY_MAP_MIN (2u << 20)

void *
vy__copy_alloc(size_t len)
{
	void *p;

	if (len < COPY_MAP_MIN)
		return malloc(len ? len : 1);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* both advisory: without them the pages fault in as they fill */
	madvise(p, len, MADV_HUGEPAGE);
	madvise(p, len, MADV_POPULATE_WRITE);
	return p;
}

void
vy__copy_free(void *p, size_t len)
{
	if (!p)
		return;
	if (len < COPY_MAP_MIN)
		free(p);
	else
		munmap(p, len);
}

VY_API int
vy_is_tcp(const struct vy_client *c)
{
	return c->tcp;
}

/* vy_put_blob for a TCP client. Lock held. */
int
vy__put_copy(struct vy_client *c, const void *data, size_t len, vy_id *id)
{
	struct vy_reply rep;
	struct cr r;
	uint64_t got = 0, off = 0;
	size_t n, k;
	int rc, last;

	do {
		k = len - off > PROTO_MAX_COPY ? PROTO_MAX_COPY : len - off;
		last = off + k == len;
		vy__req(c);
		cw_array(&c->req, 5);
		cw_uint(&c->req, got);
		cw_uint(&c->req, len);
		cw_uint(&c->req, off);
		cw_bytes(&c->req, (const uint8_t *)data + off, k);
		cw_bool(&c->req, last);
		if ((rc = vy__rt(c, MSG_BLOB_WRITE, 0, &rep)))
			return rc;
		cr_init(&r, rep.body, rep.len);
		if (cr_array(&r, &n) || n != 1 || cr_uint(&r, &got) || !got) {
			c->broken = 1;
			return vy__fail(c, -EPROTO, "malformed blob-write reply");
		}
		off += k;
	} while (!last);
	*id = got;
	return 0;
}

/* How many bytes of blob-read requests a read keeps asked for beyond the
 * piece it is receiving, and at most how many requests: the daemon starts
 * on the next piece while this one is still on its way, so the connection
 * never idles for a round trip between pieces. */
#define READ_AHEAD_BYTES (16u << 20)
#define READ_AHEAD_MAX 8

static void
send_read(struct vy_client *c, vy_id id, uint64_t off, size_t k, int *rc)
{
	vy__req(c);
	cw_array(&c->req, 3);
	cw_uint(&c->req, id);
	cw_uint(&c->req, off);
	cw_uint(&c->req, k);
	*rc = vy__send(c, MSG_BLOB_READ, 0);
}

/* One blob-read reply into buf (up to k bytes); its length in *l. With
 * buf NULL the reply is read and dropped, whatever it says. */
static int
recv_read(struct vy_client *c, uint8_t *buf, size_t k, int exact, size_t *l)
{
	struct vy_reply rep;
	const void *p;
	struct cr r;
	size_t n;
	int rc;

	c->sink = buf;
	c->sink_cap = k;
	c->sunk = 0;
	rc = vy__recv(c, MSG_BLOB_READ, exact, &rep);
	c->sink = NULL;
	if (rc || !buf)
		return rc;
	if (c->sunk) {
		/* the bytes went straight into buf */
		*l = c->sunk;
		return 0;
	}
	cr_init(&r, rep.body, rep.len);
	if (cr_array(&r, &n) || n != 1 || cr_bytes(&r, &p, l) || *l > k)
		return vy__malformed(c, "blob-read");
	memcpy(buf, p, *l);
	return 0;
}

/* The bytes [off, off + len) of blob id in pieces of up to piece bytes,
 * the next ones asked for before the first arrives. Each lands at buf +
 * (advance ? bytes so far : 0); fn, when not NULL, is called after each.
 * The daemon answers in order; after a short piece (the blob's end), an
 * error or fn's refusal, the replies still on their way are read and
 * dropped, keeping the stream in step, and the first error is the one
 * reported. Lock held. */
static int
read_pieces(struct vy_client *c, vy_id id, uint64_t off, uint64_t len,
	    uint8_t *buf, size_t piece, int advance,
	    int (*fn)(void *, const void *, size_t), void *arg, uint64_t *got)
{
	uint64_t done = 0, asked = 0;
	size_t want[READ_AHEAD_MAX], l, k;
	int rc = 0, stop = 0, head = 0, nin = 0, depth, e;
	char err[sizeof(c->err)] = "";

	if (piece > PROTO_MAX_COPY)
		piece = PROTO_MAX_COPY;
	depth = 1 + (int)(READ_AHEAD_BYTES / piece);
	if (depth > READ_AHEAD_MAX)
		depth = READ_AHEAD_MAX;
	for (;;) {
		while (!stop && nin < depth && asked < len) {
			k = len - asked > piece ? piece : (size_t)(len - asked);
			send_read(c, id, off + asked, k, &e);
			if (e) {
				rc = e;
				stop = 1;
				snprintf(err, sizeof(err), "%s", c->err);
				break;
			}
			want[(head + nin++) % READ_AHEAD_MAX] = k;
			asked += k;
		}
		if (!nin || c->broken)
			break;
		k = want[head];
		head = (head + 1) % READ_AHEAD_MAX;
		nin--;
		l = 0;
		e = recv_read(c, stop ? NULL : buf + (advance ? done : 0), k,
			      nin > 0, &l);
		if (stop)
			continue;
		if (!e && fn && l)
			e = fn(arg, buf + (advance ? done : 0), l);
		if (e) {
			rc = e;
			stop = 1;
			snprintf(err, sizeof(err), "%s", c->err);
			continue;
		}
		done += l;
		if (l < k)
			stop = 1;	/* the blob's end */
	}
	if (rc && !c->broken)
		snprintf(c->err, sizeof(c->err), "%s", err);
	if (got)
		*got = done;
	return rc;
}

/* vy_blob_read with the lock held. */
int
vy__read_copy(struct vy_client *c, vy_id id, uint64_t off, void *buf,
	      size_t len, size_t *got)
{
	uint64_t n = 0;
	int rc = read_pieces(c, id, off, len, buf, PROTO_MAX_COPY, 1, NULL,
			     NULL, &n);

	if (got)
		*got = (size_t)n;
	return rc;
}

VY_API int
vy_blob_read_pieces(struct vy_client *c, vy_id id, uint64_t off,
		    uint64_t len, void *buf, size_t cap,
		    int (*fn)(void *arg, const void *data, size_t n),
		    void *arg, uint64_t *got)
{
	int rc = vy__enter(c);

	if (got)
		*got = 0;
	if (rc)
		return rc;
	if (!buf || !cap || !fn)
		rc = vy__fail(c, -EINVAL, "vy_blob_read_pieces: a buffer of "
			      "at least one byte and a function are needed");
	else
		rc = read_pieces(c, id, off, len, buf, cap, 0, fn, arg, got);
	vy__leave(c);
	return rc;
}

VY_API int
vy_blob_read(struct vy_client *c, vy_id id, uint64_t off, void *buf,
	     size_t len, size_t *got)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	rc = vy__read_copy(c, id, off, buf, len, got);
	vy__leave(c);
	return rc;
}
