/*
 * transfer_blob: one blob's bytes from another instance into this store
 * (transfer.h). A large blob is created writable under its id, mapped, and
 * each chunk is received straight into the mapping (no temporary file, no
 * buffer of the whole blob), XFER_WINDOW chunk requests ahead so the link
 * never waits for a round trip. Each chunk carries the sender's XXH3-64 of
 * its bytes and is checked on arrival: a mismatch aborts the blob, which is
 * then never sealed. Any failure drops the unsealed blob and its memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "cborio.h"
#include "cluster/transfer.h"
#include "proto.h"
#include "store.h"
#include "banned.h"

/* The CBOR head of a byte string of n bytes (at most 9 bytes). */
static size_t
bytes_head(uint8_t *out, uint64_t n)
{
	int i, k;

	if (n < 24) {
		out[0] = (uint8_t)(0x40 | n);
		return 1;
	}
	k = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x100000000ull ? 4 : 8;
	out[0] = (uint8_t)(0x40 | (k == 1 ? 24 : k == 2 ? 25 : k == 4 ? 26 :
				   27));
	for (i = 0; i < k; i++)
		out[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
	return (size_t)k + 1;
}

static int
chunk_ask(struct xfer *x, uint64_t id, uint64_t off, uint64_t len)
{
	uint8_t buf[64];
	struct cw w;
	int rc;

	cw_init(&w);
	cw_array(&w, 3);
	cw_uint(&w, id);
	cw_uint(&w, off);
	cw_uint(&w, len);
	if (w.oom || w.len > sizeof(buf)) {
		cw_release(&w);
		return xfer_fail(x, -ENOMEM, "out of memory");
	}
	memcpy(buf, w.buf, w.len);
	rc = xfer_send_req(x, MSG_BLOB_CHUNK, buf, w.len);
	cw_release(&w);
	return rc;
}

/* Reads the reply to a chunk request of len bytes into dst and checks it. */
static int
chunk_take(struct xfer *x, uint64_t id, uint64_t off, uint8_t *dst,
	   uint64_t len)
{
	uint8_t pre[32], head[9];
	uint32_t blen;
	uint64_t sum, pl;
	size_t n, hl;
	struct cr r;
	int rc;

	if ((rc = xfer_reply_hdr(x, MSG_BLOB_CHUNK, &blen)))
		return rc;
	pl = blen - len;
	hl = bytes_head(head, len);
	if (blen < len || pl > sizeof(pre) || pl < hl + 2)
		goto bad;
	if ((rc = xfer_recv_all(x, pre, (size_t)pl)))
		return rc;
	cr_init(&r, pre, (size_t)(pl - hl));
	if (cr_array(&r, &n) || n != 2 || cr_uint(&r, &sum) || !cr_done(&r) ||
	    memcmp(pre + pl - hl, head, hl))
		goto bad;
	if ((rc = xfer_recv_all(x, dst, (size_t)len)))
		return rc;
	if (XXH3_64bits(dst, (size_t)len) != sum)
		return xfer_fail(x, -EBADMSG, "the chunk at byte %" PRIu64
				 " of blob o%016" PRIx64 " from %s failed its "
				 "checksum (damaged on the way): refused, "
				 "nothing kept", off, id, x->peer);
	if (x->moved)
		__atomic_add_fetch(x->moved, len, __ATOMIC_RELAXED);
	return 0;
bad:
	return xfer_fail(x, -EPROTO, "instance at %s sent a malformed chunk "
			 "of blob o%016" PRIx64, x->peer, id);
}

static int
small_blob(struct xfer *x, struct store *s, const struct xfer_blob *b)
{
	uint8_t buf[PROTO_SMALL_MAX + 1];
	int rc;

	if ((rc = chunk_ask(x, b->id, 0, b->len)) ||
	    (rc = chunk_take(x, b->id, 0, buf, b->len)))
		return rc;
	rc = store_adopt_small(s, b->id, buf, (size_t)b->len);
	if (rc == -EEXIST && store_has(s, b->id))
		return 0; /* another transfer brought it meanwhile */
	if (rc)
		return xfer_fail(x, rc, "%s", store_errmsg());
	return 0;
}

int
xfer_blob(struct xfer *x, struct store *s, struct store_owner *ow,
	  const struct xfer_blob *b)
{
	uint64_t nchunks, asked = 0, i, off;
	uint8_t *map;
	int fd, rc;

	if (b->len <= PROTO_SMALL_MAX)
		return small_blob(x, s, b);
	if (b->len > SIZE_MAX / 2)
		return xfer_fail(x, -EFBIG, "blob o%016" PRIx64 " is too large "
				 "for this machine", b->id);
	rc = store_adopt_blob(s, ow, b->id, (size_t)b->len, &fd);
	if (rc == -EEXIST && store_has(s, b->id))
		return 0;
	if (rc)
		return xfer_fail(x, rc, "%s", store_errmsg());
	/* MAP_POPULATE: the pages are reserved already; mapping them in
	 * one go spares a fault per page while receiving */
	map = mmap(NULL, (size_t)b->len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = xfer_fail(x, -errno, "cannot map blob o%016" PRIx64 ": %s",
			       b->id, strerror(errno));
		store_blob_abort(s, ow, b->id);
		return rc;
	}
	nchunks = (b->len + XFER_CHUNK - 1) / XFER_CHUNK;
	for (i = 0; i < nchunks && rc == 0; i++) {
		while (rc == 0 && asked < nchunks && asked < i + XFER_WINDOW) {
			off = asked * XFER_CHUNK;
			rc = chunk_ask(x, b->id, off, b->len - off < XFER_CHUNK ?
				       b->len - off : XFER_CHUNK);
			asked++;
		}
		off = i * XFER_CHUNK;
		if (rc == 0)
			rc = chunk_take(x, b->id, off, map + off,
					b->len - off < XFER_CHUNK ?
					b->len - off : XFER_CHUNK);
	}
	munmap(map, (size_t)b->len);
	if (rc == 0 && (rc = store_blob_seal(s, ow, b->id)))
		xfer_fail(x, rc, "%s", store_errmsg());
	if (rc)
		store_blob_abort(s, ow, b->id);
	return rc;
}
