/*
 * server_blobmap: a large blob's bytes sent by copy (the TCP front's
 * blob-read, a fetching daemon's blob-chunk) from a read-only mapping of
 * its memfd, which the connection keeps while the blob's reads go on: a
 * client reads a blob in pieces, the next ones already asked for.
 *
 * Why not sendfile: on this VM a 256 MiB get ran at a median of 0.70 x
 * a plain TCP copy with sendfile (0.53-1.17 over ten runs) and 0.90 x
 * from the mapping (0.79-1.18; README, b60), for about the same CPU. The
 * likely reason: with sendfile the socket holds references to the blob's
 * pages and the receiver copies from memory no CPU has just touched;
 * copied from a mapping (huge pages on huge page-table entries), the
 * bytes reach the receiver from the cache the daemon's copy left them in.
 * A mapping per piece lost the gain to mmap, populate and munmap (a TLB
 * shootdown across the daemon's threads, ~0.2 ms per 4 MiB piece): hence
 * one kept per blob.
 *
 * Lifetime: the queued rest of a reply holds a reference on the mapping,
 * so the bytes stay whatever happens to the blob meanwhile (the memfd is
 * size-sealed: the mapping cannot fault past its end). The connection's
 * own reference goes when it has sent everything and has no request left
 * (conn_process), when it reads another blob, and at close: a mapping
 * never holds a deleted blob's memory past the reads in progress.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arena.h"
#include "fdpass.h"
#include "server_int.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

struct blobmap {
	int refs;
	uint64_t id;
	uint8_t *p;        /* the blob's byte 0 */
	size_t len;        /* bytes mapped: the blob's */
};

void
blobmap_put(struct blobmap *m)
{
	if (!m || --m->refs > 0)
		return;
	munmap(m->p, m->len);
	free(m);
}

/* The pages of p[0, len) in one call rather than a fault each inside
 * sendmsg; advisory (before Linux 5.14 they fault in as they are read). */
static void
populate(const uint8_t *p, size_t len)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	uintptr_t a = (uintptr_t)p & ~pg, e = ((uintptr_t)p + len + pg) & ~pg;

	madvise((void *)a, e - a, MADV_POPULATE_READ);
}

const uint8_t *
blobmap_get(struct conn *c, const struct store_blobref *b, uint64_t off,
	    size_t len)
{
	struct blobmap *m = c->map;
	void *p;

	if (b->kind != BLOB_KIND_MEMFD || !len || off > b->len ||
	    len > b->len - off || b->len > SIZE_MAX)
		return NULL;
	/* an id names the same bytes for ever: objects never change */
	if (!m || m->id != b->id || m->len != b->len) {
		if (!(p = arena_map_ro(b->fd, (size_t)b->len)))
			return NULL;
		blobmap_put(m);
		m = xcalloc(1, sizeof(*m));
		m->refs = 1;
		m->id = b->id;
		m->p = p;
		m->len = (size_t)b->len;
		c->map = m;
	}
	populate(m->p + off, len);
	return m->p + off;
}

int
conn_send_blob(struct conn *c, const uint8_t *buf, size_t blen,
	       const struct store_blobref *b, uint64_t off, size_t len)
{
	const uint8_t *p;
	struct chunk *k;
	ssize_t n = 0;

	if (c->quiet)
		return 0;
	if (!(p = blobmap_get(c, b, off, len)))
		return conn_send_file(c, buf, blen, b->fd, off, len);
	if (!c->out) {
		/* the reply's head and the bytes in one call */
		struct iovec iov[2] = {
			{ (void *)(uintptr_t)buf, blen },
			{ (void *)(uintptr_t)p, len },
		};

		n = fdpass_sendv(c->fd, iov, 2, NULL, 0);
		if (n == -EAGAIN)
			n = 0;
		if (n < 0)
			return -1;
	}
	if ((size_t)n < blen) {
		/* the head (a few bytes) queued as a copy, then the bytes */
		if (conn_send(c, buf + n, blen - (size_t)n, NULL, 0) < 0)
			return -1;
		n = 0;
	} else {
		n -= (ssize_t)blen;
	}
	if ((size_t)n == len)
		return 0;
	k = xcalloc(1, sizeof(*k));
	k->buf = (uint8_t *)(uintptr_t)p;
	k->map = c->map;
	k->map->refs++;
	k->srcfd = -1;
	k->off = (size_t)n;
	k->len = len;
	conn_queue(c, k);
	return 0;
}
