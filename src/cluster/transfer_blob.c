/*
 * transfer_blob: one blob's bytes from another instance into this store
 * (transfer.h). A large blob is created writable under its id, mapped, and
 * each chunk is received straight into the mapping (no temporary file, no
 * buffer of the whole blob), XFER_WINDOW chunk requests ahead so the link
 * never waits for a round trip. Each chunk carries the sender's XXH3-64 of
 * its bytes and is checked on arrival (summed XFER_SLICE bytes at a time as
 * they come in, while still in the cache): a mismatch aborts the blob,
 * which is then never sealed. With compression asked for, the sender may
 * send a chunk as an lz4 block, which is received into a buffer of one
 * chunk and decompressed into the mapping. Any failure drops the unsealed
 * blob and its memory.
 *
 * Where the time goes (perf, 256 MiB on the 2-vCPU VM): into fresh
 * memory, about two thirds of the receiver's CPU is the kernel zeroing the
 * new blob's pages and the host backing them (clear_page when they are
 * first mapped), more than the copy off the socket. So each chunk's pages
 * are mapped in just before it is received, while the sender already works
 * on the requests ahead (not all of them before the first request), and
 * the chunk lands in pages still in the cache. The sender copies the bytes
 * from its kept mapping of the blob (server_blobmap.c).
 *
 * The copy is created as a put's blob is (store_adopt_blob, blob_create):
 * when the daemon's --reserve pool is ready and about the blob's size, the
 * blob is that pool, its pages zeroed and backed already while a CPU was
 * idle, and on this VM made of 2 MiB pages (arena_pool_fill). It is mapped
 * at a 2 MiB-aligned address (arena_map_aligned), so each of those pages
 * takes one page-table entry and one fault where 4 KiB entries would take
 * 512: the populate before each chunk then costs next to nothing, and the
 * receive is the copy and the checksum. Where the shmem policy is never
 * (the pool mode, the default here) the kernel aligns a plain mmap of a
 * memfd only by the luck of the address space's layout (the daemon's 1 GiB
 * copies came out aligned, a test program's not), and filling 1 GiB of
 * pool through 4 KiB entries took 9-17 s against 0.2-0.6 s aligned
 * (arena.h). Otherwise (no pool, pool taken or still filling) it is a
 * fresh memfd, as above.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>
#include <lz4.h>

#include "arena.h"
#include "cborio.h"
#include "cluster/chunksum.h"
#include "cluster/transfer.h"
#include "proto.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

static int
chunk_ask(struct xfer *x, uint64_t id, uint64_t off, uint64_t len)
{
	uint8_t buf[64];
	struct cw w;
	int rc;

	cw_init(&w);
	cw_array(&w, x->lz4 ? 4 : 3);
	cw_uint(&w, id);
	cw_uint(&w, off);
	cw_uint(&w, len);
	if (x->lz4)
		cw_uint(&w, CHUNK_F_LZ4);
	if (w.oom || w.len > sizeof(buf)) {
		cw_release(&w);
		return xfer_fail(x, -ENOMEM, "out of memory");
	}
	memcpy(buf, w.buf, w.len);
	rc = xfer_send_req(x, MSG_BLOB_CHUNK, buf, w.len);
	cw_release(&w);
	return rc;
}

/* Reads the reply to a chunk request of len bytes into dst and checks it:
 * [checksum, bytes] straight into dst, or [checksum, len, lz4 block]
 * through the connection's buffer for compressed blocks. */
static int
chunk_take(struct xfer *x, uint64_t id, uint64_t off, uint8_t *dst,
	   uint64_t len)
{
	uint8_t pre[48];
	uint32_t blen;
	uint64_t sum, got = 0, raw = len, zlen = 0, done;
	size_t items, pl, pos, hl, have, step;
	unsigned ai;
	struct cr r;
	int rc, i;

	if ((rc = xfer_reply_hdr(x, MSG_BLOB_CHUNK, &blen)))
		return rc;
	pl = blen < sizeof(pre) ? blen : sizeof(pre);
	if ((rc = xfer_recv_all(x, pre, pl)))
		return rc;
	cr_init(&r, pre, pl);
	if (cr_array(&r, &items) || (items != 2 && items != 3) ||
	    cr_uint(&r, &sum) || (items == 3 && cr_uint(&r, &raw)) ||
	    raw != len)
		goto bad;
	/* the byte string's head, by hand: its bytes are not all here */
	pos = (size_t)(r.p - pre);
	if (pos >= pl || (pre[pos] >> 5) != 2)
		goto bad;
	ai = pre[pos] & 31u;
	if (ai < 24) {
		zlen = ai;
		hl = 1;
	} else if (ai <= 27) {
		hl = 1 + ((size_t)1 << (ai - 24));
		if (pos + hl > pl)
			goto bad;
		for (i = 1; i < (int)hl; i++)
			zlen = zlen << 8 | pre[pos + (size_t)i];
	} else {
		goto bad;
	}
	if (pos + hl + zlen != blen)
		goto bad;
	have = pl - pos - hl;
	if (items == 2) {
		if (zlen != len)
			goto bad;
		memcpy(dst, pre + pos + hl, have);
		/* received and summed a slice at a time, while the slice is
		 * still in the cache: no second pass over the chunk */
		if (!x->sum && !(x->sum = XXH3_createState()))
			return xfer_fail(x, -ENOMEM, "out of memory");
		XXH3_64bits_reset(x->sum);
		XXH3_64bits_update(x->sum, dst, have);
		for (done = have; done < len; done += step) {
			step = len - done < XFER_SLICE ? (size_t)(len - done) :
			       XFER_SLICE;
			if ((rc = xfer_recv_all(x, dst + done, step)))
				return rc;
			XXH3_64bits_update(x->sum, dst + done, step);
		}
		got = XXH3_64bits_digest(x->sum);
	} else {
		if (zlen > (uint64_t)LZ4_compressBound((int)len))
			goto bad;
		if (zlen > x->zcap) {
			free(x->zbuf);
			x->zbuf = xmalloc((size_t)zlen);
			x->zcap = (size_t)zlen;
		}
		memcpy(x->zbuf, pre + pos + hl, have);
		if ((rc = xfer_recv_all(x, x->zbuf + have, (size_t)zlen - have)))
			return rc;
		if (LZ4_decompress_safe((const char *)x->zbuf, (char *)dst,
					(int)zlen, (int)len) != (int)len)
			return xfer_fail(x, -EBADMSG, "the chunk at byte %"
					 PRIu64 " of blob o%016" PRIx64 " from "
					 "%s does not decompress (damaged on "
					 "the way): refused, nothing kept",
					 off, id, x->peer);
	}
	if (items == 3)
		got = chunksum(dst, (size_t)len);
	if (got != sum)
		return xfer_fail(x, -EBADMSG, "the chunk at byte %" PRIu64
				 " of blob o%016" PRIx64 " from %s failed its "
				 "checksum (damaged on the way): refused, "
				 "nothing kept", off, id, x->peer);
	if (x->moved)
		__atomic_add_fetch(x->moved, len, __ATOMIC_RELAXED);
	if (x->wire)
		__atomic_add_fetch(x->wire, (uint64_t)blen, __ATOMIC_RELAXED);
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
	rc = store_adopt_small(s, b->id, buf, (size_t)b->len, b->whop);
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
	uint64_t nchunks, asked = 0, i, off, len;
	uint8_t *map;
	int fd, rc;

	if (b->len <= PROTO_SMALL_MAX)
		return small_blob(x, s, b);
	if (b->len > SIZE_MAX / 2)
		return xfer_fail(x, -EFBIG, "blob o%016" PRIx64 " is too large "
				 "for this machine", b->id);
	rc = store_adopt_blob(s, ow, b->id, (size_t)b->len, b->whop, &fd);
	if (rc == -EEXIST && store_has(s, b->id))
		return 0;
	if (rc)
		return xfer_fail(x, rc, "%s", store_errmsg());
	/* The pages are reserved already (fallocate) but maybe not yet
	 * touched: each chunk's are mapped in (and zeroed) just before it
	 * arrives, once its request is out, so the sender works meanwhile.
	 * Aligned: the pool's huge pages map whole (see above). */
	map = (uint8_t *)arena_map_aligned(fd, 0, (size_t)b->len,
					   PROT_READ | PROT_WRITE);
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
		len = b->len - off < XFER_CHUNK ? b->len - off : XFER_CHUNK;
		/* one call instead of a fault per page while receiving; if
		 * the kernel cannot, the receive faults them in itself */
		if (rc == 0)
			(void)madvise(map + off, (size_t)len,
				      MADV_POPULATE_WRITE);
		if (rc == 0)
			rc = chunk_take(x, b->id, off, map + off, len);
	}
	munmap(map, (size_t)b->len);
	if (rc == 0 && (rc = store_blob_seal(s, ow, b->id)))
		xfer_fail(x, rc, "%s", store_errmsg());
	if (rc)
		store_blob_abort(s, ow, b->id);
	return rc;
}
