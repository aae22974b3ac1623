/*
 * req_transfer: the requests of moving objects between instances
 * (vineyard-cluster(7)). blob-chunk serves a range of a blob with its
 * checksum to a fetching daemon (the sending side); migrate makes a local
 * copy of another instance's object and answers its id (the receiving
 * side, through src/cluster/fetch.h). Every chunk served is summed first
 * (cluster/chunksum.h: XXH3 through the library's AVX2/AVX-512 dispatch,
 * 2-3x its generic build on these machines).
 *
 * Test hooks, read from the environment at the first chunk served:
 * VINEYARD_TEST_CORRUPT_CHUNK=N damages the N-th chunk this daemon serves
 * after its checksum is taken (a link that flips a bit);
 * VINEYARD_TEST_CHUNK_DELAY_MS=N sleeps before each chunk (a slow link,
 * so a test can act mid-transfer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <lz4.h>
#include <xxhash.h>

#include "cborio.h"
#include "cluster/chunksum.h"
#include "cluster/fetch.h"
#include "cluster/node.h"
#include "log.h"
#include "proto.h"
#include "server_int.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

static uint64_t served, corrupt_at, delay_ms;
static int hooks_read;

static void
read_hooks(void)
{
	const char *v;

	hooks_read = 1;
	if ((v = getenv("VINEYARD_TEST_CORRUPT_CHUNK")))
		corrupt_at = strtoull(v, NULL, 10);
	if ((v = getenv("VINEYARD_TEST_CHUNK_DELAY_MS")))
		delay_ms = strtoull(v, NULL, 10);
}

/* Appends [checksum, len, lz4 block of the len bytes at raw] when that is
 * smaller than the bytes; 0 if not worth it (the caller sends them raw).
 * The block is made in a scratch buffer kept for the next chunk (loop
 * thread only). */
static uint8_t *scratch;
static int scratch_len;

static int
reply_lz4(struct server *sv, const uint8_t *raw, size_t len, uint64_t sum)
{
	int bound = LZ4_compressBound((int)len), k;

	if (bound <= 0)
		return 0;
	if (bound > scratch_len) {
		free(scratch);
		scratch = xmalloc((size_t)bound);
		scratch_len = bound;
	}
	k = LZ4_compress_default((const char *)raw, (char *)scratch, (int)len,
				 bound);
	if (k <= 0 || (size_t)k >= len - len / 16)
		return 0;
	if (++served == corrupt_at) {
		scratch[k / 2] ^= 0x5a;
		log_warnx("test hook: chunk %" PRIu64 " damaged after its "
			  "checksum (compressed)", served);
	}
	cw_array(&sv->out, 3);
	cw_uint(&sv->out, sum);
	cw_uint(&sv->out, len);
	cw_bytes(&sv->out, scratch, (size_t)k);
	return 1;
}

/* [checksum, bytes] of a memfd blob's range: the checksum from the
 * connection's mapping of the blob, the bytes from the same mapping
 * straight into the socket (server_blobmap.c), not copied into the reply
 * first. 1 if the blob cannot be mapped (the caller copies instead). */
static int
reply_mapped(struct conn *c, struct req *q, const struct store_blobref *b,
	     uint64_t off, uint64_t len)
{
	struct server *sv = c->sv;
	const uint8_t *p = blobmap_get(c, b, off, (size_t)len);

	if (!p)
		return 1;
	served++;
	cw_array(&sv->out, 2);
	cw_uint(&sv->out, chunksum(p, (size_t)len));
	cw_bytes_head(&sv->out, len);
	return reply_send_blob(c, q->type, b, off, (size_t)len);
}

int
req_blob_chunk(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct store_blobref b;
	uint64_t id, off, len, tk, flags = 0, sum;
	uint8_t *dst;
	size_t n, done = 0, at;
	ssize_t k;
	int rc, i;

	if (cr_array(&q->r, &n) || (n != 3 && n != 4) ||
	    cr_uint(&q->r, &id) || cr_uint(&q->r, &off) ||
	    cr_uint(&q->r, &len) || (n == 4 && cr_uint(&q->r, &flags)))
		return BAD(c, q->type, "blob-chunk");
	if (len > PROTO_MAX_COPY)
		return reply_error(c, q->type, -EINVAL, "blob-chunk: at most "
				   "16 MiB a request");
	if (!hooks_read)
		read_hooks();
	/* restored blobs come back on the loader thread, never here */
	if ((rc = store_prefetch(sv->store, c->owner, id, 0, &tk)))
		return reply_store_error(c, q->type, rc);
	if (tk) {
		conn_park_ticket(c, tk, q, 1);
		return 0;
	}
	if ((rc = store_blob_open(sv->store, c->owner, id, &b)))
		return reply_store_error(c, q->type, rc);
	if (off > b.len || len > b.len - off) {
		store_release(sv->store, c->owner, &id, 1);
		return reply_error(c, q->type, -EINVAL, "blob-chunk: past the "
				   "blob's end");
	}
	if (delay_ms) {
		struct timespec ts = { (time_t)(delay_ms / 1000),
				       (long)(delay_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	reply_begin(sv);
	if ((flags & CHUNK_F_LZ4) && len > PROTO_SMALL_MAX) {
		/* compressed from a mapping of the blob: no extra copy */
		const uint8_t *p = b.kind == BLOB_KIND_SEGMENT ? b.ptr + off :
				   blobmap_get(c, &b, off, (size_t)len);

		if (p) {
			sum = chunksum(p, (size_t)len);
			i = reply_lz4(sv, p, (size_t)len, sum);
			if (i) {
				store_release(sv->store, c->owner, &id, 1);
				return reply_send(c, q->type, 0);
			}
		}
	}
	if (b.kind != BLOB_KIND_SEGMENT && len > PROTO_SMALL_MAX &&
	    served + 1 != corrupt_at && (rc = reply_mapped(c, q, &b, off,
							   len)) != 1) {
		store_release(sv->store, c->owner, &id, 1);
		return rc;
	}
	cw_array(&sv->out, 2);
	/* the checksum comes first: reserve its 9 bytes, fill them after */
	at = sv->out.len;
	cw_uint(&sv->out, UINT64_MAX);
	dst = cw_bytes_start(&sv->out, len);
	if (dst && b.kind == BLOB_KIND_SEGMENT) {
		memcpy(dst, b.ptr + off, len);
		done = len;
	}
	while (dst && b.kind != BLOB_KIND_SEGMENT && done < len) {
		k = pread(b.fd, dst + done, len - done, (off_t)(off + done));
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	store_release(sv->store, c->owner, &id, 1);
	if (!dst || done != len)
		return reply_error(c, q->type, -EIO, "blob-chunk: cannot read "
				   "the blob");
	sum = chunksum(dst, len);
	for (i = 0; i < 8; i++)
		sv->out.buf[at + 1 + i] = (uint8_t)(sum >> (56 - 8 * i));
	if (++served == corrupt_at && len) {
		dst[len / 2] ^= 0x5a;
		log_warnx("test hook: chunk %" PRIu64 " (blob o%016" PRIx64
			  " at byte %" PRIu64 ") damaged after its checksum",
			  served, id, off);
	}
	return reply_send(c, q->type, 0);
}

int
req_migrate(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	char name[256], msg[480];
	uint64_t id, tk;
	size_t n, nl;
	int hasname, rc;

	if (cr_array(r, &n) || n != 2 || cr_uint(r, &id) ||
	    (hasname = read_opt_str(r, name, sizeof(name), &nl)) < 0)
		return BAD(c, q->type, "migrate");
	if (hasname) {
		rc = store_name_get(sv->store, name, nl, &id);
		if (rc == -ENOENT && sv->cfg.node &&
		    node_name_get(sv->cfg.node, name, &id) == 0)
			rc = 0;
		if (rc)
			return reply_store_error(c, q->type, rc);
	}
	if (!store_has(sv->store, id)) {
		if (!sv->cfg.fetch)
			return reply_error(c, q->type, -ENOENT, "no such "
					   "object here, and this daemon is "
					   "not in a cluster to fetch it from");
		msg[0] = '\0';
		/* a copy is for those who may read it: others are refused
		 * as its instance would, before a byte moves */
		if (sv->cfg.node && (rc = node_remote_may_read(sv->cfg.node,
						c->owner, id, "read")))
			return reply_store_error(c, q->type, rc);
		rc = fetch_start(sv->cfg.fetch, id, &tk, msg, sizeof(msg));
		if (rc == 0) {
			conn_park_ticket(c, tk, q, 1);
			return 0;
		}
		if (rc == -ENOENT && !msg[0])
			snprintf(msg, sizeof(msg), "no object o%016" PRIx64
				 " here or published in the cluster", id);
		return reply_error(c, q->type, rc, msg);
	}
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_uint(&sv->out, id);
	return reply_send(c, q->type, 0);
}
