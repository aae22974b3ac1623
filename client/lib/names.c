/*
 * names: the name calls, and the other small requests that return a value
 * or a listing: delete, persist, list and meta.json.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "meta.h"
#include "banned.h"

int
vy__check_name(struct vy_client *c, const char *name)
{
	if (!name)
		return vy__fail(c, -EINVAL, "no name given");
	if (strlen(name) > 255)
		return vy__fail(c, -EINVAL, "invalid name: a name is at most "
				"255 bytes");
	return 0;
}

/* One request on a name, with a number after it when narg is 1; a reply of
 * one number (what names it in errors) goes to *out when out is not NULL. */
static int
name_rt(struct vy_client *c, uint16_t type, const char *name, int narg,
	uint64_t arg, const char *what, uint64_t *out)
{
	struct vy_reply rep;
	int rc = vy__enter(c);

	if (rc)
		return rc;
	if (!(rc = vy__check_name(c, name))) {
		vy__req(c);
		cw_array(&c->req, 1 + (size_t)narg);
		cw_str(&c->req, name);
		if (narg)
			cw_uint(&c->req, arg);
		rc = vy__rt(c, type, 0, &rep);
		if (rc == 0 && out)
			rc = vy__reply_uint(c, &rep, what, out);
	}
	vy__leave(c);
	return rc;
}

VY_API int
vy_name_put(struct vy_client *c, const char *name, vy_id id)
{
	return name_rt(c, MSG_NAME_PUT, name, 1, id, NULL, NULL);
}

VY_API int
vy_name_get(struct vy_client *c, const char *name, int timeout_ms, vy_id *id)
{
	return name_rt(c, MSG_NAME_GET, name, 1,
		       timeout_ms > 0 ? (uint64_t)timeout_ms : 0, "name-get",
		       id);
}

VY_API int
vy_name_drop(struct vy_client *c, const char *name)
{
	return name_rt(c, MSG_NAME_DROP, name, 0, 0, NULL, NULL);
}

VY_API int
vy_names(struct vy_client *c, const char *glob,
	 int (*fn)(void *ctx, const struct vy_name_entry *e), void *ctx)
{
	struct vy_reply rep;
	uint8_t *body = NULL;
	struct cr r;
	size_t n, i, k;
	int rc = vy__enter(c);

	if (rc)
		return rc;
	vy__req(c);
	cw_array(&c->req, 1);
	vy__str_or_null(&c->req, glob);
	rc = vy__rt(c, MSG_NAME_LIST, 0, &rep);
	if (rc == 0)
		rc = vy__copy_body(c, &rep, &body);
	if (rc == 0) {
		cr_init(&r, body, rep.len);
		if (cr_array(&r, &n) || n != 1 || cr_array(&r, &n))
			rc = vy__malformed(c, "name-list");
	}
	vy__leave(c);
	for (i = 0; rc == 0 && i < n; i++) {
		struct vy_name_entry e;
		const char *s;
		size_t l;
		uint64_t uid, gid;
		char name[256];

		/* [name, id, uid, gid] */
		if (cr_array(&r, &k) || k != 4 || cr_str(&r, &s, &l) ||
		    l > 255 || cr_uint(&r, &e.id) || cr_uint(&r, &uid) ||
		    cr_uint(&r, &gid) || uid > UINT32_MAX || gid > UINT32_MAX) {
			rc = -EPROTO;
			break;
		}
		memcpy(name, s, l);
		name[l] = 0;
		e.name = name;
		e.uid = (uint32_t)uid;
		e.gid = (uint32_t)gid;
		rc = fn(ctx, &e);
	}
	free(body);
	return rc;
}

struct name_list_ctx {
	int (*fn)(void *ctx, const char *name, vy_id id);
	void *ctx;
};

static int
name_list_one(void *ctx, const struct vy_name_entry *e)
{
	struct name_list_ctx *x = ctx;

	return x->fn(x->ctx, e->name, e->id);
}

VY_API int
vy_name_list(struct vy_client *c, const char *glob,
	     int (*fn)(void *ctx, const char *name, vy_id id), void *ctx)
{
	struct name_list_ctx x = { fn, ctx };

	return vy_names(c, glob, name_list_one, &x);
}

int
vy__delete(struct vy_client *c, const vy_id *ids, size_t n, unsigned flags,
	   size_t *count)
{
	struct vy_reply rep;
	uint64_t cnt;
	size_t i;
	int rc;

	/* One request, so that the batch is all or nothing. */
	if (n > PROTO_MAX_BATCH)
		return vy__fail(c, -EINVAL, "a delete takes at most %u ids at "
				"once (%zu given); split the list",
				PROTO_MAX_BATCH, n);
	vy__req(c);
	cw_array(&c->req, 2);
	cw_array(&c->req, n);
	for (i = 0; i < n; i++)
		cw_uint(&c->req, ids[i]);
	cw_uint(&c->req, flags);
	rc = vy__rt(c, MSG_DELETE, 0, &rep);
	if (rc == 0)
		rc = vy__reply_uint(c, &rep, "delete", &cnt);
	if (rc == 0 && count)
		*count = (size_t)cnt;
	return rc;
}

VY_API int
vy_delete(struct vy_client *c, const vy_id *ids, size_t n, unsigned flags,
	  size_t *count)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	rc = vy__delete(c, ids, n, flags, count);
	vy__leave(c);
	return rc;
}

static int
persist_rt(struct vy_client *c, uint16_t type, const vy_id *ids, size_t n)
{
	struct vy_reply rep;
	size_t i;
	int rc;

	if (n < 1 || n > PROTO_MAX_BATCH || !ids)
		return -EINVAL;
	if ((rc = vy__enter(c)))
		return rc;
	vy__req(c);
	cw_array(&c->req, n);
	for (i = 0; i < n; i++)
		cw_uint(&c->req, ids[i]);
	rc = vy__rt(c, type, 0, &rep);
	vy__leave(c);
	return rc;
}

VY_API int
vy_persist(struct vy_client *c, vy_id id)
{
	return persist_rt(c, MSG_PERSIST, &id, 1);
}

VY_API int
vy_persist_many(struct vy_client *c, const vy_id *ids, size_t n)
{
	return persist_rt(c, MSG_PERSIST, ids, n);
}

VY_API int
vy_unpersist(struct vy_client *c, vy_id id)
{
	return persist_rt(c, MSG_UNPERSIST, &id, 1);
}

VY_API int
vy_chmod(struct vy_client *c, const vy_id *ids, size_t n, unsigned clear,
	 unsigned set, unsigned flags)
{
	struct vy_reply rep;
	uint64_t cnt;
	size_t i;
	int rc;

	if ((rc = vy__enter(c)))
		return rc;
	if ((clear | set) & ~PROTO_MODE_BITS) {
		rc = vy__fail(c, -EINVAL, "mode bits %04o: an object's mode "
			      "has only read (4) and write (2) bits for the "
			      "owner, the group and others, at most 0666",
			      (clear | set) & ~PROTO_MODE_BITS);
		vy__leave(c);
		return rc;
	}
	vy__req(c);
	cw_array(&c->req, 4);
	cw_array(&c->req, n);
	for (i = 0; i < n; i++)
		cw_uint(&c->req, ids[i]);
	cw_uint(&c->req, clear);
	cw_uint(&c->req, set);
	cw_uint(&c->req, flags & VY_CHMOD_TREE ? CHMOD_F_TREE : 0);
	rc = vy__rt(c, MSG_CHMOD, 0, &rep);
	if (rc == 0)
		rc = vy__reply_uint(c, &rep, "chmod", &cnt);
	vy__leave(c);
	return rc;
}

static int
spill_rt(struct vy_client *c, uint64_t op, const vy_id *ids, size_t n,
	 int *out)
{
	struct vy_reply rep;
	struct cr r;
	size_t k, i;
	int b = 0;
	int rc = vy__enter(c);

	if (rc)
		return rc;
	vy__req(c);
	cw_array(&c->req, 2);
	cw_uint(&c->req, op);
	cw_array(&c->req, n);
	for (i = 0; i < n; i++)
		cw_uint(&c->req, ids[i]);
	rc = vy__rt(c, MSG_SPILL, 0, &rep);
	if (rc == 0 && out) {
		cr_init(&r, rep.body, rep.len);
		if (cr_array(&r, &k) || k != 1 || cr_bool(&r, &b))
			rc = vy__malformed(c, "spill");
		*out = b;
	}
	vy__leave(c);
	return rc;
}

VY_API int
vy_evict(struct vy_client *c, const vy_id *ids, size_t n)
{
	return spill_rt(c, SPILL_OP_EVICT, ids, n, NULL);
}

VY_API int
vy_load(struct vy_client *c, const vy_id *ids, size_t n, int hold)
{
	return spill_rt(c, hold ? SPILL_OP_LOAD_HOLD : SPILL_OP_LOAD, ids, n,
			NULL);
}

VY_API int
vy_unhold(struct vy_client *c, const vy_id *ids, size_t n)
{
	return spill_rt(c, SPILL_OP_UNHOLD, ids, n, NULL);
}

VY_API int
vy_is_spilled(struct vy_client *c, vy_id id, int *spilled)
{
	return spill_rt(c, SPILL_OP_QUERY, &id, 1, spilled);
}

/* One LIST page; entries go to fn. *last gets the last id, *more whether
 * the daemon has more. */
static int
list_page(struct vy_client *c, const char *glob, uint64_t after,
	  int (*fn)(void *ctx, const struct vy_list_entry *e), void *ctx,
	  uint64_t *last, int *more)
{
	struct vy_reply rep;
	uint8_t *body = NULL;
	char **names = NULL;
	char *typebuf = NULL;
	struct cr r;
	size_t n, i, k, j, nn;
	int rc;

	vy__req(c);
	cw_array(&c->req, 3);
	vy__str_or_null(&c->req, glob);
	cw_uint(&c->req, after);
	cw_uint(&c->req, 10000);
	rc = vy__rt(c, MSG_LIST, 0, &rep);
	if (rc == 0)
		rc = vy__copy_body(c, &rep, &body);
	if (rc)
		return rc;
	cr_init(&r, body, rep.len);
	if (cr_array(&r, &n) || n != 2 || cr_array(&r, &n)) {
		free(body);
		return vy__malformed(c, "list");
	}
	/* Callbacks run unlocked: they may use the client. */
	vy__leave(c);
	for (i = 0; rc == 0 && i < n; i++) {
		struct vy_list_entry e;
		const char *t;
		size_t tl;
		uint64_t flags, nb, uid, gid, mode;

		memset(&e, 0, sizeof(e));
		if (cr_array(&r, &k) || k != 8 || cr_uint(&r, &e.id) ||
		    cr_str(&r, &t, &tl) || cr_uint(&r, &nb) ||
		    cr_uint(&r, &flags) || cr_array(&r, &nn)) {
			rc = -EPROTO;
			break;
		}
		free(typebuf);
		typebuf = strndup(t, tl);
		free(names);
		names = calloc(nn ? nn : 1, sizeof(*names));
		if (!typebuf || !names) {
			rc = -ENOMEM;
			break;
		}
		for (j = 0; j < nn; j++) {
			const char *s;
			size_t sl;

			if (cr_str(&r, &s, &sl)) {
				rc = -EPROTO;
				break;
			}
			names[j] = strndup(s, sl);
		}
		if (rc == 0 && (cr_uint(&r, &uid) || cr_uint(&r, &gid) ||
				cr_uint(&r, &mode) || uid > UINT32_MAX ||
				gid > UINT32_MAX || mode > PROTO_MODE_BITS))
			rc = -EPROTO;
		if (rc)
			break;
		e.uid = (uint32_t)uid;
		e.gid = (uint32_t)gid;
		e.mode = (unsigned)mode;
		e.typename = typebuf;
		e.nbytes = nb;
		e.is_blob = (flags & LIST_F_BLOB) != 0;
		e.persisted = (flags & LIST_F_PERSISTED) != 0;
		e.spilled = (flags & LIST_F_SPILLED) != 0;
		e.stream = !(flags & LIST_F_STREAM) ? 0 :
			(flags & LIST_F_STREAM_FAILED) ? VY_STREAM_FAILED :
			(flags & LIST_F_STREAM_END) ? VY_STREAM_FINISHED :
			VY_STREAM_OPEN;
		e.names = (const char *const *)names;
		e.nnames = nn;
		*last = e.id;
		rc = fn(ctx, &e);
		for (j = 0; j < nn; j++)
			free(names[j]);
	}
	if (rc == 0 && cr_bool(&r, more))
		rc = -EPROTO;
	free(names);
	free(typebuf);
	free(body);
	pthread_mutex_lock(&c->lock);
	return rc;
}

VY_API int
vy_list(struct vy_client *c, const char *glob,
	int (*fn)(void *ctx, const struct vy_list_entry *e), void *ctx)
{
	uint64_t after = 0;
	int more = 1, rc = vy__enter(c);

	if (rc)
		return rc;
	while (rc == 0 && more)
		rc = list_page(c, glob, after, fn, ctx, &after, &more);
	vy__leave(c);
	return rc;
}

/* meta.json text of id, as the daemon renders it. */
static int
meta_reply(struct vy_client *c, vy_id id, char **out)
{
	struct vy_reply rep;
	struct cr r;
	const char *s;
	size_t n, l;
	char *t;
	int rc;

	*out = NULL;
	vy__req(c);
	cw_array(&c->req, 1);
	cw_uint(&c->req, id);
	rc = vy__rt(c, MSG_META, 0, &rep);
	if (rc)
		return rc;
	cr_init(&r, rep.body, rep.len);
	if (cr_array(&r, &n) || n != 1 || cr_str(&r, &s, &l))
		return vy__malformed(c, "meta");
	t = malloc(l + 1);
	if (!t)
		return vy__fail(c, -ENOMEM, "out of memory");
	memcpy(t, s, l);
	t[l] = 0;
	*out = t;
	return 0;
}

VY_API int
vy_meta_json(struct vy_client *c, vy_id id, char **json)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	rc = meta_reply(c, id, json);
	vy__leave(c);
	return rc;
}
