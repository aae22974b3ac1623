/*
 * store_adopt: copies of objects that another instance of the cluster made,
 * entered under their own ids. Ids are unique cluster-wide (cluster.h) and
 * objects never change, so a copy is the same object: names, members and
 * ids a client holds stay valid, and a second get finds it here. Blobs
 * come first (a writable memfd to fill, or a small blob), then the
 * composite objects of the tree in one all-or-nothing call.
 *
 * Owners do not travel between instances (vineyard-cluster(7), BUGS): a
 * copy is the daemon user's, mode PROTO_MODE_DEFAULT, as the mount shows
 * other instances' objects.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "banned.h"

int
store_adopt_blob(struct store *s, struct store_owner *ow, uint64_t id,
		 size_t len, int *fd)
{
	uint64_t got;

	if (!meta_id_is_blob(id) || len <= PROTO_SMALL_MAX)
		return store_fail(-EINVAL, "o%016" PRIx64 " is not a blob id "
				  "of a large blob", id);
	return blob_create(s, ow, len, PROTO_MODE_DEFAULT, 0, id, &got,
			   fd);
}

int
store_adopt_small(struct store *s, uint64_t id, const void *p, size_t len)
{
	uint64_t got;

	if (!meta_id_is_blob(id))
		return store_fail(-EINVAL, "o%016" PRIx64 " is not a blob id",
				  id);
	return small_put(s, NULL, p, len, PROTO_MODE_DEFAULT, id, &got);
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
		obj_set_owner(s, o, NULL, PROTO_MODE_DEFAULT);
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
