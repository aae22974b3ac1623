/*
 * store_writer: the two disk threads. The writer runs persist, anchor,
 * removal, quarantine and change-of-mode jobs in order; the loader runs
 * prefetches with load_blob (store_loader.c), and spills for puts and
 * evicts (store_spill.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"


struct pitem {
	struct object *o;
	uint64_t id;
	int rofd;           /* big blob */
	const void *src;    /* small blob: its bytes in the segment */
	size_t len;         /* blob bytes, or document bytes */
	uint8_t *doc;       /* composite: a copy of its document */
	uint16_t flags;     /* DISKFMT_F_ROOT for the object persisted */
	struct diskfmt_owner owner; /* as it was when collected */
	struct persist_file f;
	int state;          /* 1 written, 2 synced, 3 committed */
};

/* From this many files on, a persist group is synced with one syncfs
 * rather than an fsync of each (persist_sync_group). */
#define PERSIST_GROUP_SYNC 8

/* Such a group goes to disk as one group log (persist_log.c) when every
 * file in it is small: slab blobs and records, up to LOG_GROUP_MAX bytes
 * in all. Never a memfd blob: once persisted, its memory may be dropped
 * and read back from its content file, which a log writes only later. */
#define LOG_GROUP_MAX (8u << 20)

struct collect {
	struct pitem *v;
	size_t n;
	uint64_t target;    /* the object persisted by request */
};

/* Adds o to the job if it is not persisted yet; objects that are have
 * their whole closure persisted already. */
static int
collect_one(struct store *s, struct object *o, void *ctx)
{
	struct collect *c = ctx;
	struct pitem *it;
	struct pobj *p;

	if (pobj_of(s, o->id))
		return 0;
	c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
	it = &c->v[c->n++];
	memset(it, 0, sizeof(*it));
	it->o = o;
	it->id = o->id;
	it->rofd = -1;
	it->f.fd = -1;
	if (o->flags & OBJ_SMALL) {
		it->src = slab_ptr(&s->slab, o->u.small.seg, o->u.small.off);
		it->len = (size_t)o->nbytes;
	} else if (o->flags & OBJ_BLOB) {
		it->rofd = o->u.big.rofd;
		it->len = (size_t)o->nbytes;
	} else {
		it->doc = xmemdup(o->u.meta, o->metalen);
		it->len = o->metalen;
	}
	if (o->id == c->target) {
		it->flags = DISKFMT_F_ROOT;
	}
	/* A chmod after this queues its own rewrite, which runs later. */
	obj_disk_owner(o, &it->owner);
	o->pins++;
	p = xcalloc(1, sizeof(*p));
	p->id = o->id;
	p->pending = 1;
	p->rootfile = o->id == c->target;
	tab_put(&s->pobjs, p);
	return 1;
}

/* Calls fn for each member entry of composite document doc. */
static void
each_member(const uint8_t *doc, size_t len, void (*fn)(void *ctx, uint64_t),
	    void *ctx)
{
	struct meta_view v;
	struct meta_members it;

	if (meta_view_parse(doc, len, &v))
		fatalx("store: stored metadata is corrupt");
	meta_members_init(&it, &v);
	while (obj_member_next(&it))
		fn(ctx, it.id);
}

static void
prefs_inc(void *ctx, uint64_t id)
{
	struct pobj *p = pobj_of(ctx, id);

	if (!p)
		fatalx("store: persisted object without persisted member");
	p->prefs++;
}

static void
prefs_dec(void *ctx, uint64_t id)
{
	struct pobj *p = pobj_of(ctx, id);

	if (p && p->prefs)
		p->prefs--;
}

/* A composite's content file, encoded into w (cw_release it). */
static void
record_image(const struct pitem *it, struct cw *w)
{
	cw_init(w);
	diskfmt_object_file(w, it->id, it->flags, &it->owner, it->doc,
			    it->len);
	if (w->oom)
		fatalx("out of memory encoding a record");
}

static int
write_item(struct store *s, struct pitem *it)
{
	struct cw w;
	int rc;

	if (it->doc) {
		record_image(it, &w);
		rc = persist_write_record(s->disk, DISKFMT_OBJECT, it->id,
					  w.buf, w.len, &it->f);
		cw_release(&w);
	} else {
		/* A big blob is read from its memfd (pread beats a mapping
		 * here), a small one from its segment. */
		rc = persist_write_blob(s->disk, it->id, it->flags,
					&it->owner, it->rofd, it->src, it->len,
					PERSIST_LEVEL, &s->cancel, &it->f);
	}
	if (rc == 0)
		it->state = 1;
	return rc;
}

/* Whether the group goes to disk as a group log. */
static int
log_eligible(const struct collect *c)
{
	size_t i, bytes = 0;

	if (c->n < PERSIST_GROUP_SYNC)
		return 0;
	for (i = 0; i < c->n; i++) {
		if (!c->v[i].doc && !c->v[i].src)
			return 0;
		bytes += c->v[i].len + DISKFMT_HDR_LEN + 64;
	}
	return bytes <= LOG_GROUP_MAX;
}

/* The group's content files, built in memory, as one group log made
 * durable; *seq names it. 0 or -errno with persist_errmsg(). */
static int
write_log(struct store *s, struct collect *c, uint64_t *seq)
{
	struct persist_item *v = xcalloc(c->n, sizeof(*v));
	uint8_t **bufs = xcalloc(c->n, sizeof(*bufs));
	size_t i, built;
	int rc = 0;

	for (built = 0; built < c->n && rc == 0; built++) {
		struct pitem *it = &c->v[built];
		uint8_t *buf = NULL;
		size_t len = 0;

		if (it->doc) {
			struct cw w;

			record_image(it, &w);
			buf = w.buf;  /* the cw's malloc'ed buffer, ours now */
			len = w.len;
		} else {
			rc = persist_blob_image(it->id, it->flags, &it->owner,
						it->src, it->len,
						PERSIST_LEVEL, &buf, &len);
		}
		v[built].kind = it->doc ? DISKFMT_OBJECT : DISKFMT_BLOB;
		v[built].id = it->id;
		bufs[built] = buf;
		v[built].buf = buf;
		v[built].len = len;
		it->f.len = len;
	}
	if (rc == 0)
		rc = persist_log_commit(s->disk, v, c->n, seq);
	for (i = 0; i < built; i++)
		free(bufs[i]);
	free(bufs);
	free(v);
	return rc;
}

/* Rewrites (or removes) the anchor files of ids from what memory says
 * now. Returns 0 or -errno (j says why). */
static int
write_anchors(struct store *s, struct pjob *j, const uint64_t *ids, size_t n)
{
	struct aitem {
		uint64_t id;    /* first: idtab key */
		int remove;
		int done;
		struct cw w;
		struct persist_file f;
	} **v = NULL;
	struct idtab seen;
	size_t nv = 0, i;
	int rc = 0;

	idtab_init(&seen);
	store_lock(s);
	for (i = 0; i < n; i++) {
		struct object *o = idtab_get(&s->objs, ids[i]);
		struct pobj *p = pobj_of(s, ids[i]);
		struct aitem *a;
		int want;

		if (!o || !p || idtab_get(&seen, ids[i]))
			continue;
		/* Top-level objects need an anchor unless their content
		 * file says so itself; names always live in anchors. */
		want = o->names || (!p->rootfile && (p->explicit_ ||
						     !p->prefs));
		if (!want && !p->anchored)
			continue;
		a = xcalloc(1, sizeof(*a));
		a->id = ids[i];
		a->f.fd = -1;
		tab_put(&seen, a);
		v = xreallocarray(v, nv + 1, sizeof(*v));
		v[nv++] = a;
		if (want) {
			struct diskfmt_owner *owners;
			const char **names;
			size_t nn, k;

			names = names_of(o, &nn);
			owners = xcalloc(nn ? nn : 1, sizeof(*owners));
			for (k = 0; k < nn; k++) {
				struct name *nm = names_get(&s->names,
							    names[k],
							    strlen(names[k]));

				owners[k].uid = nm->uid;
				owners[k].gid = nm->gid;
			}
			cw_init(&a->w);
			diskfmt_anchor_file(&a->w, a->id, s->seq++,
					    p->explicit_, names, owners, nn);
			free(owners);
			free(names);
			if (a->w.oom)
				fatalx("out of memory encoding a record");
		} else {
			a->remove = 1;
		}
	}
	store_unlock(s);
	idtab_release(&seen);
	for (i = 0; i < nv && rc == 0; i++) {
		struct aitem *a = v[i];

		if (a->remove) {
			rc = persist_remove(s->disk, DISKFMT_ANCHOR, a->id);
		} else {
			rc = persist_write_record(s->disk, DISKFMT_ANCHOR,
						  a->id, a->w.buf, a->w.len,
						  &a->f);
			if (rc == 0)
				rc = persist_sync(s->disk, &a->f);
			if (rc == 0)
				rc = persist_commit(s->disk, &a->f);
		}
		if (rc == 0)
			a->done = 1;
	}
	if (rc == 0 && nv)
		rc = persist_sync_dir(s->disk);
	if (rc)
		jfail(j, rc, "cannot write to the data directory: %s",
		      persist_errmsg());
	store_lock(s);
	for (i = 0; i < nv; i++) {
		struct aitem *a = v[i];
		struct pobj *p = pobj_of(s, a->id);

		if (p && a->done) {
			s->disk_bytes -= p->anchor;
			p->anchor = a->remove ? 0 : a->f.len;
			p->anchored = !a->remove;
			s->disk_bytes += p->anchor;
		}
		persist_discard(s->disk, &a->f);
		cw_release(&a->w);
		free(a);
	}
	store_unlock(s);
	free(v);
	return rc;
}

/* Brings the spilled blobs of every object in ids back into memory (the
 * writer reads memory). Loading lets go of the lock, so another blob may
 * be spilled again meanwhile: a few passes, then EAGAIN. Store lock. 0, or
 * the error (the store's message set) with *bad the index of the id it
 * concerns. */
static int
persist_loads(struct store *s, const uint64_t *ids, size_t n, size_t *bad)
{
	int rc = 0, pass;
	size_t k, i;

	for (pass = 0; pass < 5; pass++) {
		size_t left = 0;

		for (k = 0; k < n && rc == 0; k++) {
			struct object *o = idtab_get(&s->objs, ids[k]);
			uint64_t *lazy = NULL;
			size_t nlazy = 0;

			if (!o) {
				*bad = k;
				return -ENOENT;
			}
			lazy_ids(s, o, &lazy, &nlazy);
			for (i = 0; i < nlazy && rc == 0; i++) {
				if (pobj_of(s, lazy[i]))
					continue;
				left++;
				if (pass < 4)
					rc = load_blob(s, lazy[i]);
			}
			free(lazy);
			if (rc)
				*bad = k;
		}
		if (rc || left == 0)
			return rc;
	}
	*bad = 0;
	return store_fail(-EAGAIN, "its blobs were spilled again while read "
			  "back; try again");
}

/* The group's content files: all written, then made durable (a group
 * with one syncfs, a few files with an fsync each), then renamed, then
 * one directory fsync makes the renames durable. 0 or -errno with
 * persist_errmsg(). */
static int
write_files(struct store *s, struct collect *c)
{
	size_t i;
	int rc = 0, pass;

	for (i = 0; i < c->n && rc == 0; i++)
		rc = write_item(s, &c->v[i]);
	if (rc == 0 && c->n >= PERSIST_GROUP_SYNC)
		rc = persist_sync_group(s->disk);
	for (i = 0; i < c->n && rc == 0; i++) {
		rc = c->n >= PERSIST_GROUP_SYNC ?
		     persist_sync_done(s->disk, &c->v[i].f) :
		     persist_sync(s->disk, &c->v[i].f);
		if (rc == 0)
			c->v[i].state = 2;
	}
	/* Members' names first, durable, then the object's own: its file
	 * says "top-level", so it must never be there without them. */
	for (pass = 0; pass < 2; pass++) {
		size_t done = 0;

		for (i = 0; i < c->n && rc == 0; i++) {
			if (!c->v[i].flags != !pass)
				continue;
			if ((rc = persist_commit(s->disk, &c->v[i].f)) == 0) {
				c->v[i].state = 3;
				done++;
			}
		}
		if (rc == 0 && done)
			rc = persist_sync_dir(s->disk);
	}
	return rc;
}

/* Persists the job's objects (one request may name several) and their
 * closures as one group: every content file written, then all synced,
 * renamed, and two directory fsyncs for the lot, then the anchors. So a
 * batch of small objects costs a few fsyncs, not two per object. The
 * group succeeds or fails whole, like one object does. */
static void
run_persist(struct store *s, struct pjob *j)
{
	struct collect c = { NULL, 0, 0 };
	uint64_t *anchors = NULL, logseq = 0;
	size_t na = 0, i, k, bad = 0;
	char idbuf[META_ID_LEN + 24];
	int rc = 0, logged = 0;

	meta_id_format(j->persist[0], idbuf);
	if (j->npersist > 1)
		snprintf(idbuf + strlen(idbuf), sizeof(idbuf) - strlen(idbuf),
			 " (and %zu more)", j->npersist - 1);
	store_lock(s);
	rc = persist_loads(s, j->persist, j->npersist, &bad);
	if (rc) {
		char one[META_ID_LEN];

		store_unlock(s);
		meta_id_format(j->persist[bad], one);
		if (rc == -ENOENT)
			jfail(j, rc, "object %s was deleted before it could be "
			      "persisted", one);
		else
			jfail(j, rc, "cannot persist %s: %s", one,
			      store_errmsg());
		return;
	}
	for (k = 0; k < j->npersist; k++) {
		size_t from = c.n;

		c.target = j->persist[k];
		store_walk(s, idtab_get(&s->objs, c.target), collect_one, &c);
		for (i = from; i < c.n; i++)
			if (c.v[i].doc)
				each_member(c.v[i].doc, c.v[i].len, prefs_inc,
					    s);
		pobj_of(s, c.target)->explicit_ = 1;
	}
	store_unlock(s);

	/* Many small files: one group log, durable at once; the content
	 * files are written from it when needed (persist_log.c). */
	if (log_eligible(&c)) {
		rc = write_log(s, &c, &logseq);
		logged = rc == 0;
	} else {
		rc = write_files(s, &c);
	}
	if (rc) {
		jfail(j, rc, "cannot persist %s: %s; nothing of it was left on "
		      "disk", idbuf, rc == -ECANCELED ?
		      "the daemon is stopping" : persist_errmsg());
	} else {
		/* Then the anchors: the commit point. */
		for (k = 0; k < j->npersist; k++)
			ids_add(&anchors, &na, j->persist[k]);
		for (i = 0; i < c.n; i++)
			ids_add(&anchors, &na, c.v[i].id);
		rc = write_anchors(s, j, anchors, na);
		free(anchors);
		if (rc)
			snprintf(j->msg, sizeof(j->msg), "cannot persist %s: "
				 "%s; nothing of it was left on disk",
				 idbuf, persist_errmsg());
	}

	store_lock(s);
	if (rc) {
		/* Undo: forget the pending marks, then the files. */
		for (i = 0; i < c.n; i++)
			if (c.v[i].doc && pobj_of(s, c.v[i].id))
				each_member(c.v[i].doc, c.v[i].len, prefs_dec,
					    s);
		for (i = 0; i < c.n; i++) {
			struct pobj *p = pobj_of(s, c.v[i].id);

			if (p && p->pending) {
				idtab_del(&s->pobjs, p->id);
				s->disk_bytes -= p->anchor;
				free(p);
			}
		}
	} else {
		for (i = 0; i < c.n; i++) {
			struct pobj *p = pobj_of(s, c.v[i].id);

			/* Gone when deleted or unpersisted meanwhile: that
			 * queued the removal of its files. */
			if (!p)
				continue;
			p->pending = 0;
			p->content = c.v[i].f.len;
			p->raw = c.v[i].len;
			s->disk_bytes += p->content;
			s->disk_raw += p->raw;
			s->npersisted++;
			c.v[i].o->flags |= OBJ_PERSISTED;
		}
	}
	for (i = 0; i < c.n; i++)
		obj_unpin(s, c.v[i].o, 1);
	store_unlock(s);

	for (i = 0; i < c.n; i++) {
		if (rc) {
			if (c.v[i].state == 3)
				persist_remove(s->disk, c.v[i].doc ?
					       DISKFMT_OBJECT : DISKFMT_BLOB,
					       c.v[i].id);
			persist_remove(s->disk, DISKFMT_ANCHOR, c.v[i].id);
			persist_discard(s->disk, &c.v[i].f);
		}
		free(c.v[i].doc);
	}
	if (rc && logged && persist_log_drop(s->disk, logseq))
		log_warnx("persist: %s; a restart may bring back objects whose "
			  "persist failed", persist_errmsg());
	if (rc && c.n)
		persist_sync_dir(s->disk);
	free(c.v);
}

/* Writes the content files of ids again with the owner and mode memory
 * has now (a chmod). An object whose persisted copy went meanwhile, or
 * whose persist failed, has no file to write: skipped. */
static void
rewrite_owners(struct store *s, struct pjob *j, const uint64_t *ids, size_t n)
{
	size_t i;
	int rc = 0, done = 0;

	for (i = 0; i < n && rc == 0; i++) {
		uint8_t kind = meta_id_is_blob(ids[i]) ? DISKFMT_BLOB :
			       DISKFMT_OBJECT;
		struct diskfmt_owner owner;
		struct persist_file f;
		struct object *o;
		struct pobj *p;

		store_lock(s);
		o = idtab_get(&s->objs, ids[i]);
		p = pobj_of(s, ids[i]);
		if (o && p && !p->pending)
			obj_disk_owner(o, &owner);
		store_unlock(s);
		if (!o || !p || p->pending)
			continue;
		memset(&f, 0, sizeof(f));
		f.fd = -1;
		rc = persist_rewrite_owner(s->disk, kind, ids[i], &owner, &f);
		if (rc == 0)
			rc = persist_sync(s->disk, &f);
		if (rc == 0)
			rc = persist_commit(s->disk, &f);
		persist_discard(s->disk, &f);
		if (rc == -ENOENT) {
			rc = 0; /* unpersisted while we were at it */
			continue;
		}
		if (rc == 0) {
			done++;
			store_lock(s);
			/* A format-1 file grew by its new header. */
			if ((p = pobj_of(s, ids[i]))) {
				s->disk_bytes -= p->content;
				p->content = f.len;
				s->disk_bytes += p->content;
			}
			store_unlock(s);
		}
	}
	if (rc == 0 && done)
		rc = persist_sync_dir(s->disk);
	if (rc)
		jfail(j, rc, "cannot write the new mode to the data "
		      "directory: %s", persist_errmsg());
}

/* Removes (or moves to damaged/) every file of ids: anchors first, so a
 * crash half-way leaves content no anchor reaches, which start-up drops.
 * After a decided delete (store_decide.c) the trash names go too, and a
 * file that cannot be removed is only logged: the delete has happened,
 * nothing reaches that file, and start-up removes it. */
static void
remove_files(struct store *s, struct pjob *j, const uint64_t *ids, size_t n,
	     int quarantine)
{
	size_t i;
	int rc = 0, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			uint8_t kind = pass == 0 ? DISKFMT_ANCHOR :
				       meta_id_is_blob(ids[i]) ? DISKFMT_BLOB :
				       DISKFMT_OBJECT;

			if (quarantine) {
				persist_quarantine(s->disk, kind, ids[i],
						   "its blob is damaged");
				continue;
			}
			rc = persist_remove(s->disk, kind, ids[i]);
			if (rc == 0 && j->decided)
				rc = persist_remove_trash(s->disk, kind,
							  ids[i]);
			if (rc && j->decided)
				log_warnx("persist: %s; start-up will remove "
					  "it", persist_errmsg());
			else if (rc)
				jfail(j, rc, "%s", persist_errmsg());
		}
		if ((rc = persist_sync_dir(s->disk)) && j->decided)
			log_warnx("persist: %s", persist_errmsg());
		else if (rc)
			jfail(j, rc, "%s", persist_errmsg());
	}
}

static void
job_done(struct store *s, struct pjob *j)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	j->next = NULL;
	*s->done_tail = j;
	s->done_tail = &j->next;
	pthread_cond_broadcast(&s->done_cond);
	pthread_mutex_unlock(&s->lock);
	if (write(s->efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in practice */
	}
}

/* Takes the next job of a queue, or NULL when stopping. With drain, the
 * jobs queued before the stop still run (the writer's: removals and
 * anchors are quick, and persists see s->cancel and give up). */
static struct pjob *
job_next(struct store *s, struct pjob **q, struct pjob ***tail,
	 pthread_cond_t *cond, int drain)
{
	struct pjob *j;

	pthread_mutex_lock(&s->lock);
	while (!*q && !s->stopping)
		pthread_cond_wait(cond, &s->lock);
	j = s->stopping && !drain ? NULL : *q;
	if (j) {
		*q = j->next;
		if (!*q)
			*tail = q;
		j->next = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	return j;
}

static void *
writer_main(void *arg)
{
	struct store *s = arg;
	struct pjob *j;

	while ((j = job_next(s, &s->wq, &s->wq_tail, &s->wq_cond, 1))) {
		if (j->npersist)
			run_persist(s, j);
		if (j->nanchors)
			write_anchors(s, j, j->anchors, j->nanchors);
		if (j->nrm)
			remove_files(s, j, j->rm, j->nrm, 0);
		if (j->nquar)
			remove_files(s, j, j->quar, j->nquar, 1);
		if (j->nreown)
			rewrite_owners(s, j, j->reown, j->nreown);
		/* All of it is disk work: a full disk says EDQUOT, so that a
		 * client can tell it from a full memory (ENOSPC). */
		if (j->rc == -ENOSPC)
			j->rc = -EDQUOT;
		job_done(s, j);
	}
	return NULL;
}

static void *
loader_main(void *arg)
{
	struct store *s = arg;
	struct pjob *j;
	size_t i;
	int rc;

	while ((j = job_next(s, &s->lq, &s->lq_tail, &s->lq_cond, 0))) {
		store_lock(s);
		for (i = 0; i < j->nloads; i++) {
			rc = load_blob(s, j->loads[i]);

			/* A blob deleted meanwhile: the caller's retry
			 * says so better. */
			if (rc && rc != -ENOENT)
				jfail(j, rc, "%s", store_errmsg());
		}
		/* spilling for a put, or by request (store_spill.c) */
		if (j->nevict && (rc = spill_evict(s, j->evict, j->nevict)))
			jfail(j, rc, "%s", store_errmsg());
		if (j->room && !store_fits(s, j->room) &&
		    (rc = spill_room(s, j->room)))
			jfail(j, rc, "%s", store_errmsg());
		store_unlock(s);
		job_done(s, j);
	}
	return NULL;
}

void
threads_start(struct store *s)
{
	pthread_cond_init(&s->wq_cond, NULL);
	pthread_cond_init(&s->lq_cond, NULL);
	pthread_cond_init(&s->done_cond, NULL);
	pthread_cond_init(&s->load_cond, NULL);
	if (pthread_create(&s->writer, NULL, writer_main, s) ||
	    pthread_create(&s->loader, NULL, loader_main, s))
		fatalx("store: cannot start the disk threads");
	s->threads = 1;
}

void
threads_stop(struct store *s)
{
	struct pjob *q[2];
	int i;

	if (!s->threads)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	s->cancel = 1;
	pthread_cond_broadcast(&s->wq_cond);
	pthread_cond_broadcast(&s->lq_cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->writer, NULL);
	pthread_join(s->loader, NULL);
	s->threads = 0;
	/* Jobs never started hold nothing. */
	q[0] = s->wq;
	q[1] = s->lq;
	for (i = 0; i < 2; i++)
		while (q[i]) {
			struct pjob *j = q[i];

			q[i] = j->next;
			job_free(j);
		}
	s->wq = s->lq = NULL;
	pthread_cond_destroy(&s->wq_cond);
	pthread_cond_destroy(&s->lq_cond);
	pthread_cond_destroy(&s->done_cond);
	pthread_cond_destroy(&s->load_cond);
}
