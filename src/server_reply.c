/*
 * server_reply: building a reply and reading a request's fields, for the
 * request handlers. A reply is built in the server's scratch buffer
 * (sv->out, its descriptors in sv->fds) and handed whole to the
 * connection (server_conn.c), which sends or queues it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cborio.h"
#include "log.h"
#include "proto.h"
#include "server_int.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

void
reply_begin(struct server *sv)
{
	static const uint8_t hdr[PROTO_HDR_LEN];

	cw_reset(&sv->out);
	cw_raw(&sv->out, hdr, sizeof(hdr));
	sv->nfds = 0;
}

void
reply_fd(struct server *sv, int fd)
{
	if (sv->nfds == sv->fdcap) {
		sv->fdcap = sv->fdcap ? sv->fdcap * 2 : 64;
		sv->fds = xreallocarray(sv->fds, sv->fdcap, sizeof(int));
	}
	sv->fds[sv->nfds++] = fd;
}

void
reply_pack(struct server *sv, uint16_t type, int status)
{
	struct proto_hdr h;

	if (sv->out.oom)
		fatalx("server: out of memory building a reply");
	if (sv->cfg.fs_sync)
		sv->cfg.fs_sync(sv->cfg.fs_ctx);
	h.magic = PROTO_MAGIC;
	h.version = PROTO_VERSION;
	h.type = type;
	h.len = (uint32_t)(sv->out.len - PROTO_HDR_LEN);
	h.status = status < 0 ? (uint32_t)status : (uint32_t)sv->nfds;
	proto_hdr_pack(&h, sv->out.buf);
}

int
reply_send(struct conn *c, uint16_t type, int status)
{
	struct server *sv = c->sv;

	reply_pack(sv, type, status);
	return conn_send(c, sv->out.buf, sv->out.len, sv->fds,
			 status < 0 ? 0 : (int)sv->nfds);
}

int
reply_send_blob(struct conn *c, uint16_t type, const struct store_blobref *b,
		uint64_t off, size_t len)
{
	struct server *sv = c->sv;
	struct proto_hdr h;

	reply_pack(sv, type, 0);
	proto_hdr_unpack(sv->out.buf, &h);
	h.len += (uint32_t)len;
	proto_hdr_pack(&h, sv->out.buf);
	return conn_send_blob(c, sv->out.buf, sv->out.len, b, off, len);
}

int
reply_durable(struct conn *c, const struct req *q, uint64_t ticket)
{
	if (!ticket)
		return reply_send(c, q->type, 0);
	conn_park_ticket(c, ticket, q, 0);
	return 0;
}

int
reply_error(struct conn *c, uint16_t type, int rc, const char *msg)
{
	reply_begin(c->sv);
	cw_str(&c->sv->out, msg);
	log_debug("%s: %s: %s", c->label, proto_type_name(type), msg);
	return reply_send(c, type, rc);
}

int
reply_store_error(struct conn *c, uint16_t type, int rc)
{
	return reply_error(c, type, rc, store_errmsg());
}

int
read_ids(struct cr *r, uint64_t **ids, size_t *n)
{
	size_t i, k;

	if (cr_array(r, &k))
		return -EPROTO;
	if (k > PROTO_MAX_BATCH)
		return -E2BIG;
	*ids = xcalloc(k, sizeof(**ids));
	for (i = 0; i < k; i++)
		if (cr_uint(r, &(*ids)[i])) {
			free(*ids);
			*ids = NULL;
			return -EPROTO;
		}
	*n = k;
	return 0;
}

int
reply_batch_error(struct conn *c, uint16_t type, int rc, const char *what)
{
	char msg[160];

	if (rc != -E2BIG) {
		snprintf(msg, sizeof(msg), "malformed %s", what);
		return reply_error(c, type, -EPROTO, msg);
	}
	snprintf(msg, sizeof(msg), "a %s request names at most %u ids or "
		 "blobs; split the list", proto_type_name(type),
		 PROTO_MAX_BATCH);
	return reply_error(c, type, -EINVAL, msg);
}

int
read_opt_str(struct cr *r, char *buf, size_t cap, size_t *len)
{
	const char *s;
	size_t l;
	int rc = cr_null(r);

	if (rc < 0)
		return -EPROTO;
	if (rc == 1)
		return 0;
	if (cr_str(r, &s, &l) || l >= cap || memchr(s, 0, l))
		return -EPROTO;
	memcpy(buf, s, l);
	buf[l] = 0;
	*len = l;
	return 1;
}

int
read_mode(struct cr *r, unsigned *mode)
{
	uint64_t v;
	int rc = cr_null(r);

	if (rc < 0)
		return -EPROTO;
	if (rc == 1) {
		*mode = PROTO_MODE_DEFAULT;
		return 0;
	}
	if (cr_uint(r, &v))
		return -EPROTO;
	if (v & ~(uint64_t)PROTO_MODE_BITS)
		return -EINVAL;
	*mode = (unsigned)v;
	return 0;
}

int
reply_bad_mode(struct conn *c, uint16_t type, int rc)
{
	if (rc == -EINVAL)
		return reply_error(c, type, -EINVAL, "invalid mode: an "
				   "object's mode has only read (4) and write "
				   "(2) bits for the owner, the group and "
				   "others, at most 0666");
	return reply_error(c, type, -EPROTO, "malformed mode");
}
