/*
 * store_adopt: copies of objects that another instance of the cluster made,
 * entered under their own ids. Ids are unique cluster-wide (cluster.h) and
 * objects never change, so a copy is the same object: names, members and
 * ids a client holds stay valid, and a second get finds it here. Blobs
 * come first (a writable memfd to fill, or a small blob), then the
 * composite objects of the tree in one all-or-nothing call.
 *
 * A copy keeps the owner, group and mode the object has on its instance
 * (the instance says, GET_F_OWNERS), so each instance grants the same
 * users the same access to it: uids are taken to mean the same users on
 * every machine of a cluster, as NFS takes them. From an instance too old
 * to say, a copy is the daemon user's with PROTO_MODE_DEFAULT.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "banned.h"

/* The mode a copy gets: its instance's, or the default. The store
 * checks it like any mode (mode_check). */
static unsigned
who_mode(const struct store_who *who)
{
	return who ? who->mode : PROTO_MODE_DEFAULT;
}

/* Gives o the owner and group its instance says (who), or the daemon's;
 * its mode was set at creation (who_mode). */
static void
set_who(struct store *s, struct object *o, const struct store_who *who)
{
	obj_set_owner(s, o, NULL, who_mode(who));
	if (who) {
		o->uid = who->uid;
		o->gid = who->gid;
	}
}

/* The blob just made under id takes its owner from who. */
static void
blob_who(struct store *s, uint64_t id, const struct store_who *who)
{
	struct object *o;

	if (!who)
		return;
	store_lock(s);
	/* a large one is still being written, a small one sealed */
	if ((o = idtab_get(&s->unsealed, id)) || (o = idtab_get(&s->objs, id)))
		set_who(s, o, who);
	store_unlock(s);
}

int
store_adopt_blob(struct store *s, struct store_owner *ow, uint64_t id,
		 size_t len, const struct store_who *who, int *fd)
{
	uint64_t got;
	int rc;

	if (!meta_id_is_blob(id) || len <= PROTO_SMALL_MAX)
		return store_fail(-EINVAL, "o%016" PRIx64 " is not a blob id "
				  "of a large blob", id);
	rc = blob_create(s, ow, len, who_mode(who), 0, id, &got, fd, NULL);
	if (rc == 0)
		blob_who(s, id, who);
	return rc;
}

int
store_adopt_small(struct store *s, uint64_t id, const void *p, size_t len,
		  const struct store_who *who)
{
	uint64_t got;
	int rc;

	if (!meta_id_is_blob(id))
		return store_fail(-EINVAL, "o%016" PRIx64 " is not a blob id",
				  id);
	rc = small_put(s, NULL, p, len, who_mode(who), id, &got);
	if (rc == 0)
		blob_who(s, id, who);
	return rc;
}

static int
adopted_before(const struct store_adopted *v, size_t n, uint64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].id == id)
			return 1;
	return 0;
}

int
store_adopt_objects(struct store *s, const struct store_adopted *v, size_t n)
{
	struct meta_members it;
	struct meta_view mv;
	struct object *o, *m;
	size_t i;
	int rc = 0, r;

	store_lock(s);
	/* Check everything first: nothing is added unless all of it is. */
	for (i = 0; i < n; i++) {
		if ((rc = mode_check(who_mode(v[i].who))))
			goto out;
		if (meta_id_is_blob(v[i].id) || v[i].id == 0 ||
		    v[i].metalen > META_MAX_LEN ||
		    meta_view_parse(v[i].meta, v[i].metalen, &mv)) {
			rc = store_fail(-EBADMSG, "object o%016" PRIx64 ": "
					"malformed metadata from its instance",
					v[i].id);
			goto out;
		}
		if (idtab_get(&s->objs, v[i].id))
			continue; /* already here (a shared member) */
		if (id_in_use(s, v[i].id)) {
			rc = store_fail(-EBUSY, "object o%016" PRIx64 " is "
					"being deleted here", v[i].id);
			goto out;
		}
		meta_members_init(&it, &mv);
		while ((r = meta_members_next(&it)) > 0) {
			if (it.id == v[i].id ||
			    (!idtab_get(&s->objs, it.id) &&
			     !adopted_before(v, i, it.id))) {
				rc = store_fail(-ENOENT, "object o%016" PRIx64
						": member o%016" PRIx64 " was "
						"not copied", v[i].id, it.id);
				goto out;
			}
		}
		if (r < 0) {
			rc = store_fail(-EBADMSG, "object o%016" PRIx64 ": "
					"malformed member list", v[i].id);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (idtab_get(&s->objs, v[i].id))
			continue;
		meta_view_parse(v[i].meta, v[i].metalen, &mv);
		o = xcalloc(1, sizeof(*o));
		o->id = v[i].id;
		o->flags = OBJ_SEALED;
		set_who(s, o, v[i].who);
		o->metalen = (uint32_t)v[i].metalen;
		o->u.meta = xmemdup(v[i].meta, v[i].metalen ?
				    v[i].metalen : 1);
		meta_members_init(&it, &mv);
		while (meta_members_next(&it) > 0) {
			m = idtab_get(&s->objs, it.id);
			m->refs++;
			o->nbytes += m->nbytes;
		}
		tab_put(&s->objs, o);
		store_notify(s, STORE_EV_ADD, o->id, NULL);
	}
out:
	store_unlock(s);
	return rc;
}
