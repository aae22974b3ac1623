/*
 * store_pjob: the persistence jobs the store calls queue: persist,
 * unpersist, prefetch, tickets and waiting; the hooks (pobj_drop,
 * anchor_dirty) other store files call. The design:
 *
 * What is on disk (persist.h, diskfmt.h): a content file per persisted
 * object (.blob or .obj); the one persisted by request has the ROOT flag
 * and is written last. An anchor file carries names, and marks top-level
 * objects that have no ROOT file: persisted by request after being
 * persisted as a member, or left alone when their parent went. At start-up
 * the objects reachable from roots and anchors come back; content files
 * nothing reaches are leftovers of a persist that a crash cut short.
 *
 * A persist job (writer thread) marks the closure's new objects persisted
 * at once but "pending" (so a concurrent persist, delete or unpersist sees
 * them and queues its own disk work behind), pins them, then without the
 * lock writes their content files (temp, fsync, rename, fsync dir), then
 * the anchors, and only then reports success. On failure it removes what
 * it wrote and forgets the pending marks. Deletes, unpersists and name
 * changes update memory at once and queue removals and anchor rewrites;
 * the writer runs jobs in order, so disk follows memory. Callers wait for
 * durability through tickets.
 *
 * Restored blobs above PROTO_SMALL_MAX stay on disk (OBJ_LAZY) until first
 * use; load_blob reads one back without holding the lock while it
 * decompresses. A blob found damaged then is dropped with every object that
 * references it, its files moved to damaged/.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

/* ---- small helpers the hooks use ---- */

struct pobj *
pobj_of(struct store *s, uint64_t id)
{
	return s->disk ? idtab_get(&s->pobjs, id) : NULL;
}

void
ids_add(uint64_t **v, size_t *n, uint64_t id)
{
	/* Capacity doubles at powers of two. */
	if (*n == 0 || (*n & (*n - 1)) == 0)
		*v = xreallocarray(*v, *n ? *n * 2 : 4, sizeof(**v));
	(*v)[(*n)++] = id;
}

struct pjob *
job_get(struct pjob **jp)
{
	if (!*jp)
		*jp = xcalloc(1, sizeof(**jp));
	return *jp;
}

void
job_free(struct pjob *j)
{
	if (!j)
		return;
	free(j->persist);
	free(j->anchors);
	free(j->rm);
	free(j->quar);
	free(j->loads);
	free(j->reown);
	free(j->evict);
	free(j);
}

/* Queues j for the writer (or the loader); returns its ticket. Caller
 * holds the store lock. NULL is a no-op and returns 0. */
uint64_t
job_submit(struct store *s, struct pjob *j, int loader)
{
	if (!j)
		return 0;
	j->ticket = ++s->tickets;
	if (loader) {
		*s->lq_tail = j;
		s->lq_tail = &j->next;
		pthread_cond_signal(&s->lq_cond);
	} else {
		*s->wq_tail = j;
		s->wq_tail = &j->next;
		pthread_cond_signal(&s->wq_cond);
	}
	return j->ticket;
}

/* Forgets that p's object is persisted and queues removal (or, for damage,
 * quarantine) of its files. Members' prefs are the caller's. */
void
pobj_drop(struct store *s, struct pobj *p, struct pjob **jp, int quarantine)
{
	struct pjob *j = job_get(jp);

	idtab_del(&s->pobjs, p->id);
	s->disk_bytes -= p->content + p->anchor;
	s->disk_raw -= p->raw;
	if (!p->pending)
		s->npersisted--;
	if (quarantine) {
		/* Counted now; the files move when the writer gets there. */
		s->damaged += 1u + (p->anchored != 0);
		ids_add(&j->quar, &j->nquar, p->id);
	}
	else
		ids_add(&j->rm, &j->nrm, p->id);
	free(p);
}

/* The names of o changed: its anchor file carries them. */
void
anchor_dirty(struct store *s, struct object *o, struct pjob **jp)
{
	struct pjob *j;

	if (!o || !pobj_of(s, o->id))
		return;
	j = job_get(jp);
	ids_add(&j->anchors, &j->nanchors, o->id);
}


void
jfail(struct pjob *j, int rc, const char *fmt, ...)
{
	va_list ap;

	if (j->rc)
		return;
	j->rc = rc;
	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
}

struct idlist {
	uint64_t *ids;
	size_t n;
};

static int
lazy_one(struct store *s, struct object *o, void *ctx)
{
	struct idlist *l = ctx;

	(void)s;
	if (o->flags & OBJ_LAZY)
		ids_add(&l->ids, &l->n, o->id);
	return 1;
}

void
lazy_ids(struct store *s, struct object *root, uint64_t **ids, size_t *n)
{
	struct idlist l = { NULL, 0 };

	store_walk(s, root, lazy_one, &l);
	*ids = l.ids;
	*n = l.n;
}


/* ---- the calls ---- */

int
store_persist(struct store *s, struct store_owner *ow, const uint64_t *ids,
	      size_t n, uint64_t *ticket)
{
	struct object *o;
	uint64_t tk = 0;
	size_t i;
	int rc = 0;

	if (ticket)
		*ticket = 0;
	store_lock(s);
	for (i = 0; i < n && rc == 0; i++) {
		if (!(o = store_lookup(s, ids[i]))) {
			char idbuf[META_ID_LEN];

			meta_id_format(ids[i], idbuf);
			rc = store_fail(-ENOENT, "no object %s", idbuf);
		} else if (!obj_may(ow, o, PERM_W)) {
			rc = perm_deny(ow, o, "persist");
		}
	}
	if (rc == 0 && !s->disk)
		rc = store_fail(-ENOTSUP, "this daemon has no data directory; "
				"persistence is not available");
	/* A stream must be finished and whole to persist; keeping it turns
	 * its chunks into members. Every stream of the group is checked
	 * before any is kept, so a refusal changes nothing. */
	for (i = 0; i < n && rc == 0 && s->disk; i++) {
		o = store_lookup(s, ids[i]);
		if (o->flags & OBJ_STREAM)
			rc = stream_keep_check(s, o);
	}
	for (i = 0; i < n && rc == 0 && s->disk; i++) {
		o = store_lookup(s, ids[i]);
		if (o->flags & OBJ_STREAM)
			rc = stream_keep(s, o);
	}
	if (rc == 0 && n && s->disk) {
		struct pjob *job = NULL;

		job_get(&job);
		for (i = 0; i < n; i++)
			ids_add(&job->persist, &job->npersist, ids[i]);
		tk = job_submit(s, job, 0);
	}
	store_unlock(s);
	if (ticket)
		*ticket = tk;
	return rc;
}

int
store_unpersist(struct store *s, struct store_owner *ow, uint64_t id,
		uint64_t *ticket)
{
	struct object **work = NULL, *o;
	struct pjob *job = NULL;
	struct pobj *p;
	size_t nwork = 0, i;
	uint64_t *lazy = NULL, tk = 0;
	size_t nlazy = 0;
	char idbuf[META_ID_LEN];
	int rc = 0;

	if (ticket)
		*ticket = 0;
	meta_id_format(id, idbuf);
	store_lock(s);
	o = store_lookup(s, id);
	if (!o) {
		rc = -ENOENT;
		goto out;
	}
	if (!obj_may(ow, o, PERM_W)) {
		rc = perm_deny(ow, o, "unpersist");
		goto out;
	}
	p = pobj_of(s, id);
	if (!p)
		goto out; /* not persisted: nothing to do */
	if (p->prefs) {
		rc = store_fail(-EBUSY, "object %s is a member of %u persisted "
				"object%s; unpersist %s first", idbuf, p->prefs,
				p->prefs == 1 ? "" : "s",
				p->prefs == 1 ? "that" : "those");
		goto out;
	}
	/* Its bytes must be in memory before its file goes (the server
	 * prefetched them; other callers wait here). */
	lazy_ids(s, o, &lazy, &nlazy);
	for (i = 0; i < nlazy && rc == 0; i++)
		rc = load_blob(s, lazy[i]);
	free(lazy);
	if (rc)
		goto out;
	o = store_lookup(s, id);
	p = o ? pobj_of(s, id) : NULL;
	if (!o || !p || p->prefs) {
		rc = store_fail(-EAGAIN, "object %s changed meanwhile; try "
				"again", idbuf);
		goto out;
	}
	/* Members no other persisted object holds, and that were not
	 * persisted by request, stop being persisted too. */
	work = xmalloc(sizeof(*work));
	work[nwork++] = o;
	while (nwork > 0) {
		struct object *x = work[--nwork];
		struct pobj *px = pobj_of(s, x->id);
		struct meta_members it;

		if (!px)
			continue;
		obj_members(x, &it);
		while (obj_member_next(&it)) {
			struct pobj *pm = pobj_of(s, it.id);

			if (!pm || !pm->prefs || --pm->prefs)
				continue;
			if (pm->explicit_) {
				struct pjob *j = job_get(&job);

				ids_add(&j->anchors, &j->nanchors, it.id);
			} else {
				work = xreallocarray(work, nwork + 1,
						     sizeof(*work));
				work[nwork++] = idtab_get(&s->objs, it.id);
			}
		}
		x->flags &= ~OBJ_PERSISTED;
		pobj_drop(s, px, &job, 0);
	}
	free(work);
	tk = job_submit(s, job, 0);
out:
	store_unlock(s);
	if (ticket)
		*ticket = tk;
	return rc;
}

int
store_prefetch(struct store *s, struct store_owner *ow, uint64_t id,
	       unsigned flags, uint64_t *ticket)
{
	struct object *o, *bad;
	struct pjob *job;
	uint64_t *ids, tk = 0;
	size_t n;
	int rc = 0;

	if (ticket)
		*ticket = 0;
	store_lock(s);
	o = s->disk || s->spill ? idtab_get(&s->objs, id) : NULL;
	/* The request's own check, made before any byte comes off disk. */
	if (o && (flags & PREFETCH_F_UNPERSIST) && !obj_may(ow, o, PERM_W))
		rc = perm_deny(ow, o, "unpersist");
	else if (o && !(flags & PREFETCH_F_UNPERSIST) &&
		 (bad = tree_unreadable(s, ow, o)))
		rc = perm_deny(ow, bad, "read");
	if (o && rc == 0) {
		lazy_ids(s, o, &ids, &n);
		if (n) {
			job = xcalloc(1, sizeof(*job));
			job->loads = ids;
			job->nloads = n;
			tk = job_submit(s, job, 1);
		}
	}
	store_unlock(s);
	if (ticket)
		*ticket = tk;
	return rc;
}

int
store_done_fd(struct store *s)
{
	return s->efd;
}

int
store_done_next(struct store *s, uint64_t *ticket, int *rc, char *msg,
		size_t len)
{
	struct pjob *j;
	uint64_t v;

	if (s->efd < 0)
		return 0;
	if (read(s->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new, but the list may still hold jobs */
	}
	pthread_mutex_lock(&s->lock);
	j = s->done;
	if (j) {
		s->done = j->next;
		if (!s->done)
			s->done_tail = &s->done;
	}
	pthread_mutex_unlock(&s->lock);
	if (!j)
		return 0;
	*ticket = j->ticket;
	*rc = j->rc;
	snprintf(msg, len, "%s", j->rc ? j->msg : "");
	job_free(j);
	return 1;
}

int
store_wait(struct store *s, uint64_t ticket)
{
	struct pjob **pp, *j = NULL;
	int rc;

	if (!ticket)
		return 0;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		for (pp = &s->done; *pp; pp = &(*pp)->next)
			if ((*pp)->ticket == ticket)
				break;
		if (*pp)
			break;
		pthread_cond_wait(&s->done_cond, &s->lock);
	}
	j = *pp;
	*pp = j->next;
	/* Re-find the tail: j may have been the last. */
	s->done_tail = &s->done;
	while (*s->done_tail)
		s->done_tail = &(*s->done_tail)->next;
	pthread_mutex_unlock(&s->lock);
	rc = j->rc;
	if (rc)
		store_fail(rc, "%s", j->msg);
	job_free(j);
	return rc;
}
