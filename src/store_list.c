/*
 * store_list: read-only views (info, metadata as JSON, members,
 * listing), the names facade, watches and store_has.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fnmatch.h>

#include "store_int.h"
#include "banned.h"

/* ---- views ---- */

static void
info_of(struct object *o, struct store_info *out)
{
	struct name *n;

	memset(out, 0, sizeof(*out));
	out->id = o->id;
	out->nbytes = o->nbytes;
	out->flags = o->flags;
	out->perm.uid = o->uid;
	out->perm.gid = o->gid;
	out->perm.mode = o->mode;
	for (n = o->names; n; n = n->next_of_obj)
		out->nnames++;
	if (o->flags & OBJ_BLOB) {
		snprintf(out->typename, sizeof(out->typename), "%s",
			 META_BLOB_TYPENAME);
	} else {
		struct meta_view v;

		if (meta_view_parse(o->u.meta, o->metalen, &v))
			fatalx("store: stored metadata is corrupt");
		snprintf(out->typename, sizeof(out->typename), "%.*s",
			 (int)v.typelen, v.typename);
		out->nmembers = (uint32_t)v.nmembers;
	}
}

int
store_info(struct store *s, uint64_t id, struct store_info *out)
{
	struct object *o;
	int rc = 0;

	store_lock(s);
	o = store_lookup(s, id);
	if (o) {
		info_of(o, out);
		if (o->flags & OBJ_STREAM)
			out->stream = (uint32_t)stream_state_of(s, id);
	} else
		rc = -ENOENT;
	store_unlock(s);
	return rc;
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The object's names, sorted, in a malloc'd array of borrowed strings. */
const char **
names_of(struct object *o, size_t *n)
{
	const char **v;
	struct name *nm;
	size_t k = 0;

	for (nm = o->names; nm; nm = nm->next_of_obj)
		k++;
	v = xcalloc(k, sizeof(*v));
	*n = k;
	k = 0;
	for (nm = o->names; nm; nm = nm->next_of_obj)
		v[k++] = nm->str;
	qsort(v, *n, sizeof(*v), strp_cmp);
	return v;
}

int
store_meta_json(struct store *s, struct store_owner *ow, uint64_t id,
		struct cw *out)
{
	struct store_info info;
	struct meta_json j;
	struct meta_view v;
	struct object *o;
	const char **names;
	size_t nn;

	store_lock(s);
	o = store_lookup(s, id);
	if (!o || !obj_may(ow, o, PERM_R)) {
		int rc = o ? perm_deny(ow, o, "read") : -ENOENT;

		store_unlock(s);
		return rc;
	}
	info_of(o, &info);
	names = names_of(o, &nn);
	memset(&j, 0, sizeof(j));
	j.id = o->id;
	j.typename = info.typename;
	j.nbytes = o->nbytes;
	j.persisted = (o->flags & OBJ_PERSISTED) != 0;
	j.names = names;
	j.nnames = nn;
	if (!(o->flags & OBJ_BLOB)) {
		meta_view_parse(o->u.meta, o->metalen, &v);
		j.view = &v;
	}
	meta_json(out, &j);
	store_unlock(s);
	free(names);
	return cw_finish(out);
}

int
store_members(struct store *s, uint64_t id,
	      int (*fn)(void *ctx, const char *name, size_t len,
			uint64_t member),
	      void *ctx)
{
	struct meta_members it;
	struct object *o;
	int rc = 0;

	store_lock(s);
	o = store_lookup(s, id);
	if (!o)
		rc = -ENOENT;
	else {
		obj_members(o, &it);
		while (rc == 0 && obj_member_next(&it))
			rc = fn(ctx, it.name, it.namelen, it.id);
	}
	store_unlock(s);
	return rc;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
obj_cmp(const void *a, const void *b)
{
	const struct object *x = *(struct object *const *)a;
	const struct object *y = *(struct object *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int
lazy_one(struct store *s, struct object *o, void *ctx)
{
	(void)s;
	if (o->flags & OBJ_LAZY)
		*(int *)ctx = 1;
	return !*(int *)ctx;
}

int
store_list(struct store *s, const char *glob, uint64_t after, size_t limit,
	   store_list_fn fn, void *ctx, int *more)
{
	struct object **v, *o;
	size_t pos = 0, n = 0, i;
	int rc = 0;

	store_lock(s);
	v = xcalloc(s->objs.count, sizeof(*v));
	while ((o = idtab_next(&s->objs, &pos))) {
		struct store_info info;

		if (o->id <= after)
			continue;
		if (glob) {
			info_of(o, &info);
			if (fnmatch(glob, info.typename, 0) != 0)
				continue;
		}
		v[n++] = o;
	}
	qsort(v, n, sizeof(*v), obj_cmp);
	*more = limit && n > limit;
	if (limit && n > limit)
		n = limit;
	for (i = 0; i < n && rc == 0; i++) {
		struct store_info info;
		const char **names;
		size_t nn;

		info_of(v[i], &info);
		if (!(v[i]->flags & OBJ_BLOB) && s->lazy_bytes) {
			/* on disk only: some blob of it is (spilled, or
			 * restored and not read back yet) */
			int lazy = 0;

			store_walk(s, v[i], lazy_one, &lazy);
			if (lazy)
				info.flags |= OBJ_LAZY;
		}
		if (v[i]->flags & OBJ_STREAM)
			info.stream = (uint32_t)stream_state_of(s, v[i]->id);
		names = names_of(v[i], &nn);
		rc = fn(ctx, &info, names, nn);
		free(names);
	}
	store_unlock(s);
	free(v);
	return rc;
}

int
store_ids(struct store *s, uint64_t **ids, size_t *n)
{
	struct object *o;
	size_t pos = 0, k = 0;
	uint64_t *v;

	store_lock(s);
	v = malloc((s->objs.count ? s->objs.count : 1) * sizeof(*v));
	if (!v) {
		store_unlock(s);
		return -ENOMEM;
	}
	while ((o = idtab_next(&s->objs, &pos)))
		v[k++] = o->id;
	store_unlock(s);
	qsort(v, k, sizeof(*v), u64_cmp);
	*ids = v;
	*n = k;
	return 0;
}

/* ---- names ---- */

/* -EACCES unless ow may re-point or drop n. */
static int
name_may(const struct store_owner *ow, const struct name *n)
{
	if (owner_is(ow, n->uid))
		return 0;
	return store_fail(-EACCES, "permission denied: name '%s' belongs to "
			  "uid %" PRIu32 "; only its owner may re-point or "
			  "drop it", n->str, n->uid);
}

int
store_name_put(struct store *s, struct store_owner *ow, const char *name,
	       size_t len, uint64_t id, uint64_t *ticket)
{
	struct object *o, *old;
	struct name *n;
	const char *why;
	uint64_t tk = 0;
	int rc = 0;

	if (ticket)
		*ticket = 0;
	if (names_check(name, len, &why))
		return store_fail(-EINVAL, "invalid name: %s", why);
	store_lock(s);
	o = store_lookup(s, id);
	n = names_get(&s->names, name, len);
	if (!o)
		rc = -ENOENT;
	else if (!obj_may(ow, o, PERM_W))
		rc = perm_deny(ow, o, "name");
	else if (n)
		rc = name_may(ow, n);
	if (rc == 0) {
		struct pjob *job = NULL;

		n = names_bind(&s->names, name, len, o, &old);
		if (!old) {
			/* A new name is its binder's; re-pointed, it
			 * stays its owner's. */
			if (ow && ow->has_cred) {
				n->uid = ow->uid;
				n->gid = ow->gid;
			} else {
				n->uid = s->uid;
				n->gid = s->gid;
			}
		}
		store_notify(s, STORE_EV_NAME_SET, id, n->str);
		/* persistence: anchors carry names */
		anchor_dirty(s, o, &job);
		if (old != o)
			anchor_dirty(s, old, &job);
		tk = job_submit(s, job, 0);
	}
	store_unlock(s);
	if (ticket)
		*ticket = tk;
	return rc;
}

int
store_name_get(struct store *s, const char *name, size_t len, uint64_t *id)
{
	struct name *n;
	int rc = 0;

	store_lock(s);
	n = names_get(&s->names, name, len);
	if (n)
		*id = n->obj->id;
	else
		rc = store_fail(-ENOENT, "no name '%.*s'",
				(int)(len > 255 ? 255 : len), name);
	store_unlock(s);
	return rc;
}

int
store_name_owner(struct store *s, const char *name, size_t len, uint64_t *id,
		 struct store_perm *owner)
{
	struct name *n;
	int rc = 0;

	store_lock(s);
	n = names_get(&s->names, name, len);
	if (n) {
		*id = n->obj->id;
		owner->uid = n->uid;
		owner->gid = n->gid;
		owner->mode = 0;
	} else {
		rc = -ENOENT;
	}
	store_unlock(s);
	return rc;
}

int
store_name_drop(struct store *s, struct store_owner *ow, const char *name,
		size_t len, uint64_t *ticket)
{
	struct name *n;
	uint64_t tk = 0;
	int rc = 0;

	if (ticket)
		*ticket = 0;
	store_lock(s);
	n = names_get(&s->names, name, len);
	if (n && (rc = name_may(ow, n)) == 0) {
		struct object *o = n->obj;
		struct pjob *job = NULL;
		char *copy = xmemdup(n->str, n->len + 1u);

		names_drop(&s->names, n);
		store_notify(s, STORE_EV_NAME_DROP, o->id, copy);
		free(copy);
		anchor_dirty(s, o, &job); /* persistence */
		tk = job_submit(s, job, 0);
	} else if (!n) {
		rc = store_fail(-ENOENT, "no name '%.*s'",
				(int)(len > 255 ? 255 : len), name);
	}
	store_unlock(s);
	if (ticket)
		*ticket = tk;
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct name *const *)a)->str,
		      (*(struct name *const *)b)->str);
}

int
store_name_list(struct store *s, const char *glob,
		int (*fn)(void *ctx, const char *name, uint64_t id,
			  const struct store_perm *owner), void *ctx)
{
	struct name **v, *n;
	size_t pos = 0, k = 0, i;
	int rc = 0;

	store_lock(s);
	v = xcalloc(s->names.count, sizeof(*v));
	while ((n = names_next(&s->names, &pos)))
		if (!glob || fnmatch(glob, n->str, 0) == 0)
			v[k++] = n;
	qsort(v, k, sizeof(*v), name_cmp);
	for (i = 0; i < k && rc == 0; i++) {
		struct store_perm owner = { v[i]->uid, v[i]->gid, 0 };

		rc = fn(ctx, v[i]->str, v[i]->obj->id, &owner);
	}
	store_unlock(s);
	free(v);
	return rc;
}

void
store_watch(struct store *s, store_watch_fn fn, void *ctx)
{
	store_lock(s);
	if (s->nwatch < 4) {
		s->watch[s->nwatch].fn = fn;
		s->watch[s->nwatch].ctx = ctx;
		s->nwatch++;
	}
	store_unlock(s);
}

/* ---- added for the FUSE view (fs/) ---- */

int
store_has(struct store *s, uint64_t id)
{
	int found;

	store_lock(s);
	found = idtab_get(&s->objs, id) != NULL;
	store_unlock(s);
	return found;
}

void
store_unwatch(struct store *s, store_watch_fn fn, void *ctx)
{
	int i;

	store_lock(s);
	for (i = 0; i < s->nwatch; i++) {
		if (s->watch[i].fn != fn || s->watch[i].ctx != ctx)
			continue;
		memmove(&s->watch[i], &s->watch[i + 1],
			(size_t)(s->nwatch - i - 1) * sizeof(s->watch[0]));
		s->nwatch--;
		break;
	}
	store_unlock(s);
}
