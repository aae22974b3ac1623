/*
 * store_loader: reads a blob that lives only on disk (restored lazily, or
 * spilled) back into memory, and when its file turns out damaged drops
 * the blob and every composite that needs it, their files moving to
 * damaged/.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

/* Every composite that references bad, directly or not, goes with it:
 * none of them could be read whole. Their files move to damaged/. */
static void
drop_damaged(struct store *s, struct object *bad)
{
	struct object **set = xmalloc(sizeof(*set)), *o;
	struct pjob *job = NULL;
	struct idtab in;
	size_t n = 1, left, i, count = 0, pos;
	int changed = 1;
	char idbuf[META_ID_LEN];

	idtab_init(&in);
	set[0] = bad;
	tab_put(&in, bad);
	while (changed) {
		changed = 0;
		pos = 0;
		while ((o = idtab_next(&s->objs, &pos))) {
			struct meta_members it;
			int refs_bad = 0;

			if ((o->flags & OBJ_BLOB) || idtab_get(&in, o->id))
				continue;
			obj_members(o, &it);
			while (!refs_bad && obj_member_next(&it))
				refs_bad = idtab_get(&in, it.id) != NULL;
			if (!refs_bad)
				continue;
			set = xreallocarray(set, n + 1, sizeof(*set));
			set[n++] = o;
			tab_put(&in, o);
			changed = 1;
		}
	}
	idtab_release(&in);
	/* Parents first: each goes once nothing references it. */
	for (left = n; left > 0;) {
		size_t before = left;

		for (i = 0; i < n; i++)
			if (set[i] && set[i]->refs == 0) {
				obj_delete(s, set[i], 0, &count, &job, 1,
					   NULL);
				set[i] = NULL;
				left--;
			}
		if (left == before)
			break; /* cannot happen: set is closed upwards */
	}
	free(set);
	/* Nobody waits for this ticket: the damage is logged and the
	 * caller's own call fails. */
	job_submit(s, job, 0);
	meta_id_format(bad->id, idbuf);
	if (count > 1)
		log_warnx("store: dropped %zu objects that reference damaged "
			  "blob %s", count - 1, idbuf);
}

/* Reads lazy blob id back into memory. Caller holds the lock; it is let
 * go while the file is read and decompressed (the blob is marked
 * OBJ_LOADING and pinned meanwhile; other loaders of it wait). */
int
load_blob(struct store *s, uint64_t id)
{
	struct object *o;
	const char *why = NULL;
	char idbuf[META_ID_LEN], msg[320] = "", name[40];
	uint8_t *buf = NULL;
	size_t fp = 0;
	uint64_t len;
	struct persist *src;
	int fd = -1, ro = -1, rc = 0, spilled, tries = 0;

	meta_id_format(id, idbuf);
	for (;;) {
		o = idtab_get(&s->objs, id);
		if (!o)
			return store_fail(-ENOENT, "no object %s", idbuf);
		if (!(o->flags & OBJ_LAZY))
			return 0;
		if (o->flags & OBJ_LOADING) {
			pthread_cond_wait(&s->load_cond, &s->lock);
			continue;
		}
		/* Full: spill others first (letting go of the lock, so
		 * look again after). */
		fp = arena_footprint(o->nbytes);
		if (o->nbytes > PROTO_SMALL_MAX && s->spill && fp >= o->nbytes &&
		    !store_fits(s, fp) && tries++ < 3) {
			if (spill_room(s, fp) == 0)
				continue;
			/* (copied: store_fail writes where errmsg reads) */
			snprintf(msg, sizeof(msg), "%s", store_errmsg());
			return store_fail(-ENOSPC, "no space to read blob %s "
					  "back into memory: %s", idbuf, msg);
		}
		break;
	}
	spilled = (o->flags & OBJ_SPILLED) != 0;
	src = spilled ? s->spill : s->disk;
	len = o->nbytes;
	fp = 0;
	if (len <= PROTO_SMALL_MAX) {
		buf = xmalloc(len ? len : 1);
	} else {
		fp = arena_footprint(len);
		if (fp < len || !store_fits(s, fp)) {
			char w[32], u[32], l[32];

			human_bytes(len, w, sizeof(w));
			human_bytes(used_bytes(s), u, sizeof(u));
			human_bytes(s->limit, l, sizeof(l));
			return store_fail(-ENOSPC, "no space to read persisted "
					  "blob %s (%s) back into memory: %s "
					  "of %s in use (vineyardd --size)",
					  idbuf, w, u, l);
		}
		snprintf(name, sizeof(name), "vineyard-%016" PRIx64, id);
		rc = arena_memfd(name, (size_t)len, &fd);
		if (rc)
			return store_fail(rc, "cannot reserve memory to read "
					  "persisted blob %s back: %s", idbuf,
					  strerror(-rc));
		s->big_bytes += fp;
	}
	o->flags |= OBJ_LOADING;
	o->pins++;
	pthread_mutex_unlock(&s->lock);

	/* Written with pwrite: the memfd's pages are reserved already, and
	 * copying in beats faulting a mapping in page by page. */
	rc = persist_load_blob(src, id, fd, buf, len, &why);
	if (rc)
		snprintf(msg, sizeof(msg), "%s", persist_errmsg());
	if (rc == 0 && fd >= 0) {
		rc = arena_seal(fd);
		if (rc == 0 && (ro = arena_reopen_ro(fd)) < 0)
			rc = ro;
		if (rc)
			snprintf(msg, sizeof(msg), "sealing: %s", strerror(-rc));
	}

	pthread_mutex_lock(&s->lock);
	if (rc == 0 && buf) {
		uint32_t seg, off;

		slab_limit_update(s);
		rc = slab_alloc(&s->slab, (size_t)len, &seg, &off);
		if (rc == 0) {
			if (len)
				memcpy(slab_ptr(&s->slab, seg, off), buf,
				       (size_t)len);
			o->flags |= OBJ_SMALL;
			o->u.small.seg = seg;
			o->u.small.off = off;
		} else {
			snprintf(msg, sizeof(msg), "no space in memory for it "
				 "(vineyardd --size)");
		}
	} else if (rc == 0) {
		close(fd);
		o->u.big.fd = -1;
		o->u.big.rofd = ro;
	}
	if (rc == 0) {
		o->flags &= ~OBJ_LAZY;
		s->payload += len;
		s->lazy_bytes -= len;
		o->used_at = ++s->tick;
	} else if (fd >= 0) {
		close(fd);
		s->big_bytes -= fp;
	}
	o->flags &= ~OBJ_LOADING;
	pthread_cond_broadcast(&s->load_cond);
	free(buf);
	if (rc == -EBADMSG && spilled) {
		/* Never served: set aside, and what needs it goes. */
		log_warnx("store: spilled blob %s: %s", idbuf, msg);
		spill_damaged(s, id, why ? why : "damaged");
		if (!(o->flags & OBJ_DELETED))
			drop_damaged(s, o);
		rc = store_fail(-EBADMSG, "%s; the object was dropped", msg);
	} else if (rc == -EBADMSG) {
		log_warnx("store: persisted blob %s: %s", idbuf, msg);
		if (!(o->flags & OBJ_DELETED))
			drop_damaged(s, o);
		rc = store_fail(-EBADMSG, "%s; the object was dropped", msg);
	} else if (rc) {
		rc = store_fail(rc, "cannot read persisted blob %s back: %s",
				idbuf, msg);
	}
	obj_unpin(s, o, 1);
	if (rc == 0)
		spill_kick(s);
	return rc;
}
