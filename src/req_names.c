/*
 * req_names: the name requests: put (point a name at an object), get (may
 * wait until the name appears), drop and list.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "cborio.h"
#include "proto.h"
#include "cluster/node.h"
#include "server_int.h"
#include "store.h"
#include "banned.h"

/* put, get and drop: [name, ...]. */
int
req_name(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	uint16_t type = q->type;
	char name[256];
	size_t n, nl;
	uint64_t id = 0, wait_ms = 0, tk = 0;
	int rc;

	if (cr_array(r, &n) || n < 1 || read_opt_str(r, name, sizeof(name),
						     &nl) != 1) {
		/* A name with NUL or longer than the buffer is invalid, not
		 * a protocol error: answer like the store would. */
		return reply_error(c, type, -EINVAL, "invalid name: a name is "
				   "1-255 bytes without NUL");
	}
	if (type == MSG_NAME_PUT || type == MSG_NAME_GET) {
		if (n != 2 || cr_uint(r, type == MSG_NAME_PUT ? &id : &wait_ms))
			return BAD(c, type, "name request");
	}
	if (type != MSG_NAME_GET && sv->cfg.node) {
		char msg[800];

		if ((rc = node_names_writable(sv->cfg.node, msg, sizeof(msg))))
			return reply_error(c, type, rc, msg);
	}
	switch (type) {
	case MSG_NAME_PUT:
		rc = store_name_put(sv->store, c->owner, name, nl, id, &tk);
		/* in a cluster: a name for an object another instance has */
		if (rc == -ENOENT && sv->cfg.node &&
		    node_name_put(sv->cfg.node, name, id) == 0)
			rc = 0;
		if (rc == 0)
			sv->names_changed = 1;
		break;
	case MSG_NAME_GET:
		rc = store_name_get(sv->store, name, nl, &id);
		if (rc == -ENOENT && sv->cfg.node &&
		    node_name_get(sv->cfg.node, name, &id) == 0)
			rc = 0;
		if (rc == -ENOENT && wait_ms && !q->final) {
			conn_park_name(c, q, name, wait_ms);
			return 0;
		}
		if (rc == -ENOENT && wait_ms) {
			char msg[320];

			snprintf(msg, sizeof(msg), "name '%s' did not appear "
				 "within %" PRIu64 " ms", name, wait_ms);
			return reply_error(c, type, -ETIMEDOUT, msg);
		}
		break;
	default:
		rc = store_name_drop(sv->store, c->owner, name, nl, &tk);
		if (rc == -ENOENT && sv->cfg.node &&
		    node_name_drop(sv->cfg.node, name) == 0)
			rc = 0;
	}
	if (rc)
		return reply_store_error(c, type, rc);
	reply_begin(sv);
	if (type == MSG_NAME_GET) {
		cw_array(&sv->out, 1);
		cw_uint(&sv->out, id);
	} else {
		cw_array(&sv->out, 0);
	}
	if (tk) { /* persistence: a persisted object's names changed */
		conn_park_ticket(c, tk, q, 0);
		return 0;
	}
	return reply_send(c, type, 0);
}

static int
name_list_one(void *ctx, const char *name, uint64_t id,
	      const struct store_perm *owner)
{
	struct list_ctx *l = ctx;

	cw_array(l->w, 4);
	cw_str(l->w, name);
	cw_uint(l->w, id);
	cw_uint(l->w, owner->uid);
	cw_uint(l->w, owner->gid);
	l->n++;
	return 0;
}

int
req_name_list(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	struct list_ctx l = { &sv->objs, 0 };
	char glob[256];
	size_t n, gl;
	int hasglob;

	if (cr_array(r, &n) || n != 1)
		return BAD(c, MSG_NAME_LIST, "name-list");
	hasglob = read_opt_str(r, glob, sizeof(glob), &gl);
	if (hasglob < 0)
		return BAD(c, MSG_NAME_LIST, "name-list");
	cw_reset(&sv->objs);
	store_name_list(sv->store, hasglob ? glob : NULL, name_list_one, &l);
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_array(&sv->out, l.n);
	cw_raw(&sv->out, sv->objs.buf, sv->objs.len);
	return reply_send(c, MSG_NAME_LIST, 0);
}
