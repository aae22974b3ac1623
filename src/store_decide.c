/*
 * store_decide: a delete that takes persisted objects is decided on disk
 * before memory changes, so that it happens whole or not at all.
 *
 * At start-up an object comes back when an anchor file or a content file
 * with the ROOT flag reaches it. Before store_delete touches memory, the
 * files of that kind that belong to objects the delete will take are
 * renamed to trash names (persist_trash), under the store lock: renames
 * only, no fsync. If one fails (a read-only or immutable objects/, EIO),
 * those already renamed are renamed back, and the delete fails with
 * nothing deleted, in memory or on disk. If all succeed, memory follows
 * and the writer removes the trash and the remaining files (content that
 * nothing reaches any more is dropped at start-up even if that removal
 * fails), then syncs the directory before the reply.
 *
 * Objects whose persist is still running (pending) have no files to
 * decide on yet: their removal is queued behind that job, as before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_int.h"
#include "banned.h"

/* What the planned delete does to one object. */
struct mark {
	uint64_t id;  /* first: idtab key */
	uint32_t dec; /* references the delete takes away from it */
	int gone;     /* the delete takes it */
};

struct moved {
	uint64_t id;
	uint8_t kind;
};

static struct mark *
mark_of(struct idtab *t, uint64_t id)
{
	struct mark *m = idtab_get(t, id);

	if (!m) {
		m = xcalloc(1, sizeof(*m));
		m->id = id;
		tab_put(t, m);
	}
	return m;
}

/* The ids the delete of ids will take, as obj_delete would walk them
 * (without changing anything): *gone, *ngone. */
static void
plan(struct store *s, const uint64_t *ids, size_t n, int deep,
     const struct store_owner *ow, struct idtab *t, uint64_t **gone,
     size_t *ngone)
{
	struct object **work = NULL;
	size_t nwork = 0, cap = 0, i;

	for (i = 0; i < n; i++) {
		struct object *root = idtab_get(&s->objs, ids[i]);

		if (!root || mark_of(t, root->id)->gone)
			continue;
		work = xreallocarray(work, cap = 1 + nwork, sizeof(*work));
		work[nwork++] = root;
		while (nwork > 0) {
			struct object *o = work[--nwork];
			struct mark *mo = mark_of(t, o->id);
			struct meta_members it;

			if (mo->gone)
				continue;
			mo->gone = 1;
			ids_add(gone, ngone, o->id);
			obj_members(o, &it);
			while (obj_member_next(&it)) {
				struct object *m = idtab_get(&s->objs, it.id);
				struct mark *mm;

				if (!m)
					continue;
				mm = mark_of(t, it.id);
				mm->dec++;
				/* another user's member stays (obj_delete) */
				if (!deep || m->refs > mm->dec || m->names ||
				    mm->gone || !obj_may(ow, m, PERM_W))
					continue;
				if (nwork == cap)
					work = xreallocarray(work, cap = 2 * cap + 1,
							     sizeof(*work));
				work[nwork++] = m;
			}
		}
	}
	free(work);
}

/* Renames one file to its trash name, remembering it; 0 or -errno. */
static int
trash_one(struct store *s, uint64_t id, uint8_t kind, struct moved **v,
	  size_t *nv)
{
	int rc = persist_trash(s->disk, kind, id, 0);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	*v = xreallocarray(*v, *nv + 1, sizeof(**v));
	(*v)[*nv].id = id;
	(*v)[*nv].kind = kind;
	(*nv)++;
	return 0;
}

int
store_delete_decide(struct store *s, const uint64_t *ids, size_t n, int deep,
		    const struct store_owner *ow)
{
	struct moved *v = NULL;
	uint64_t *gone = NULL;
	size_t ngone = 0, nv = 0, i;
	struct idtab t;
	size_t pos = 0;
	struct mark *m;
	int rc = 0;

	if (!s->disk || s->pobjs.count == 0)
		return 0;
	idtab_init(&t);
	plan(s, ids, n, deep, ow, &t, &gone, &ngone);
	for (i = 0; i < ngone && rc == 0; i++) {
		struct pobj *p = pobj_of(s, gone[i]);

		if (!p || p->pending)
			continue;
		if (p->anchored)
			rc = trash_one(s, p->id, DISKFMT_ANCHOR, &v, &nv);
		if (rc == 0 && p->rootfile)
			rc = trash_one(s, p->id, meta_id_is_blob(p->id) ?
				       DISKFMT_BLOB : DISKFMT_OBJECT, &v, &nv);
	}
	if (rc) {
		char idbuf[META_ID_LEN];
		char why[400];

		snprintf(why, sizeof(why), "%s", persist_errmsg());
		/* Undo, newest first. */
		while (nv > 0) {
			nv--;
			if (persist_trash(s->disk, v[nv].kind, v[nv].id, 1))
				log_warnx("persist: %s; the object will not "
					  "come back after a restart",
					  persist_errmsg());
		}
		meta_id_format(ids[0], idbuf);
		rc = store_fail(rc, "cannot delete %s%s: %s; nothing was "
				"deleted", idbuf, n > 1 ? " and the others" :
				"", why);
	}
	while ((m = idtab_next(&t, &pos)))
		free(m);
	idtab_release(&t);
	free(gone);
	free(v);
	return rc;
}
