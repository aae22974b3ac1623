/*
 * store_blob: one blob's life before it is an object: create, seal,
 * abort, and small blobs put in one call.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

/* ---- blobs ---- */

/* id in use anywhere in the store (sealed, being written, or deleted and
 * still mapped). */
int
id_in_use(struct store *s, uint64_t id)
{
	return idtab_get(&s->objs, id) || idtab_get(&s->unsealed, id) ||
	       idtab_get(&s->zombies, id);
}

/* nowait: never wait for the reserve pool being filled (a stream's
 * chunk: the server thread that serves every reader must not wait for a
 * thread that runs only when a CPU is idle, which readers keep busy). */
int
blob_create(struct store *s, struct store_owner *ow, size_t len,
	    unsigned mode, int nowait, uint64_t want, uint64_t *id, int *fd,
	    uint64_t *huge)
{
	struct object *o;
	uint64_t fp = arena_footprint(len), hg = 0;
	char name[40];
	int rc, f;

	if (len == 0)
		return store_fail(-EINVAL, "a blob created for writing needs "
				  "at least one byte");
	if ((rc = mode_check(mode)))
		return rc;
	store_lock(s);
	if (want && id_in_use(s, want)) {
		rc = store_fail(-EEXIST, "blob o%016" PRIx64 " is already "
				"here", want);
		goto out;
	}
	reserve_note(s, fp, nowait); /* may wait for the pool: before the
				      * checks */
	if (fp < len) {
		rc = fail_nospace(s, len);
		goto out;
	}
	/* Full: spill cold blobs (which says why it cannot). */
	if (!store_fits(s, fp) &&
	    (rc = s->spill ? spill_room(s, fp) : fail_nospace(s, len)))
		goto out;
	o = xcalloc(1, sizeof(*o));
	if (reserve_take(s, len, &f, &o->id, &hg)) {
		/* the pool, named after the id it was made for; a copy of
		 * another instance's blob keeps that blob's id all the same
		 * (the name only labels the memfd) */
		if (want)
			o->id = want;
		rc = 0;
	} else {
		o->id = want ? want : new_id(s, 1);
		snprintf(name, sizeof(name), "vineyard-%016" PRIx64, o->id);
		rc = arena_memfd(name, len, &f);
	}
	if (rc) {
		free(o);
		if (rc == -ENOSPC) {
			char w[32];

			human_bytes(len, w, sizeof(w));
			rc = store_fail(-ENOSPC, "no memory left to reserve %s "
					"for a blob", w);
		} else {
			rc = store_fail(rc, "cannot create shared memory: %s",
					strerror(-rc));
		}
		goto out;
	}
	o->flags = OBJ_BLOB;
	o->nbytes = len;
	o->owner = ow;
	obj_set_owner(s, o, ow, mode);
	o->u.big.fd = f;
	o->u.big.rofd = -1;
	tab_put(&s->unsealed, o);
	s->big_bytes += fp;
	s->payload += len;
	*id = o->id;
	*fd = f;
	if (huge)
		*huge = hg;
out:
	store_unlock(s);
	return rc;
}

int
store_blob_create(struct store *s, struct store_owner *ow, size_t len,
		  unsigned mode, uint64_t *id, int *fd, uint64_t *huge)
{
	return blob_create(s, ow, len, mode, 0, 0, id, fd, huge);
}

int
seal_prepare(struct store *s, struct object *o, int *rofd)
{
	char idbuf[META_ID_LEN];
	struct stat st;
	int rc, ro;

	meta_id_format(o->id, idbuf);
	/* The memfd's size is sealed at create (arena_memfd); check all the
	 * same, since readers would die of SIGBUS past a short end. */
	if (fstat(o->u.big.fd, &st) < 0 || (uint64_t)st.st_size != o->nbytes)
		return store_fail(-EIO, "blob %s is not the %" PRIu64 " bytes "
				  "it was created with; it cannot be sealed",
				  idbuf, o->nbytes);
	ro = arena_reopen_ro(o->u.big.fd);
	if (ro < 0)
		return store_fail(ro, "cannot reopen blob %s read-only: %s",
				  idbuf, strerror(-ro));
	rc = arena_seal(o->u.big.fd);
	if (rc) {
		close(ro);
		if (rc == -EBUSY)
			return store_fail(rc, "blob %s is still mapped "
					  "writable; unmap it before sealing",
					  idbuf);
		return store_fail(rc, "cannot seal blob %s: %s", idbuf,
				  strerror(-rc));
	}
	*rofd = ro;
	return 0;
}

void
seal_commit(struct store *s, struct object *o, int ro)
{
	assert(!(o->flags & OBJ_SEALED) && idtab_get(&s->unsealed, o->id) == o);
	close(o->u.big.fd);
	o->u.big.fd = -1;
	o->u.big.rofd = ro;
	o->owner = NULL;
	o->flags |= OBJ_SEALED;
	idtab_del(&s->unsealed, o->id);
	tab_put(&s->objs, o);
	s->nblobs++;
	o->used_at = ++s->tick;
	store_notify(s, STORE_EV_ADD, o->id, NULL);
	spill_kick(s);
}

int
find_unsealed(struct store *s, struct store_owner *ow, uint64_t id,
	      struct object **out)
{
	struct object *o = idtab_get(&s->unsealed, id);
	char idbuf[META_ID_LEN];

	meta_id_format(id, idbuf);
	if (!o) {
		if (idtab_get(&s->objs, id))
			return store_fail(-EEXIST, "blob %s is already sealed",
					  idbuf);
		return store_fail(-ENOENT, "no blob %s being written", idbuf);
	}
	if (o->owner != ow)
		return store_fail(-EPERM, "blob %s belongs to another client",
				  idbuf);
	*out = o;
	return 0;
}

int
store_blob_seal(struct store *s, struct store_owner *ow, uint64_t id)
{
	struct object *o;
	int rc, ro;

	store_lock(s);
	rc = find_unsealed(s, ow, id, &o);
	if (rc == 0 && (rc = seal_prepare(s, o, &ro)) == 0)
		seal_commit(s, o, ro);
	store_unlock(s);
	return rc;
}

int
store_blob_abort(struct store *s, struct store_owner *ow, uint64_t id)
{
	struct object *o;
	int rc;

	store_lock(s);
	rc = find_unsealed(s, ow, id, &o);
	if (rc == 0) {
		idtab_del(&s->unsealed, id);
		obj_destroy(s, o);
	}
	store_unlock(s);
	return rc;
}

int
store_blob_put_small(struct store *s, struct store_owner *ow, const void *p,
		     size_t len, unsigned mode, uint64_t *id)
{
	return small_put(s, ow, p, len, mode, 0, id);
}

int
small_put(struct store *s, struct store_owner *ow, const void *p, size_t len,
	  unsigned mode, uint64_t want, uint64_t *id)
{
	struct object *o;
	uint32_t seg, off;
	int rc;

	if (len > PROTO_SMALL_MAX)
		return store_fail(-EINVAL, "an inline blob is at most %u bytes",
				  PROTO_SMALL_MAX);
	if ((rc = mode_check(mode)))
		return rc;
	store_lock(s);
	if (want && id_in_use(s, want)) {
		rc = store_fail(-EEXIST, "blob o%016" PRIx64 " is already "
				"here", want);
		goto out;
	}
	slab_limit_update(s);
	rc = slab_alloc(&s->slab, len, &seg, &off);
	if (rc) {
		rc = rc == -ENOSPC ? fail_nospace(s, SLAB_SEG_SIZE) :
			store_fail(rc, "cannot allocate a segment: %s",
				   strerror(-rc));
		goto out;
	}
	if (len)
		memcpy(slab_ptr(&s->slab, seg, off), p, len);
	o = xcalloc(1, sizeof(*o));
	o->id = want ? want : new_id(s, 1);
	o->flags = OBJ_BLOB | OBJ_SMALL | OBJ_SEALED;
	o->nbytes = len;
	obj_set_owner(s, o, ow, mode);
	o->u.small.seg = seg;
	o->u.small.off = off;
	tab_put(&s->objs, o);
	s->nblobs++;
	s->payload += len;
	*id = o->id;
	store_notify(s, STORE_EV_ADD, o->id, NULL);
out:
	store_unlock(s);
	return rc;
}
