/*
 * store_spill: spilling cold blobs to disk when memory runs short, so a
 * working set larger than --size still works.
 *
 * A victim is a sealed memfd blob that no client and no open file of the
 * mount holds (no pins), not held in memory on request (OBJ_HELD), least
 * recently used first. Its bytes are written to the spill directory in the
 * persistence format (an LZ4 frame with a checksum, temp file, rename:
 * persist_write_blob; no fsync, the file need not outlive the daemon),
 * then its memory is freed and it becomes
 * OBJ_LAZY | OBJ_SPILLED: still listed and named, read back on first use
 * by load_blob (store_loader.c) exactly as a lazily restored persisted
 * blob. A persisted blob needs no second copy: its data-directory file
 * serves, so it is only dropped from memory. The spill file is kept after a
 * reload (a second spill of the same blob writes nothing) and removed with
 * the object.
 *
 * Three callers: the spiller thread, woken when used memory passes the
 * upper threshold, spills down to the lower one; a put that does not fit
 * queues a job for the loader thread (store_make_room), which spills until
 * it does, and the put is re-run when the job is done, so only that client
 * waits for the disk, not the request loop; and a reload on the loader
 * thread that does not fit spills likewise (spill_room). evict runs on the
 * loader thread too. The lock is let go while a file is written (the
 * victim pinned meanwhile); a victim that a reader got in between stays in
 * memory.
 *
 * The spill directory holds files of this run only: start-up empties it
 * (an unpersisted object does not outlive its daemon).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

/* Tests only (VINEYARD_TEST_SPILL_GATE=PATH): before writing a spill
 * file, create PATH.waiting and wait until PATH exists (at most 30 s), so
 * a test can hold a spill in progress and see who else is served. */
static const char *spill_gate;

static void
gate_wait(void)
{
	char w[4096];
	int fd, i;

	if (!spill_gate)
		return;
	snprintf(w, sizeof(w), "%s.waiting", spill_gate);
	if ((fd = open(w, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0)
		close(fd);
	for (i = 0; i < 3000 && access(spill_gate, F_OK) != 0; i++)
		usleep(10000);
}

struct sfile {
	uint64_t id;        /* first: idtab key */
	uint64_t len;       /* bytes of its spill file */
};

struct cand {
	uint64_t id;
	uint64_t used_at;
};

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return x->used_at < y->used_at ? -1 : x->used_at > y->used_at;
}

static int
spillable(const struct object *o)
{
	return (o->flags & (OBJ_BLOB | OBJ_SMALL | OBJ_SEALED | OBJ_LAZY |
			    OBJ_LOADING | OBJ_DELETED | OBJ_SPILLING |
			    OBJ_HELD)) == (OBJ_BLOB | OBJ_SEALED) &&
	       o->pins == 0;
}

/* Spillable blobs, least recently used first. */
static struct cand *
candidates(struct store *s, size_t *n)
{
	struct cand *v = NULL;
	struct object *o;
	size_t pos = 0, k = 0;

	while ((o = idtab_next(&s->objs, &pos))) {
		if (!spillable(o))
			continue;
		if ((k & (k - 1)) == 0)
			v = xreallocarray(v, k ? k * 2 : 4, sizeof(*v));
		v[k].id = o->id;
		v[k].used_at = o->used_at;
		k++;
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), cand_cmp);
	*n = k;
	return v;
}

struct idlist {
	uint64_t *ids;
	size_t n;
};

static int
blob_one(struct store *s, struct object *o, void *ctx)
{
	(void)s;
	if ((o->flags & (OBJ_BLOB | OBJ_SMALL)) == OBJ_BLOB)
		ids_add(&((struct idlist *)ctx)->ids, &((struct idlist *)ctx)->n,
			o->id);
	return 1;
}

/* The memfd blobs root references (or is), in memory or not. */
static void
blob_ids(struct store *s, struct object *root, uint64_t **ids, size_t *n)
{
	struct idlist l = { NULL, 0 };

	store_walk(s, root, blob_one, &l);
	*ids = l.ids;
	*n = l.n;
}

/* Frees the memory of spilled blob o (its bytes are on disk). */
static void
drop_memory(struct store *s, struct object *o)
{
	close(o->u.big.rofd);
	o->u.big.rofd = -1;
	s->big_bytes -= arena_footprint(o->nbytes);
	s->payload -= o->nbytes;
	s->lazy_bytes += o->nbytes;
	o->flags |= OBJ_LAZY;
	s->nspills++;
}

/* Spills blob id. 0 when its memory went, 1 when it was skipped (taken by
 * a reader meanwhile, or gone), or -errno with a sentence. Lock held; let
 * go while the file is written. */
static int
spill_one(struct store *s, uint64_t id)
{
	struct object *o = idtab_get(&s->objs, id);
	struct persist_file f;
	struct diskfmt_owner owner;
	struct sfile *sf;
	char idbuf[META_ID_LEN];
	size_t len;
	int rc, rofd;

	if (!o || !spillable(o))
		return 1;
	/* A copy on disk already: the persisted file, or an earlier spill. */
	if ((o->flags & OBJ_PERSISTED) && pobj_of(s, id) &&
	    !pobj_of(s, id)->pending) {
		drop_memory(s, o);
		return 0;
	}
	if (o->flags & OBJ_SPILLED) {
		drop_memory(s, o);
		return 0;
	}
	o->flags |= OBJ_SPILLING;
	o->pins++;  /* its descriptor stays open meanwhile */
	s->spilling++;
	rofd = o->u.big.rofd;
	len = (size_t)o->nbytes;
	/* The header names the owner as a persisted file does; a read back
	 * keeps the owner and mode memory has (a chmod may come between). */
	obj_disk_owner(o, &owner);
	pthread_mutex_unlock(&s->lock);
	gate_wait();
	rc = persist_write_blob(s->spill, id, 0, &owner, rofd, NULL, len,
				PERSIST_LEVEL, &s->cancel, &f);
	/* No fsync: a spill file lives as long as this daemon, and the
	 * page cache serves it meanwhile; the rename still makes it appear
	 * whole, and a read back checks its checksum. */
	if (rc == 0)
		rc = persist_close_file(s->spill, &f);
	if (rc == 0)
		rc = persist_commit(s->spill, &f);
	pthread_mutex_lock(&s->lock);
	s->spilling--;
	o->flags &= ~OBJ_SPILLING;
	pthread_cond_broadcast(&s->spill_cond);
	meta_id_format(id, idbuf);
	if (rc) {
		rc = store_fail(rc == -ECANCELED ? rc : -ENOSPC,
				"cannot spill blob %s to %s: %s", idbuf,
				persist_dir(s->spill), persist_errmsg());
		obj_unpin(s, o, 1);
		return rc;
	}
	sf = xcalloc(1, sizeof(*sf));
	sf->id = id;
	sf->len = f.len;
	tab_put(&s->sfiles, sf);
	s->spill_disk += f.len;
	o->flags |= OBJ_SPILLED;
	if (o->pins != 1 || (o->flags & OBJ_DELETED)) {
		obj_unpin(s, o, 1); /* may destroy it, and the file with it */
		return 1;
	}
	o->pins--;
	drop_memory(s, o);
	return 0;
}

void
spill_forget(struct store *s, uint64_t id)
{
	struct sfile *sf = s->spill ? idtab_get(&s->sfiles, id) : NULL;

	if (!sf)
		return;
	idtab_del(&s->sfiles, id);
	s->spill_disk -= sf->len;
	free(sf);
	if (persist_remove(s->spill, DISKFMT_BLOB, id))
		log_warnx("spill: %s", persist_errmsg());
}

void
spill_damaged(struct store *s, uint64_t id, const char *why)
{
	struct sfile *sf = idtab_get(&s->sfiles, id);

	if (sf) {
		idtab_del(&s->sfiles, id);
		s->spill_disk -= sf->len;
		free(sf);
	}
	persist_quarantine(s->spill, DISKFMT_BLOB, id, why);
	s->damaged++;
}

int
spill_room(struct store *s, uint64_t fp)
{
	struct cand *v = NULL;
	size_t n = 0, i = 0;
	int rc = 0, tries = 0;

	if (!s->spill || fp > s->limit)
		return fail_nospace(s, fp);
	while (!store_fits(s, fp)) {
		if (i == n) {
			free(v);
			v = candidates(s, &n);
			i = 0;
			if (n == 0) {
				/* Others spilling may free enough; else
				 * nothing left to spill. */
				if (s->spilling && tries++ < 1000) {
					pthread_cond_wait(&s->spill_cond,
							  &s->lock);
					continue;
				}
				rc = fail_nospace(s, fp);
				break;
			}
		}
		rc = spill_one(s, v[i++].id);
		if (rc < 0)
			break;
		rc = 0;
	}
	free(v);
	return rc;
}

/* ---- the spiller thread ---- */

static void *
spiller_main(void *arg)
{
	struct store *s = arg;
	struct timespec ts;
	int failed = 0;

	pthread_mutex_lock(&s->lock);
	while (!s->spill_stop) {
		struct cand *v;
		size_t n, i;
		int rc = 0;

		if (used_bytes(s) <= s->spill_upper || failed) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += failed ? 2 : 1;
			pthread_cond_timedwait(&s->spill_cond, &s->lock, &ts);
			failed = 0;
			continue;
		}
		v = candidates(s, &n);
		for (i = 0; i < n && !s->spill_stop &&
		     used_bytes(s) > s->spill_lower; i++) {
			rc = spill_one(s, v[i].id);
			if (rc < 0) {
				log_warnx("spill: %s", store_errmsg());
				failed = 1;
				break;
			}
		}
		free(v);
		if (n == 0 || (i == n && used_bytes(s) > s->spill_upper))
			failed = 1; /* nothing more to spill for now */
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void
spill_kick(struct store *s)
{
	if (s->spill && used_bytes(s) > s->spill_upper)
		pthread_cond_broadcast(&s->spill_cond);
}

int
spill_start(struct store *s, const struct store_cfg *cfg)
{
	char err[512];
	uint64_t lim = s->limit;
	uint64_t n = 0;

	idtab_init(&s->sfiles);
	pthread_cond_init(&s->spill_cond, NULL);
	s->spill = cfg->spill;
	if (!s->spill && !cfg->spill_dir)
		return 0;
	if (!s->spill &&
	    persist_open(cfg->spill_dir, &s->spill, err, sizeof(err)))
		fatalx("spill directory: %s", err);
	persist_note_pid(s->spill);
	spill_gate = getenv("VINEYARD_TEST_SPILL_GATE");
	if (persist_clear(s->spill, &n))
		log_warnx("spill: %s", persist_errmsg());
	else if (n)
		log_info("spill: removed %" PRIu64 " spill file%s of an earlier "
			 "run from %s", n, n == 1 ? "" : "s",
			 persist_dir(s->spill));
	s->spill_lower = (uint64_t)((double)lim * cfg->spill_lower);
	s->spill_upper = (uint64_t)((double)lim * cfg->spill_upper);
	if (lim == UINT64_MAX)
		s->spill_lower = s->spill_upper = UINT64_MAX;
	return 0;
}

/* The spiller thread, started once the store is built: the restore before
 * it fills the slab without the lock (ThreadSanitizer caught the spiller
 * reading it meanwhile). */
void
spill_run(struct store *s)
{
	if (!s->spill || s->spill_thread)
		return;
	if (pthread_create(&s->spiller, NULL, spiller_main, s))
		fatalx("spill: cannot start its thread");
	s->spill_thread = 1;
}

void
spill_stop(struct store *s)
{
	if (s->spill_thread) {
		pthread_mutex_lock(&s->lock);
		s->spill_stop = 1;
		s->cancel = 1;  /* a spill file being written gives up */
		pthread_cond_broadcast(&s->spill_cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->spiller, NULL);
		s->spill_thread = 0;
	}
}

void
spill_release(struct store *s)
{
	struct sfile *sf;
	size_t pos = 0;

	while ((sf = idtab_next(&s->sfiles, &pos))) {
		persist_remove(s->spill, DISKFMT_BLOB, sf->id);
		free(sf);
	}
	idtab_release(&s->sfiles);
	pthread_cond_destroy(&s->spill_cond);
	persist_close(s->spill);
	s->spill = NULL;
}

/* ---- the calls ---- */

/* 0 when every object of ids exists and ow may read all of its tree (the
 * same rule as a get: moving bytes between memory and disk, or saying
 * where they are, is reading them); else -ENOENT or -EACCES with a
 * sentence, checked before anything moves. */
static int
may_read_all(struct store *s, const struct store_owner *ow,
	     const uint64_t *ids, size_t n, const char *what)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct object *o = store_lookup(s, ids[i]), *bad;

		if (!o)
			return -ENOENT;
		if ((bad = tree_unreadable(s, ow, o)))
			return perm_deny(ow, bad, what);
	}
	return 0;
}

int
spill_evict(struct store *s, const uint64_t *ids, size_t n)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		struct object *o = store_lookup(s, ids[i]);
		uint64_t *blobs;
		size_t nb, k;

		if (!o)
			continue; /* deleted meanwhile: nothing to write */
		blob_ids(s, o, &blobs, &nb);
		for (k = 0; k < nb && rc == 0; k++) {
			struct object *b = idtab_get(&s->objs, blobs[k]);

			if (b)
				b->flags &= ~OBJ_HELD;
			rc = spill_one(s, blobs[k]);
			if (rc > 0)
				rc = 0; /* in use, small or gone: stays */
		}
		free(blobs);
	}
	return rc;
}

int
store_evict(struct store *s, struct store_owner *ow, const uint64_t *ids,
	    size_t n, uint64_t *ticket)
{
	struct pjob *job;
	int rc = 0;

	if (ticket)
		*ticket = 0;
	store_lock(s);
	if (!s->spill) {
		rc = store_fail(-ENOTSUP, "this daemon has no spill directory "
				"(vineyardd --spill-dir)");
		goto out;
	}
	if ((rc = may_read_all(s, ow, ids, n, "evict")))
		goto out;
	if (!ticket || !s->threads) {
		rc = spill_evict(s, ids, n);
		goto out;
	}
	/* The loader writes the files; the caller answers when it is done. */
	job = xcalloc(1, sizeof(*job));
	job->evict = xmemdup(ids, (n ? n : 1) * sizeof(*ids));
	job->nevict = n;
	*ticket = job_submit(s, job, 1);
out:
	store_unlock(s);
	return rc;
}

int
store_make_room(struct store *s, const uint64_t *lens, size_t n,
		uint64_t *ticket)
{
	struct pjob *job;
	uint64_t fp = 0, f;
	size_t i;

	*ticket = 0;
	for (i = 0; i < n; i++) {
		f = arena_footprint((size_t)lens[i]);
		if (f < lens[i] || fp + f < fp)
			return 0;  /* absurd: the create says so */
		fp += f;
	}
	store_lock(s);
	/* Fits, too big for any spilling, or nothing to spill it with: the
	 * create goes ahead and succeeds or says why not. */
	if (s->spill && s->threads && fp <= s->limit && !store_fits(s, fp)) {
		job = xcalloc(1, sizeof(*job));
		job->room = fp;
		*ticket = job_submit(s, job, 1);
	}
	store_unlock(s);
	return 0;
}

int
store_hold(struct store *s, struct store_owner *ow, const uint64_t *ids,
	   size_t n, int hold)
{
	size_t i;
	int rc;

	store_lock(s);
	rc = may_read_all(s, ow, ids, n, hold ? "hold" : "unhold");
	for (i = 0; i < n && rc == 0; i++) {
		struct object *o = store_lookup(s, ids[i]);
		uint64_t *blobs;
		size_t nb, k;

		blob_ids(s, o, &blobs, &nb);
		for (k = 0; k < nb; k++) {
			struct object *b = idtab_get(&s->objs, blobs[k]);

			if (!b)
				continue;
			if (hold)
				b->flags |= OBJ_HELD;
			else
				b->flags &= ~OBJ_HELD;
		}
		free(blobs);
	}
	store_unlock(s);
	return rc;
}

int
store_spilled(struct store *s, struct store_owner *ow, uint64_t id, int *out)
{
	struct object *o;
	uint64_t *blobs;
	size_t nb, k;
	int rc;

	*out = 0;
	store_lock(s);
	rc = may_read_all(s, ow, &id, 1, "query");
	if (rc == 0) {
		o = store_lookup(s, id);
		blob_ids(s, o, &blobs, &nb);
		for (k = 0; k < nb; k++) {
			struct object *b = idtab_get(&s->objs, blobs[k]);

			if (b && (b->flags & OBJ_LAZY))
				*out = 1;
		}
		free(blobs);
	}
	store_unlock(s);
	return rc;
}
