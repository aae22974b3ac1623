/*
 * cluster: the client's view of its daemon's cluster: the membership and
 * live instances (MSG_CLUSTER) and the published objects (MSG_CLUSTER_LIST).
 * Callbacks run with the client unlocked on a private copy of the reply.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "banned.h"

/* The reply body, copied so callbacks may use the client. */
static int
round_trip(struct vy_client *c, uint16_t type, const char *glob,
	   uint8_t **body, size_t *len)
{
	struct vy_reply rep;
	int rc;

	vy__req(c);
	if (type == MSG_CLUSTER_LIST) {
		cw_array(&c->req, 1);
		vy__str_or_null(&c->req, glob);
	} else {
		cw_array(&c->req, 0);
	}
	if ((rc = vy__rt(c, type, 0, &rep)) ||
	    (rc = vy__copy_body(c, &rep, body)))
		return rc;
	*len = rep.len;
	return 0;
}

static int
str_into(struct cr *r, char *out, size_t cap)
{
	const char *s;
	size_t l;

	if (cr_str(r, &s, &l))
		return -1;
	if (l >= cap)
		l = cap - 1;
	memcpy(out, s, l);
	out[l] = '\0';
	return 0;
}

static int
str_dup(struct cr *r, char **out)
{
	const char *s;
	size_t l;

	if (cr_str(r, &s, &l) || !(*out = strndup(s, l)))
		return -1;
	return 0;
}

VY_API int
vy_cluster(struct vy_client *c, struct vy_cluster_state *st,
	   int (*fn)(void *ctx, const struct vy_cluster_instance *i),
	   void *ctx)
{
	struct vy_cluster_state tmp;
	uint8_t *body = NULL;
	size_t len, n, i, k;
	uint64_t inst;
	struct cr r;
	int rc = vy__enter(c);

	if (rc)
		return rc;
	if ((rc = round_trip(c, MSG_CLUSTER, NULL, &body, &len))) {
		vy__leave(c);
		return rc;
	}
	if (!st)
		st = &tmp;
	cr_init(&r, body, len);
	if (cr_array(&r, &n) || n != 5 || str_into(&r, st->state,
						   sizeof(st->state)) ||
	    cr_uint(&r, &inst) || str_into(&r, st->prefix,
					   sizeof(st->prefix)) ||
	    str_into(&r, st->message, sizeof(st->message)) ||
	    cr_array(&r, &n)) {
		free(body);
		rc = vy__malformed(c, "cluster");
		vy__leave(c);
		return rc;
	}
	st->instance = (uint32_t)inst;
	vy__leave(c);
	for (i = 0; rc == 0 && i < n; i++) {
		struct vy_cluster_instance e;
		char *host = NULL, *sock = NULL, *rpc = NULL;
		uint64_t id;

		memset(&e, 0, sizeof(e));
		if (cr_array(&r, &k) || k != 8 || cr_uint(&r, &id) ||
		    str_dup(&r, &host) || str_dup(&r, &sock) ||
		    str_dup(&r, &rpc) || cr_uint(&r, &e.pid) ||
		    cr_uint(&r, &e.started) || cr_uint(&r, &e.objects) ||
		    cr_uint(&r, &e.bytes)) {
			rc = -EPROTO;
		} else if (fn) {
			e.id = (uint32_t)id;
			e.host = host;
			e.socket = sock;
			e.rpc = rpc;
			rc = fn(ctx, &e);
		}
		free(host);
		free(sock);
		free(rpc);
	}
	free(body);
	if (rc == -EPROTO) {
		pthread_mutex_lock(&c->lock);
		rc = vy__malformed(c, "cluster");
		pthread_mutex_unlock(&c->lock);
	}
	return rc;
}

/* [uid, gid, mode] or null: the owner a published object's record says. */
static int
read_owner(struct cr *r, struct vy_cluster_object *o)
{
	uint64_t uid, gid, mode;
	size_t n;
	int rc = cr_null(r);

	if (rc)
		return rc < 0 ? -1 : 0;
	if (cr_array(r, &n) || n != 3 || cr_uint(r, &uid) ||
	    cr_uint(r, &gid) || cr_uint(r, &mode) || uid > UINT32_MAX ||
	    gid > UINT32_MAX || mode > PROTO_MODE_BITS)
		return -1;
	o->has_owner = 1;
	o->uid = (uint32_t)uid;
	o->gid = (uint32_t)gid;
	o->mode = (unsigned)mode;
	return 0;
}

VY_API int
vy_cluster_list(struct vy_client *c, const char *glob,
		int (*fn)(void *ctx, const struct vy_cluster_object *o),
		void *ctx)
{
	uint8_t *body = NULL;
	size_t len, n, i, k, nn, j;
	struct cr r;
	int rc = vy__enter(c);

	if (rc)
		return rc;
	if ((rc = round_trip(c, MSG_CLUSTER_LIST, glob, &body, &len))) {
		vy__leave(c);
		return rc;
	}
	vy__leave(c);
	cr_init(&r, body, len);
	if (cr_array(&r, &n))
		rc = -EPROTO;
	for (i = 0; rc == 0 && i < n; i++) {
		struct vy_cluster_object o;
		char *tn = NULL, **names = NULL;
		uint64_t inst;

		memset(&o, 0, sizeof(o));
		if (cr_array(&r, &k) || k != 7 || cr_uint(&r, &o.id) ||
		    str_dup(&r, &tn) || cr_uint(&r, &o.nbytes) ||
		    cr_uint(&r, &inst) || cr_bool(&r, &o.available) ||
		    cr_array(&r, &nn) || nn > len) {
			free(tn);
			rc = -EPROTO;
			break;
		}
		if (!(names = calloc(nn ? nn : 1, sizeof(*names))))
			rc = -ENOMEM;
		for (j = 0; rc == 0 && j < nn; j++)
			if (str_dup(&r, &names[j]))
				rc = -EPROTO;
		if (rc == 0 && read_owner(&r, &o))
			rc = -EPROTO;
		if (rc == 0) {
			o.typename = tn;
			o.instance = (uint32_t)inst;
			o.names = (const char *const *)names;
			o.nnames = nn;
			rc = fn(ctx, &o);
		}
		for (j = 0; names && j < nn; j++)
			free(names[j]);
		free(names);
		free(tn);
	}
	free(body);
	if (rc == -EPROTO || rc == -ENOMEM) {
		pthread_mutex_lock(&c->lock);
		rc = rc == -EPROTO ? vy__malformed(c, "cluster list") :
			vy__fail(c, rc, "out of memory");
		pthread_mutex_unlock(&c->lock);
	}
	return rc;
}
