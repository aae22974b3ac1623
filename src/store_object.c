/*
 * store_object: objects: put (a tree of members), walk, lookup, get
 * (pinning the closure), open one blob, and delete (shallow or deep).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

/* ---- objects ---- */

static int
in_list(const uint64_t *v, size_t n, uint64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == id)
			return 1;
	return 0;
}

int
store_obj_put(struct store *s, struct store_owner *ow, const void *tree,
	      size_t len, const uint64_t *seal, size_t nseal,
	      const char *name, size_t namelen, int persist, unsigned mode,
	      uint64_t *id, uint64_t *ticket)
{
	struct meta_tree t;
	struct object *o;
	struct pjob *job = NULL;
	uint64_t *ids = NULL, tk = 0;
	int *rofds = NULL;
	struct cw w;
	size_t i, k;
	int rc;

	if (ticket)
		*ticket = 0;
	if ((rc = mode_check(mode)))
		return rc;
	rc = meta_tree_parse(tree, len, &t);
	if (rc)
		return store_fail(rc, "bad metadata: %s", t.err);
	if (name) {
		const char *why;

		if (names_check(name, namelen, &why)) {
			meta_tree_release(&t);
			return store_fail(-EINVAL, "invalid name: %s", why);
		}
	}
	if (persist && !s->disk) {
		meta_tree_release(&t);
		return store_fail(-ENOTSUP, "this daemon has no data "
				  "directory; persistence is not available");
	}
	cw_init(&w);
	store_lock(s);
	/* Check everything before changing anything. */
	for (i = 0; i < nseal; i++) {
		if ((rc = find_unsealed(s, ow, seal[i], &o)))
			goto out;
		if (in_list(seal, i, seal[i])) {
			rc = store_fail(-EINVAL, "blob listed twice to seal");
			goto out;
		}
	}
	for (i = 0; i < t.nmembers; i++) {
		const struct meta_member *m = &t.members[i];
		char idbuf[META_ID_LEN];

		if (m->child >= 0 || in_list(seal, nseal, m->id))
			continue;
		/* Taking another user's object as a member needs read on it:
		 * the new object would hand it out. */
		if ((o = idtab_get(&s->objs, m->id))) {
			if (!obj_may(ow, o, PERM_R)) {
				rc = perm_deny(ow, o, "use as a member");
				goto out;
			}
			continue;
		}
		meta_id_format(m->id, idbuf);
		rc = store_fail(-ENOENT, "member %.*s: no object %s",
				(int)(m->namelen > 64 ? 64 : m->namelen),
				m->name, idbuf);
		goto out;
	}
	if (name) {
		struct name *nm = names_get(&s->names, name, namelen);

		if (nm && !owner_is(ow, nm->uid)) {
			rc = store_fail(-EACCES, "permission denied: name "
					"'%.*s' belongs to uid %" PRIu32 "; "
					"only its owner may re-point it",
					(int)namelen, name, nm->uid);
			goto out;
		}
	}
	/* What can fail of sealing, for every blob; then nothing can. */
	rofds = xcalloc(nseal ? nseal : 1, sizeof(*rofds));
	for (i = 0; i < nseal; i++) {
		o = idtab_get(&s->unsealed, seal[i]);
		if ((rc = seal_prepare(s, o, &rofds[i]))) {
			while (i > 0)
				close(rofds[--i]);
			goto out;
		}
	}
	for (i = 0; i < nseal; i++) {
		o = idtab_get(&s->unsealed, seal[i]);
		o->mode = (uint16_t)mode;
		seal_commit(s, o, rofds[i]);
	}
	ids = xcalloc(t.nnodes, sizeof(*ids));
	for (i = 0; i < t.nnodes; i++) {
		const struct meta_node *n = &t.nodes[i];

		o = xcalloc(1, sizeof(*o));
		o->id = ids[i] = new_id(s, 0);
		o->flags = OBJ_SEALED;
		obj_set_owner(s, o, ow, mode);
		for (k = 0; k < n->nmembers; k++) {
			const struct meta_member *m =
				&t.members[n->first_member + k];
			struct object *mo = idtab_get(&s->objs, m->child >= 0 ?
						      ids[m->child] : m->id);

			mo->refs++;
			o->nbytes += mo->nbytes;
		}
		cw_reset(&w);
		meta_node_encode(&t, i, ids, &w);
		o->metalen = (uint32_t)w.len;
		o->u.meta = xmemdup(w.buf, w.len);
		tab_put(&s->objs, o);
		store_notify(s, STORE_EV_ADD, o->id, NULL);
	}
	*id = ids[t.nnodes - 1];
	if (name) {
		struct object *old;
		struct name *nm;

		o = idtab_get(&s->objs, *id);
		nm = names_bind(&s->names, name, namelen, o, &old);
		if (!old) {
			nm->uid = o->uid;
			nm->gid = o->gid;
		}
		store_notify(s, STORE_EV_NAME_SET, o->id, nm->str);
		if (old != o)
			anchor_dirty(s, old, &job); /* persistence */
	}
	if (persist) { /* persistence */
		struct pjob *j = job_get(&job);

		ids_add(&j->persist, &j->npersist, *id);
	}
	tk = job_submit(s, job, 0);
out:
	store_unlock(s);
	if (ticket)
		*ticket = tk;
	if (w.oom)
		fatalx("out of memory encoding metadata");
	cw_release(&w);
	free(rofds);
	free(ids);
	meta_tree_release(&t);
	return rc;
}

static void
blobref(struct store *s, struct object *o, struct store_blobref *b)
{
	memset(b, 0, sizeof(*b));
	b->id = o->id;
	b->len = o->nbytes;
	b->who.uid = o->uid;
	b->who.gid = o->gid;
	b->who.mode = o->mode;
	if (o->flags & OBJ_SMALL) {
		b->kind = BLOB_KIND_SEGMENT;
		b->fd = -1;
		b->seg = o->u.small.seg;
		b->off = o->u.small.off;
		b->seg_fd = s->slab.segs[b->seg].rofd;
		b->seg_gen = s->slab.segs[b->seg].gen;
		b->ptr = slab_ptr(&s->slab, b->seg, b->off);
	} else {
		b->kind = BLOB_KIND_MEMFD;
		b->fd = o->u.big.rofd;
		b->seg_fd = -1;
	}
}

/* Starts walking o's members (a blob has none). The store checked the
 * document when it stored it, so a malformed one is a bug: fatal. */
void
obj_members(const struct object *o, struct meta_members *it)
{
	char idbuf[META_ID_LEN];
	struct meta_view v;

	if (o->flags & OBJ_BLOB) {
		meta_members_init(it, NULL);
		return;
	}
	if (meta_view_parse(o->u.meta, o->metalen, &v)) {
		meta_id_format(o->id, idbuf);
		fatalx("store: stored metadata of %s is corrupt", idbuf);
	}
	meta_members_init(it, &v);
}

int
obj_member_next(struct meta_members *it)
{
	int rc = meta_members_next(it);

	if (rc < 0)
		fatalx("store: a stored member list is corrupt");
	return rc;
}

/* Visits root and what it references, each once; fn returns 1 to go into
 * an object's members. Caller holds the lock. */
void
store_walk(struct store *s, struct object *root,
	   int (*fn)(struct store *s, struct object *o, void *ctx), void *ctx)
{
	struct object **stack = xmalloc(16 * sizeof(*stack)), *o;
	size_t depth = 0, cap = 16;
	struct idtab seen;

	idtab_init(&seen);
	stack[depth++] = root;
	tab_put(&seen, root);
	while (depth > 0) {
		struct meta_members it;

		o = stack[--depth];
		if (!fn(s, o, ctx) || (o->flags & OBJ_BLOB))
			continue;
		obj_members(o, &it);
		while (obj_member_next(&it)) {
			struct object *m = idtab_get(&s->objs, it.id);

			if (!m || idtab_get(&seen, it.id))
				continue;
			tab_put(&seen, m);
			if (depth == cap) {
				cap *= 2;
				stack = xreallocarray(stack, cap, sizeof(*stack));
			}
			stack[depth++] = m;
		}
	}
	idtab_release(&seen);
	free(stack);
}

struct object *
store_lookup(struct store *s, uint64_t id)
{
	struct object *o = idtab_get(&s->objs, id);

	if (!o) {
		char idbuf[META_ID_LEN];

		meta_id_format(id, idbuf);
		if (idtab_get(&s->unsealed, id))
			store_fail(-ENOENT, "object %s is not sealed yet",
				   idbuf);
		else
			store_fail(-ENOENT, "no object %s", idbuf);
	}
	return o;
}

/* Finds the first object of a tree that ow may not read. */
struct read_check {
	const struct store_owner *ow;
	struct object *bad;
};

static int
check_read(struct store *s, struct object *o, void *ctx)
{
	struct read_check *c = ctx;

	(void)s;
	if (c->bad)
		return 0;
	if (!obj_may(c->ow, o, PERM_R)) {
		c->bad = o;
		return 0;
	}
	return 1;
}

struct get_walk {
	struct store_owner *ow;
	unsigned flags;
	store_obj_fn on_obj;
	store_blob_fn on_blob;
	void *ctx;
	int rc;
};

static int
get_one(struct store *s, struct object *o, void *ctx)
{
	struct get_walk *g = ctx;

	if (g->rc)
		return 0; /* stopped: let the walk drain */
	if ((o->flags & OBJ_LAZY) && !(g->flags & GET_F_META)) {
		g->rc = store_fail(-EAGAIN, "a blob of this object is being "
				   "read back from disk; try again");
		return 0;
	}
	if (o->flags & OBJ_BLOB) {
		struct store_blobref b;

		blobref(s, o, &b);
		if (!(g->flags & GET_F_META)) {
			b.held = store_holds(g->ow, o->id);
			store_pin(g->ow, o);
			o->used_at = ++s->tick;
		}
		g->rc = g->on_blob ? g->on_blob(g->ctx, &b) : 0;
		return 0;
	}
	if (g->on_obj) {
		struct store_who who = { o->uid, o->gid, o->mode };

		g->rc = g->on_obj(g->ctx, o->id, o->u.meta, o->metalen,
				  o->nbytes, &who);
	}
	return g->rc == 0;
}

struct object *
tree_unreadable(struct store *s, const struct store_owner *ow,
		struct object *root)
{
	struct read_check chk = { ow, NULL };

	if (ow && ow->checked)
		store_walk(s, root, check_read, &chk);
	return chk.bad;
}

int
store_get(struct store *s, struct store_owner *ow, uint64_t id,
	  unsigned flags, store_obj_fn on_obj, store_blob_fn on_blob,
	  void *ctx)
{
	struct get_walk g = { ow, flags, on_obj, on_blob, ctx, 0 };
	struct object *o;
	int rc = 0;

	store_lock(s);
	o = store_lookup(s, id);
	if (!o) {
		rc = -ENOENT;
		goto out;
	}
	/* Every object of the tree, as the mount checks every directory on
	 * the way: nothing pinned, nothing loaded, until all may be read. */
	{
		struct object *bad = tree_unreadable(s, ow, o);

		if (bad) {
			rc = perm_deny(ow, bad, "read");
			goto out;
		}
	}
	/* persistence: read lazily restored blobs back first. The server
	 * has done it on the loader thread already (store_prefetch), so
	 * this only blocks other callers. */
	if (!(flags & GET_F_META) && (s->disk || s->spill)) {
		uint64_t *lazy = NULL;
		size_t nlazy = 0, i;

		lazy_ids(s, o, &lazy, &nlazy);
		for (i = 0; i < nlazy && rc == 0; i++)
			rc = load_blob(s, lazy[i]);
		free(lazy);
		/* load_blob let go of the lock: look again. */
		if (rc == 0 && nlazy && !(o = store_lookup(s, id)))
			rc = -ENOENT;
		if (rc)
			goto out;
	}
	store_walk(s, o, get_one, &g);
	rc = g.rc;
out:
	store_unlock(s);
	return rc;
}

int
store_blob_open(struct store *s, struct store_owner *ow, uint64_t id,
		struct store_blobref *b)
{
	struct object *o;
	int rc = 0;

	store_lock(s);
	o = store_lookup(s, id);
	/* The check comes first: a refused client reads nothing from disk. */
	if (o && !obj_may(ow, o, PERM_R))
		rc = perm_deny(ow, o, "read");
	else if (o && (o->flags & OBJ_LAZY)) {
		/* persistence: blocks while the bytes are read back */
		rc = load_blob(s, id);
		o = rc ? NULL : store_lookup(s, id);
	}
	if (rc)
		;
	else if (!o)
		rc = -ENOENT;
	else if (!(o->flags & OBJ_BLOB))
		rc = store_fail(-EISDIR, "object is not a blob");
	else if (!obj_may(ow, o, PERM_R))
		rc = perm_deny(ow, o, "read");
	else {
		blobref(s, o, b);
		store_pin(ow, o);
		o->used_at = ++s->tick;
	}
	store_unlock(s);
	return rc;
}

/* Removes o from view and frees it now or when its last pin goes. With
 * deep, members left unreferenced and unnamed follow; a worklist instead of
 * recursion, because member chains can be arbitrarily long. */
void
obj_delete(struct store *s, struct object *root, int deep, size_t *count,
	   struct pjob **jp, int quarantine, const struct store_owner *ow)
{
	struct object **work = xmalloc(sizeof(*work));
	size_t nwork = 1, cap = 1;

	work[0] = root;
	while (nwork > 0) {
		struct object *o = work[--nwork];
		struct pobj *po = pobj_of(s, o->id);
		int was_persisted = po != NULL;
		struct meta_members it;

		idtab_del(&s->objs, o->id);
		/* Each name goes with its own event, as in store_name_drop,
		 * so watchers (the FUSE view) can forget it. */
		while (o->names) {
			char *copy = xmemdup(o->names->str,
					     o->names->len + 1u);

			names_drop(&s->names, o->names);
			store_notify(s, STORE_EV_NAME_DROP, o->id, copy);
			free(copy);
		}
		store_notify(s, STORE_EV_DEL, o->id, NULL);
		(*count)++;
		if (o->flags & OBJ_STREAM) /* its chunks go */
			stream_forget(s, o->id, jp);
		if (po) { /* persistence: its files go too */
			pobj_drop(s, po, jp, quarantine);
			o->flags &= ~OBJ_PERSISTED;
		}
		if (o->flags & OBJ_BLOB) {
			assert(s->nblobs > 0);
			s->nblobs--;
		}
		obj_members(o, &it);
		while (obj_member_next(&it)) {
			struct object *m = idtab_get(&s->objs, it.id);

			if (!m)
				continue;
			/* o counted as one of m's references when stored */
			assert(m->refs > 0);
			m->refs--;
			if (was_persisted) {
				/* persistence: a member no persisted object
				 * holds any more needs its own anchor, unless
				 * it goes too (checked when the job runs). */
				struct pobj *pm = pobj_of(s, it.id);

				if (pm && --pm->prefs == 0) {
					struct pjob *j = job_get(jp);

					ids_add(&j->anchors, &j->nanchors,
						it.id);
				}
			}
			/* Another user's member stays, as if named. */
			if (!deep || m->refs || m->names ||
			    !obj_may(ow, m, PERM_W))
				continue;
			if (nwork == cap) {
				cap *= 2;
				work = xreallocarray(work, cap, sizeof(*work));
			}
			work[nwork++] = m;
		}
		/* Only now: the member walk above read o's metadata. */
		if (o->pins) {
			o->flags |= OBJ_DELETED;
			tab_put(&s->zombies, o);
		} else {
			obj_destroy(s, o);
		}
	}
	free(work);
}

int
store_delete(struct store *s, struct store_owner *ow, const uint64_t *ids,
	     size_t n, unsigned flags, size_t *count, uint64_t *ticket)
{
	struct pjob *job = NULL;
	uint64_t tk;
	size_t i;
	int rc = 0;

	if (ticket)
		*ticket = 0;
	*count = 0;
	store_lock(s);
	for (i = 0; i < n && rc == 0; i++) {
		struct object *o = store_lookup(s, ids[i]);
		char idbuf[META_ID_LEN];

		if (!o) {
			rc = -ENOENT;
			break;
		}
		meta_id_format(ids[i], idbuf);
		if (!obj_may(ow, o, PERM_W))
			rc = perm_deny(ow, o, "delete");
		else if (o->refs)
			rc = store_fail(-EBUSY, "object %s is a member of %u "
					"other object%s; delete %s first",
					idbuf, o->refs, o->refs == 1 ? "" : "s",
					o->refs == 1 ? "that" : "those");
	}
	/* persistence: decided on disk first, or not at all */
	if (rc == 0)
		rc = store_delete_decide(s, ids, n, !(flags & DELETE_F_SHALLOW),
					 ow);
	for (i = 0; i < n && rc == 0; i++) {
		struct object *o = idtab_get(&s->objs, ids[i]);

		/* An earlier deep delete in this batch may have taken it. */
		if (o)
			obj_delete(s, o, !(flags & DELETE_F_SHALLOW), count,
				   &job, 0, ow);
	}
	if (job)
		job->decided = 1;
	tk = job_submit(s, job, 0); /* persistence */
	store_unlock(s);
	if (ticket)
		*ticket = tk;
	return rc;
}
