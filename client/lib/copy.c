/*
 * copy: blob bytes by copy, for TCP clients (vy_connect_tcp) that cannot
 * map the daemon's memory: puts in chunks of up to PROTO_MAX_COPY, and
 * ranged reads. The daemon answers these on its UNIX socket too.
 */
#include <errno.h>
#include <string.h>

#include "client_int.h"
#include "banned.h"

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

/* vy_blob_read with the lock held. */
int
vy__read_copy(struct vy_client *c, vy_id id, uint64_t off, void *buf,
	      size_t len, size_t *got)
{
	struct vy_reply rep;
	const void *p;
	size_t n, l, done = 0, k;
	struct cr r;
	int rc = 0;

	while (done < len) {
		k = len - done > PROTO_MAX_COPY ? PROTO_MAX_COPY : len - done;
		vy__req(c);
		cw_array(&c->req, 3);
		cw_uint(&c->req, id);
		cw_uint(&c->req, off + done);
		cw_uint(&c->req, k);
		c->sink = (uint8_t *)buf + done;
		c->sink_cap = k;
		c->sunk = 0;
		rc = vy__rt(c, MSG_BLOB_READ, 0, &rep);
		c->sink = NULL;
		if (rc)
			break;
		if (c->sunk) {
			/* the bytes went straight into buf */
			l = c->sunk;
			done += l;
			if (l < k)
				break;
			continue;
		}
		cr_init(&r, rep.body, rep.len);
		if (cr_array(&r, &n) || n != 1 || cr_bytes(&r, &p, &l) ||
		    l > k) {
			c->broken = 1;
			rc = vy__fail(c, -EPROTO, "malformed blob-read reply");
			break;
		}
		memcpy((uint8_t *)buf + done, p, l);
		done += l;
		if (l < k)
			break;	/* the blob's end */
	}
	if (got)
		*got = done;
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
