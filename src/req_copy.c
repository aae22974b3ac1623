/*
 * req_copy: blob bytes by copy, for clients that cannot map the store's
 * memory (the TCP front): read a range of a sealed blob, and write a new
 * blob in chunks then seal it. Also served on the UNIX socket (harmless),
 * but local clients map instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cborio.h"
#include "proto.h"
#include "server_int.h"
#include "store.h"
#include "banned.h"

int
req_blob_read(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct store_blobref b;
	uint64_t id, off, len, tk;
	uint8_t *dst;
	size_t n;
	int rc;

	if (cr_array(&q->r, &n) || n != 3 || cr_uint(&q->r, &id) ||
	    cr_uint(&q->r, &off) || cr_uint(&q->r, &len))
		return BAD(c, q->type, "blob-read");
	if (len > PROTO_MAX_COPY)
		return reply_error(c, q->type, -EINVAL, "blob-read: at most "
				   "16 MiB a request");
	/* restored blobs come back on the loader thread, never here */
	if ((rc = store_prefetch(sv->store, c->owner, id, 0, &tk)))
		return reply_store_error(c, q->type, rc);
	if (tk) {
		conn_park_ticket(c, tk, q, 1);
		return 0;
	}
	if ((rc = store_blob_open(sv->store, c->owner, id, &b)))
		return reply_store_error(c, q->type, rc);
	if (off > b.len)
		off = b.len;
	if (len > b.len - off)
		len = b.len - off;
	reply_begin(sv);
	cw_array(&sv->out, 1);
	if (b.kind != BLOB_KIND_SEGMENT) {
		/* A memfd's bytes go from a mapping of it to the socket
		 * (server_blobmap.c): no copy into a reply buffer. */
		cw_bytes_head(&sv->out, len);
		rc = reply_send_blob(c, q->type, &b, off, len);
		store_release(sv->store, c->owner, &id, 1);
		return rc;
	}
	/* a small blob packed in a segment: copied into the reply */
	dst = cw_bytes_start(&sv->out, len);
	if (dst)
		memcpy(dst, b.ptr + off, len);
	store_release(sv->store, c->owner, &id, 1);
	if (!dst)
		return reply_error(c, q->type, -EIO, "blob-read: cannot read "
				   "the blob");
	return reply_send(c, q->type, 0);
}

int
req_blob_write(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	uint64_t id, total, off;
	const void *p;
	size_t n, len;
	int seal, rc;

	if (cr_array(&q->r, &n) || n != 5 || cr_uint(&q->r, &id) ||
	    cr_uint(&q->r, &total) || cr_uint(&q->r, &off) ||
	    cr_bytes(&q->r, &p, &len) || cr_bool(&q->r, &seal))
		return BAD(c, q->type, "blob-write");
	if (id == 0) {
		/* a new blob: one at a time per connection */
		if (c->wid) {
			store_blob_abort(sv->store, c->owner, c->wid);
			c->wid = 0;
		}
		if (total <= PROTO_SMALL_MAX && seal && off == 0 &&
		    len == total) {
			rc = store_blob_put_small(sv->store, c->owner, p, len,
						  PROTO_MODE_DEFAULT, &id);
			if (rc)
				return reply_store_error(c, q->type, rc);
			goto reply;
		}
		if (wait_for_room(c, q, &total, 1))
			return 0;
		rc = store_blob_create(sv->store, c->owner, total,
				       PROTO_MODE_DEFAULT, &c->wid, &c->wfd,
				       NULL);
		if (rc)
			return reply_store_error(c, q->type, rc);
		c->wlen = total;
		id = c->wid;
	} else if (id != c->wid) {
		return reply_error(c, q->type, -ENOENT, "blob-write: not the "
				   "blob this connection is writing");
	}
	if (off > c->wlen || len > c->wlen - off)
		return reply_error(c, q->type, -EINVAL, "blob-write: past the "
				   "blob's length");
	while (len > 0) {
		ssize_t k = pwrite(c->wfd, p, len, (off_t)off);

		if (k <= 0) {
			store_blob_abort(sv->store, c->owner, id);
			c->wid = 0;
			return reply_error(c, q->type, -EIO, "blob-write: "
					   "cannot write the blob");
		}
		p = (const uint8_t *)p + k;
		len -= (size_t)k;
		off += (uint64_t)k;
	}
	if (seal) {
		c->wid = 0;
		if ((rc = store_blob_seal(sv->store, c->owner, id)))
			return reply_store_error(c, q->type, rc);
	}
reply:
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_uint(&sv->out, id);
	return reply_send(c, q->type, 0);
}
