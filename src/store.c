/*
 * store: every state change of the object store, under one mutex. Sealed
 * objects live in `objs`, blobs still being written in `unsealed`, and
 * deleted blobs that a reader still maps in `zombies` until their last pin
 * goes. Composite objects count references on their members, so a member
 * cannot be deleted from under its parent.
 *
 * Persistence (the block at the end, and hooks marked "persistence"): the
 * data directory's files are written by one writer thread and blobs read
 * back by one loader thread, never with the lock held during I/O; see the
 * comment that opens the persistence block.
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "idtab.h"
#include "log.h"
#include "meta.h"
#include "names.h"
#include "object.h"
#include "persist.h"
#include "proto.h"
#include "slab.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

struct pin {
	uint64_t id;        /* first: idtab key */
	struct object *obj;
	uint32_t n;         /* gets not yet released */
};

struct store_owner {
	struct idtab pins;  /* struct pin; store lock */
	struct store_owner *prev, *next;
	char label[64];
};

struct watcher {
	store_watch_fn fn;
	void *ctx;
};

/* ---- persistence: bookkeeping ---- */

/* One per persisted object, keyed by its id. Invariant: when an object has
 * one, every member has one (persisting takes the whole closure). */
struct pobj {
	uint64_t id;        /* first: idtab key */
	uint32_t prefs;     /* member entries of persisted composites naming it */
	uint8_t explicit_;  /* persisted by request, not only as a member */
	uint8_t anchored;   /* its anchor file exists */
	uint8_t rootfile;   /* its content file has DISKFMT_F_ROOT */
	uint8_t pending;    /* its persist job has not finished */
	uint64_t content;   /* bytes of its content file (0 while pending) */
	uint64_t anchor;    /* bytes of its anchor file */
	uint64_t raw;       /* content bytes before compression */
};

/* Work for the writer (persist, anchors, rm, quar: in that order) or the
 * loader (loads). One store call queues at most one job. */
struct pjob {
	struct pjob *next;
	uint64_t ticket;
	uint64_t persist;   /* object to persist, 0 = none */
	uint64_t *anchors;  /* objects whose anchor file to rewrite or drop */
	size_t nanchors;
	uint64_t *rm;       /* objects whose files go */
	size_t nrm;
	uint64_t *quar;     /* objects whose files move to damaged/ */
	size_t nquar;
	uint64_t *loads;    /* lazy blobs to read back */
	size_t nloads;
	int rc;             /* result, 0 or -errno */
	char msg[320];
};

struct store {
	pthread_mutex_t lock;
	struct idtab objs;     /* sealed objects */
	struct idtab unsealed; /* blobs being written */
	struct idtab zombies;  /* deleted, still pinned */
	struct names names;
	struct slab slab;
	uint64_t limit;        /* bytes; UINT64_MAX = none */
	uint64_t big_bytes;    /* footprint of memfd blobs */
	uint64_t payload;      /* blob bytes */
	uint64_t nblobs;       /* sealed blobs in objs */
	uint64_t rng;          /* splitmix64 state for ids */
	struct store_owner owners; /* list head */
	uint64_t nowners;
	struct watcher watch[4];
	int nwatch;
	/* persistence; store lock unless said otherwise */
	struct persist *disk;  /* the data directory; NULL = none */
	struct idtab pobjs;    /* struct pobj */
	uint64_t npersisted;   /* pobjs not pending */
	uint64_t disk_bytes;   /* bytes of files of persisted objects */
	uint64_t disk_raw;     /* their content before compression */
	uint64_t damaged;      /* files found damaged (moved aside) */
	uint64_t seq;          /* next anchor sequence number */
	uint64_t tickets;      /* last ticket handed out */
	struct pjob *wq, **wq_tail;     /* writer queue */
	struct pjob *lq, **lq_tail;     /* loader queue */
	struct pjob *done, **done_tail; /* finished, for store_done_next */
	pthread_cond_t wq_cond, lq_cond, done_cond;
	pthread_cond_t load_cond;       /* an OBJ_LOADING blob finished */
	pthread_t writer, loader;
	int threads;           /* the two threads run */
	int stopping;
	volatile int cancel;   /* read by the writer without the lock */
	int efd;               /* eventfd: a job finished; -1 = none */
};

static __thread char store_err[320];
/* The ticket of the job this thread's last store call queued; 0 = none. */
static __thread uint64_t store_tick;

static void
tab_put(struct idtab *t, void *p)
{
	if (idtab_put(t, p))
		fatalx("out of memory growing a table");
}

static int
fail(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(store_err, sizeof(store_err), fmt, ap);
	va_end(ap);
	return rc;
}

const char *
store_errmsg(void)
{
	return store_err[0] ? store_err : "unknown error";
}

static void
lock(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	store_err[0] = 0;
	store_tick = 0;
}

static void
unlock(struct store *s)
{
	pthread_mutex_unlock(&s->lock);
}

static void
notify(struct store *s, enum store_event ev, uint64_t id, const char *name)
{
	int i;

	for (i = 0; i < s->nwatch; i++)
		s->watch[i].fn(s->watch[i].ctx, ev, id, name);
}

/* ---- persistence: small helpers the hooks use ---- */

static int store_restore(struct store *s);
static void threads_start(struct store *s);
static void threads_stop(struct store *s);
static int load_blob(struct store *s, uint64_t id);
static void lazy_ids(struct store *s, struct object *root, uint64_t **ids,
		     size_t *n);

static struct pobj *
pobj_of(struct store *s, uint64_t id)
{
	return s->disk ? idtab_get(&s->pobjs, id) : NULL;
}

static void
ids_add(uint64_t **v, size_t *n, uint64_t id)
{
	/* Capacity doubles at powers of two. */
	if (*n == 0 || (*n & (*n - 1)) == 0)
		*v = xreallocarray(*v, *n ? *n * 2 : 4, sizeof(**v));
	(*v)[(*n)++] = id;
}

static struct pjob *
job_get(struct pjob **jp)
{
	if (!*jp)
		*jp = xcalloc(1, sizeof(**jp));
	return *jp;
}

static void
job_free(struct pjob *j)
{
	if (!j)
		return;
	free(j->anchors);
	free(j->rm);
	free(j->quar);
	free(j->loads);
	free(j);
}

/* Queues j for the writer (or the loader) and makes it this thread's
 * ticket. Caller holds the store lock. NULL is a no-op. */
static void
job_submit(struct store *s, struct pjob *j, int loader)
{
	if (!j)
		return;
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
	store_tick = j->ticket;
}

/* Forgets that p's object is persisted and queues removal (or, for damage,
 * quarantine) of its files. Members' prefs are the caller's. */
static void
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
static void
anchor_dirty(struct store *s, struct object *o, struct pjob **jp)
{
	struct pjob *j;

	if (!o || !pobj_of(s, o->id))
		return;
	j = job_get(jp);
	ids_add(&j->anchors, &j->nanchors, o->id);
}

static uint64_t
used_bytes(const struct store *s)
{
	return s->big_bytes + slab_bytes(&s->slab);
}

static void
human(uint64_t v, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.1f %s", d, unit[u]);
}

static int
fail_nospace(struct store *s, uint64_t want)
{
	char w[32], u[32], l[32];

	human(want, w, sizeof(w));
	human(used_bytes(s), u, sizeof(u));
	human(s->limit, l, sizeof(l));
	return fail(-ENOSPC, "no space for %s: %s of %s in use (vineyardd "
		    "--size)", w, u, l);
}

static uint64_t
new_id(struct store *s, int blob)
{
	uint64_t z;

	for (;;) {
		z = (s->rng += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		z = blob ? z | META_BLOB_BIT : z & ~META_BLOB_BIT;
		if ((z & ~META_BLOB_BIT) == 0)
			continue;
		if (!idtab_get(&s->objs, z) && !idtab_get(&s->unsealed, z) &&
		    !idtab_get(&s->zombies, z))
			return z;
	}
}

struct store *
store_new(const struct store_cfg *cfg)
{
	struct store *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	idtab_init(&s->objs);
	idtab_init(&s->unsealed);
	idtab_init(&s->zombies);
	names_init(&s->names);
	slab_init(&s->slab);
	s->limit = cfg->limit ? cfg->limit : UINT64_MAX;
	s->owners.next = s->owners.prev = &s->owners;
	if (getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng))
		s->rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	arena_init(cfg->huge_pages);
	/* persistence */
	idtab_init(&s->pobjs);
	s->wq_tail = &s->wq;
	s->lq_tail = &s->lq;
	s->done_tail = &s->done;
	s->efd = -1;
	s->seq = 1;
	s->disk = cfg->persist;
	if (!s->disk && cfg->data_dir) {
		char err[512];

		if (persist_open(cfg->data_dir, &s->disk, err, sizeof(err)))
			fatalx("%s", err);
	}
	if (s->disk) {
		persist_note_pid(s->disk);
		store_restore(s);
		s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (s->efd < 0)
			fatal("eventfd");
		threads_start(s);
	}
	return s;
}

/* Frees an object's memory and the object. Not in any table any more. */
static void
obj_destroy(struct store *s, struct object *o)
{
	if (o->flags & OBJ_LAZY) {
		/* persistence: restored, never read back: no memory held */
	} else if (o->flags & OBJ_BLOB) {
		s->payload -= o->nbytes;
		if (o->flags & OBJ_SMALL) {
			slab_free(&s->slab, o->u.small.seg, o->u.small.off,
				  o->nbytes);
		} else {
			if (o->u.big.fd >= 0)
				close(o->u.big.fd);
			if (o->u.big.rofd >= 0)
				close(o->u.big.rofd);
			s->big_bytes -= arena_footprint(o->nbytes);
		}
	} else {
		free(o->u.meta);
	}
	free(o);
}

void
store_free(struct store *s)
{
	struct object *o;
	size_t pos;

	if (!s)
		return;
	threads_stop(s); /* persistence: before anything they use goes */
	while (s->owners.next != &s->owners)
		store_owner_free(s, s->owners.next);
	pos = 0;
	while ((o = idtab_next(&s->objs, &pos)))
		obj_destroy(s, o);
	pos = 0;
	while ((o = idtab_next(&s->zombies, &pos)))
		obj_destroy(s, o);
	idtab_release(&s->objs);
	idtab_release(&s->unsealed);
	idtab_release(&s->zombies);
	names_release(&s->names);
	slab_release(&s->slab);
	/* persistence */
	pos = 0;
	while ((o = idtab_next(&s->pobjs, &pos)))
		free(o);
	idtab_release(&s->pobjs);
	while (s->done) {
		struct pjob *j = s->done;

		s->done = j->next;
		job_free(j);
	}
	if (s->efd >= 0)
		close(s->efd);
	persist_close(s->disk);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- owners and pins ---- */

struct store_owner *
store_owner_new(struct store *s, const char *label)
{
	struct store_owner *o = xcalloc(1, sizeof(*o));

	idtab_init(&o->pins);
	snprintf(o->label, sizeof(o->label), "%s", label ? label : "?");
	lock(s);
	o->next = &s->owners;
	o->prev = s->owners.prev;
	o->prev->next = o;
	s->owners.prev = o;
	s->nowners++;
	unlock(s);
	return o;
}

static void
obj_unpin(struct store *s, struct object *o, uint32_t n)
{
	if (o->pins < n) {
		log_warnx("store: pin count of %016" PRIx64 " underflows", o->id);
		n = o->pins;
	}
	o->pins -= n;
	if (o->pins == 0 && (o->flags & OBJ_DELETED)) {
		idtab_del(&s->zombies, o->id);
		obj_destroy(s, o);
	}
}

static void
pin(struct store_owner *ow, struct object *o)
{
	struct pin *p = idtab_get(&ow->pins, o->id);

	if (!p) {
		p = xmalloc(sizeof(*p));
		p->id = o->id;
		p->obj = o;
		p->n = 0;
		tab_put(&ow->pins, p);
	}
	p->n++;
	o->pins++;
}

void
store_owner_free(struct store *s, struct store_owner *ow)
{
	struct object *o;
	struct pin *p;
	size_t pos = 0;
	uint64_t *drop = NULL;
	size_t ndrop = 0;

	if (!ow)
		return;
	lock(s);
	while ((p = idtab_next(&ow->pins, &pos))) {
		obj_unpin(s, p->obj, p->n);
		free(p);
	}
	idtab_release(&ow->pins);
	/* Blobs it never sealed die with it; their memory comes back. */
	pos = 0;
	while ((o = idtab_next(&s->unsealed, &pos)))
		if (o->owner == ow) {
			drop = xreallocarray(drop, ndrop + 1, sizeof(*drop));
			drop[ndrop++] = o->id;
		}
	while (ndrop > 0) {
		o = idtab_del(&s->unsealed, drop[--ndrop]);
		obj_destroy(s, o);
	}
	free(drop);
	ow->prev->next = ow->next;
	ow->next->prev = ow->prev;
	s->nowners--;
	unlock(s);
	free(ow);
}

void
store_release(struct store *s, struct store_owner *ow, const uint64_t *ids,
	      size_t n)
{
	size_t i;

	lock(s);
	for (i = 0; i < n; i++) {
		struct pin *p = idtab_get(&ow->pins, ids[i]);

		if (!p)
			continue;
		obj_unpin(s, p->obj, 1);
		if (--p->n == 0) {
			idtab_del(&ow->pins, ids[i]);
			free(p);
		}
	}
	unlock(s);
}

/* ---- blobs ---- */

int
store_blob_create(struct store *s, struct store_owner *ow, size_t len,
		  uint64_t *id, int *fd)
{
	struct object *o;
	uint64_t fp = arena_footprint(len);
	char name[40];
	int rc, f;

	if (len == 0)
		return fail(-EINVAL, "a blob created for writing needs at "
			    "least one byte");
	lock(s);
	if (fp < len || used_bytes(s) + fp > s->limit ||
	    used_bytes(s) + fp < fp) {
		rc = fail_nospace(s, len);
		goto out;
	}
	o = xcalloc(1, sizeof(*o));
	o->id = new_id(s, 1);
	snprintf(name, sizeof(name), "vineyard-%016" PRIx64, o->id);
	rc = arena_memfd(name, len, &f);
	if (rc) {
		free(o);
		if (rc == -ENOSPC) {
			char w[32];

			human(len, w, sizeof(w));
			rc = fail(-ENOSPC, "no memory left to reserve %s for a "
				  "blob", w);
		} else {
			rc = fail(rc, "cannot create shared memory: %s",
				  strerror(-rc));
		}
		goto out;
	}
	o->flags = OBJ_BLOB;
	o->nbytes = len;
	o->owner = ow;
	o->u.big.fd = f;
	o->u.big.rofd = -1;
	tab_put(&s->unsealed, o);
	s->big_bytes += fp;
	s->payload += len;
	*id = o->id;
	*fd = f;
out:
	unlock(s);
	return rc;
}

static int
seal_one(struct store *s, struct object *o)
{
	char idbuf[META_ID_LEN];
	int rc, ro;

	meta_id_format(o->id, idbuf);
	rc = arena_seal(o->u.big.fd);
	if (rc == -EBUSY)
		return fail(rc, "blob %s is still mapped writable; unmap it "
			    "before sealing", idbuf);
	if (rc)
		return fail(rc, "cannot seal blob %s: %s", idbuf,
			    strerror(-rc));
	ro = arena_reopen_ro(o->u.big.fd);
	if (ro < 0)
		return fail(ro, "cannot reopen blob %s read-only: %s", idbuf,
			    strerror(-ro));
	close(o->u.big.fd);
	o->u.big.fd = -1;
	o->u.big.rofd = ro;
	o->owner = NULL;
	o->flags |= OBJ_SEALED;
	idtab_del(&s->unsealed, o->id);
	tab_put(&s->objs, o);
	s->nblobs++;
	notify(s, STORE_EV_ADD, o->id, NULL);
	return 0;
}

static int
find_unsealed(struct store *s, struct store_owner *ow, uint64_t id,
	      struct object **out)
{
	struct object *o = idtab_get(&s->unsealed, id);
	char idbuf[META_ID_LEN];

	meta_id_format(id, idbuf);
	if (!o) {
		if (idtab_get(&s->objs, id))
			return fail(-EEXIST, "blob %s is already sealed", idbuf);
		return fail(-ENOENT, "no blob %s being written", idbuf);
	}
	if (o->owner != ow)
		return fail(-EPERM, "blob %s belongs to another client", idbuf);
	*out = o;
	return 0;
}

int
store_blob_seal(struct store *s, struct store_owner *ow, uint64_t id)
{
	struct object *o;
	int rc;

	lock(s);
	rc = find_unsealed(s, ow, id, &o);
	if (rc == 0)
		rc = seal_one(s, o);
	unlock(s);
	return rc;
}

int
store_blob_abort(struct store *s, struct store_owner *ow, uint64_t id)
{
	struct object *o;
	int rc;

	lock(s);
	rc = find_unsealed(s, ow, id, &o);
	if (rc == 0) {
		idtab_del(&s->unsealed, id);
		obj_destroy(s, o);
	}
	unlock(s);
	return rc;
}

int
store_blob_put_small(struct store *s, const void *p, size_t len,
		     uint64_t *id)
{
	struct object *o;
	uint32_t seg, off;
	uint64_t big;
	int rc;

	if (len > PROTO_SMALL_MAX)
		return fail(-EINVAL, "an inline blob is at most %u bytes",
			    PROTO_SMALL_MAX);
	lock(s);
	big = s->big_bytes;
	s->slab.limit_segs = s->limit == UINT64_MAX ? (size_t)-1 :
		(size_t)(big > s->limit ? 0 : (s->limit - big) / SLAB_SEG_SIZE);
	rc = slab_alloc(&s->slab, len, &seg, &off);
	if (rc) {
		rc = rc == -ENOSPC ? fail_nospace(s, SLAB_SEG_SIZE) :
			fail(rc, "cannot allocate a segment: %s", strerror(-rc));
		goto out;
	}
	if (len)
		memcpy(slab_ptr(&s->slab, seg, off), p, len);
	o = xcalloc(1, sizeof(*o));
	o->id = new_id(s, 1);
	o->flags = OBJ_BLOB | OBJ_SMALL | OBJ_SEALED;
	o->nbytes = len;
	o->u.small.seg = seg;
	o->u.small.off = off;
	tab_put(&s->objs, o);
	s->nblobs++;
	s->payload += len;
	*id = o->id;
	notify(s, STORE_EV_ADD, o->id, NULL);
out:
	unlock(s);
	return rc;
}

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
	      const char *name, size_t namelen, int persist, uint64_t *id)
{
	struct meta_tree t;
	struct object *o;
	struct pjob *job = NULL;
	uint64_t *ids = NULL;
	struct cw w;
	size_t i, k;
	int rc;

	rc = meta_tree_parse(tree, len, &t);
	if (rc)
		return fail(rc, "bad metadata: %s", t.err);
	if (name) {
		const char *why;

		if (names_check(name, namelen, &why)) {
			meta_tree_release(&t);
			return fail(-EINVAL, "invalid name: %s", why);
		}
	}
	if (persist && !s->disk) {
		meta_tree_release(&t);
		return fail(-ENOTSUP, "this daemon has no data directory; "
			    "persistence is not available");
	}
	cw_init(&w);
	lock(s);
	/* Check everything before changing anything. */
	for (i = 0; i < nseal; i++) {
		if ((rc = find_unsealed(s, ow, seal[i], &o)))
			goto out;
		if (in_list(seal, i, seal[i])) {
			rc = fail(-EINVAL, "blob listed twice to seal");
			goto out;
		}
	}
	for (i = 0; i < t.nmembers; i++) {
		const struct meta_member *m = &t.members[i];
		char idbuf[META_ID_LEN];

		if (m->child >= 0 || idtab_get(&s->objs, m->id) ||
		    in_list(seal, nseal, m->id))
			continue;
		meta_id_format(m->id, idbuf);
		rc = fail(-ENOENT, "member %.*s: no object %s",
			  (int)(m->namelen > 64 ? 64 : m->namelen), m->name,
			  idbuf);
		goto out;
	}
	for (i = 0; i < nseal; i++) {
		o = idtab_get(&s->unsealed, seal[i]);
		if ((rc = seal_one(s, o)))
			goto out;
	}
	ids = xcalloc(t.nnodes, sizeof(*ids));
	for (i = 0; i < t.nnodes; i++) {
		const struct meta_node *n = &t.nodes[i];

		o = xcalloc(1, sizeof(*o));
		o->id = ids[i] = new_id(s, 0);
		o->flags = OBJ_SEALED;
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
		notify(s, STORE_EV_ADD, o->id, NULL);
	}
	*id = ids[t.nnodes - 1];
	if (name) {
		struct object *old;
		struct name *nm;

		o = idtab_get(&s->objs, *id);
		nm = names_bind(&s->names, name, namelen, o, &old);
		notify(s, STORE_EV_NAME_SET, o->id, nm->str);
		if (old != o)
			anchor_dirty(s, old, &job); /* persistence */
	}
	if (persist) /* persistence */
		job_get(&job)->persist = *id;
	job_submit(s, job, 0);
out:
	unlock(s);
	if (w.oom)
		fatalx("out of memory encoding metadata");
	cw_release(&w);
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
	if (o->flags & OBJ_SMALL) {
		b->kind = BLOB_KIND_SEGMENT;
		b->fd = -1;
		b->seg = o->u.small.seg;
		b->off = o->u.small.off;
		b->seg_fd = s->slab.segs[b->seg].rofd;
		b->ptr = slab_ptr(&s->slab, b->seg, b->off);
	} else {
		b->kind = BLOB_KIND_MEMFD;
		b->fd = o->u.big.rofd;
		b->seg_fd = -1;
	}
}

/* Visits root and what it references, each once; fn returns 1 to go into
 * an object's members. Caller holds the lock. */
static void
walk(struct store *s, struct object *root,
     int (*fn)(struct store *s, struct object *o, void *ctx), void *ctx)
{
	struct object **stack = xmalloc(16 * sizeof(*stack)), *o;
	size_t depth = 0, cap = 16;
	struct idtab seen;

	idtab_init(&seen);
	stack[depth++] = root;
	tab_put(&seen, root);
	while (depth > 0) {
		struct meta_view v;
		struct cr r;
		size_t i, n;

		o = stack[--depth];
		if (!fn(s, o, ctx) || (o->flags & OBJ_BLOB))
			continue;
		if (meta_view_parse(o->u.meta, o->metalen, &v))
			fatalx("store: stored metadata is corrupt");
		cr_init(&r, v.members, v.memberslen);
		cr_map(&r, &n);
		for (i = 0; i < n; i++) {
			const char *nm;
			size_t nl;
			uint64_t mid;
			struct object *m;

			meta_member_next(&r, &nm, &nl, &mid);
			m = idtab_get(&s->objs, mid);
			if (!m || idtab_get(&seen, mid))
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

static struct object *
lookup(struct store *s, uint64_t id)
{
	struct object *o = idtab_get(&s->objs, id);

	if (!o) {
		char idbuf[META_ID_LEN];

		meta_id_format(id, idbuf);
		if (idtab_get(&s->unsealed, id))
			fail(-ENOENT, "object %s is not sealed yet", idbuf);
		else
			fail(-ENOENT, "no object %s", idbuf);
	}
	return o;
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
		g->rc = fail(-EAGAIN, "a blob of this object is being read "
			     "back from disk; try again");
		return 0;
	}
	if (o->flags & OBJ_BLOB) {
		struct store_blobref b;

		blobref(s, o, &b);
		if (!(g->flags & GET_F_META))
			pin(g->ow, o);
		g->rc = g->on_blob ? g->on_blob(g->ctx, &b) : 0;
		return 0;
	}
	g->rc = g->on_obj ? g->on_obj(g->ctx, o->id, o->u.meta, o->metalen,
				      o->nbytes) : 0;
	return g->rc == 0;
}

int
store_get(struct store *s, struct store_owner *ow, uint64_t id,
	  unsigned flags, store_obj_fn on_obj, store_blob_fn on_blob,
	  void *ctx)
{
	struct get_walk g = { ow, flags, on_obj, on_blob, ctx, 0 };
	struct object *o;
	int rc = 0;

	lock(s);
	o = lookup(s, id);
	if (!o) {
		rc = -ENOENT;
		goto out;
	}
	/* persistence: read lazily restored blobs back first. The server
	 * has done it on the loader thread already (store_prefetch), so
	 * this only blocks other callers. */
	if (!(flags & GET_F_META) && s->disk) {
		uint64_t *lazy = NULL;
		size_t nlazy = 0, i;

		lazy_ids(s, o, &lazy, &nlazy);
		for (i = 0; i < nlazy && rc == 0; i++)
			rc = load_blob(s, lazy[i]);
		free(lazy);
		/* load_blob let go of the lock: look again. */
		if (rc == 0 && nlazy && !(o = lookup(s, id)))
			rc = -ENOENT;
		if (rc)
			goto out;
	}
	walk(s, o, get_one, &g);
	rc = g.rc;
out:
	unlock(s);
	return rc;
}

int
store_blob_open(struct store *s, struct store_owner *ow, uint64_t id,
		struct store_blobref *b)
{
	struct object *o;
	int rc = 0;

	lock(s);
	o = lookup(s, id);
	if (o && (o->flags & OBJ_LAZY)) {
		/* persistence: blocks while the bytes are read back */
		rc = load_blob(s, id);
		o = rc ? NULL : lookup(s, id);
	}
	if (rc)
		;
	else if (!o)
		rc = -ENOENT;
	else if (!(o->flags & OBJ_BLOB))
		rc = fail(-EISDIR, "object is not a blob");
	else {
		blobref(s, o, b);
		pin(ow, o);
	}
	unlock(s);
	return rc;
}

/* Removes o from view and frees it now or when its last pin goes. With
 * deep, members left unreferenced and unnamed follow; a worklist instead of
 * recursion, because member chains can be arbitrarily long. */
static void
obj_delete(struct store *s, struct object *root, int deep, size_t *count,
	   struct pjob **jp, int quarantine)
{
	struct object **work = xmalloc(sizeof(*work));
	size_t nwork = 1, cap = 1;

	work[0] = root;
	while (nwork > 0) {
		struct object *o = work[--nwork];
		struct pobj *po = pobj_of(s, o->id);
		int was_persisted = po != NULL;
		struct meta_view v;
		struct cr r;
		size_t i, nmem = 0;

		idtab_del(&s->objs, o->id);
		/* Each name goes with its own event, as in store_name_drop,
		 * so watchers (the FUSE view) can forget it. */
		while (o->names) {
			char *copy = xmemdup(o->names->str,
					     o->names->len + 1u);

			names_drop(&s->names, o->names);
			notify(s, STORE_EV_NAME_DROP, o->id, copy);
			free(copy);
		}
		notify(s, STORE_EV_DEL, o->id, NULL);
		(*count)++;
		if (po) { /* persistence: its files go too */
			pobj_drop(s, po, jp, quarantine);
			o->flags &= ~OBJ_PERSISTED;
		}
		if (o->flags & OBJ_BLOB) {
			s->nblobs--;
		} else {
			if (meta_view_parse(o->u.meta, o->metalen, &v))
				fatalx("store: stored metadata is corrupt");
			cr_init(&r, v.members, v.memberslen);
			cr_map(&r, &nmem);
		}
		for (i = 0; i < nmem; i++) {
			const char *nm;
			size_t nl;
			uint64_t mid;
			struct object *m;

			meta_member_next(&r, &nm, &nl, &mid);
			m = idtab_get(&s->objs, mid);
			if (!m)
				continue;
			m->refs--;
			if (was_persisted) {
				/* persistence: a member no persisted object
				 * holds any more needs its own anchor, unless
				 * it goes too (checked when the job runs). */
				struct pobj *pm = pobj_of(s, mid);

				if (pm && --pm->prefs == 0) {
					struct pjob *j = job_get(jp);

					ids_add(&j->anchors, &j->nanchors, mid);
				}
			}
			if (!deep || m->refs || m->names)
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
store_delete(struct store *s, const uint64_t *ids, size_t n, unsigned flags,
	     size_t *count)
{
	struct pjob *job = NULL;
	size_t i;
	int rc = 0;

	*count = 0;
	lock(s);
	for (i = 0; i < n && rc == 0; i++) {
		struct object *o = lookup(s, ids[i]);
		char idbuf[META_ID_LEN];

		if (!o) {
			rc = -ENOENT;
			break;
		}
		meta_id_format(ids[i], idbuf);
		if (o->refs)
			rc = fail(-EBUSY, "object %s is a member of %u other "
				  "object%s; delete %s first", idbuf, o->refs,
				  o->refs == 1 ? "" : "s",
				  o->refs == 1 ? "that" : "those");
	}
	for (i = 0; i < n && rc == 0; i++) {
		struct object *o = idtab_get(&s->objs, ids[i]);

		/* An earlier deep delete in this batch may have taken it. */
		if (o)
			obj_delete(s, o, !(flags & DELETE_F_SHALLOW), count,
				   &job, 0);
	}
	job_submit(s, job, 0); /* persistence */
	unlock(s);
	return rc;
}

/* ---- views ---- */

static void
info_of(struct object *o, struct store_info *out)
{
	struct name *n;

	memset(out, 0, sizeof(*out));
	out->id = o->id;
	out->nbytes = o->nbytes;
	out->flags = o->flags;
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

	lock(s);
	o = lookup(s, id);
	if (o)
		info_of(o, out);
	else
		rc = -ENOENT;
	unlock(s);
	return rc;
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The object's names, sorted, in a malloc'd array of borrowed strings. */
static const char **
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
store_meta_json(struct store *s, uint64_t id, struct cw *out)
{
	struct store_info info;
	struct meta_json j;
	struct meta_view v;
	struct object *o;
	const char **names;
	size_t nn;

	lock(s);
	o = lookup(s, id);
	if (!o) {
		unlock(s);
		return -ENOENT;
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
	unlock(s);
	free(names);
	return cw_finish(out);
}

int
store_members(struct store *s, uint64_t id,
	      int (*fn)(void *ctx, const char *name, size_t len,
			uint64_t member),
	      void *ctx)
{
	struct meta_view v;
	struct object *o;
	struct cr r;
	size_t i, n;
	int rc = 0;

	lock(s);
	o = lookup(s, id);
	if (!o)
		rc = -ENOENT;
	else if (!(o->flags & OBJ_BLOB)) {
		meta_view_parse(o->u.meta, o->metalen, &v);
		cr_init(&r, v.members, v.memberslen);
		cr_map(&r, &n);
		for (i = 0; i < n && rc == 0; i++) {
			const char *nm;
			size_t nl;
			uint64_t mid;

			meta_member_next(&r, &nm, &nl, &mid);
			rc = fn(ctx, nm, nl, mid);
		}
	}
	unlock(s);
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

int
store_list(struct store *s, const char *glob, uint64_t after, size_t limit,
	   store_list_fn fn, void *ctx, int *more)
{
	struct object **v, *o;
	size_t pos = 0, n = 0, i;
	int rc = 0;

	lock(s);
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
		names = names_of(v[i], &nn);
		rc = fn(ctx, &info, names, nn);
		free(names);
	}
	unlock(s);
	free(v);
	return rc;
}

int
store_ids(struct store *s, uint64_t **ids, size_t *n)
{
	struct object *o;
	size_t pos = 0, k = 0;
	uint64_t *v;

	lock(s);
	v = malloc((s->objs.count ? s->objs.count : 1) * sizeof(*v));
	if (!v) {
		unlock(s);
		return -ENOMEM;
	}
	while ((o = idtab_next(&s->objs, &pos)))
		v[k++] = o->id;
	unlock(s);
	qsort(v, k, sizeof(*v), u64_cmp);
	*ids = v;
	*n = k;
	return 0;
}

/* ---- names ---- */

int
store_name_put(struct store *s, const char *name, size_t len, uint64_t id)
{
	struct object *o, *old;
	struct name *n;
	const char *why;
	int rc = 0;

	if (names_check(name, len, &why))
		return fail(-EINVAL, "invalid name: %s", why);
	lock(s);
	o = lookup(s, id);
	if (!o) {
		rc = -ENOENT;
	} else {
		struct pjob *job = NULL;

		n = names_bind(&s->names, name, len, o, &old);
		notify(s, STORE_EV_NAME_SET, id, n->str);
		/* persistence: anchors carry names */
		anchor_dirty(s, o, &job);
		if (old != o)
			anchor_dirty(s, old, &job);
		job_submit(s, job, 0);
	}
	unlock(s);
	return rc;
}

int
store_name_get(struct store *s, const char *name, size_t len, uint64_t *id)
{
	struct name *n;
	int rc = 0;

	lock(s);
	n = names_get(&s->names, name, len);
	if (n)
		*id = n->obj->id;
	else
		rc = fail(-ENOENT, "no name '%.*s'", (int)(len > 255 ? 255 :
							   len), name);
	unlock(s);
	return rc;
}

int
store_name_drop(struct store *s, const char *name, size_t len)
{
	struct name *n;
	int rc = 0;

	lock(s);
	n = names_get(&s->names, name, len);
	if (n) {
		struct object *o = n->obj;
		struct pjob *job = NULL;
		char *copy = xmemdup(n->str, n->len + 1u);

		names_drop(&s->names, n);
		notify(s, STORE_EV_NAME_DROP, o->id, copy);
		free(copy);
		anchor_dirty(s, o, &job); /* persistence */
		job_submit(s, job, 0);
	} else {
		rc = fail(-ENOENT, "no name '%.*s'", (int)(len > 255 ? 255 :
							   len), name);
	}
	unlock(s);
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
		int (*fn)(void *ctx, const char *name, uint64_t id), void *ctx)
{
	struct name **v, *n;
	size_t pos = 0, k = 0, i;
	int rc = 0;

	lock(s);
	v = xcalloc(s->names.count, sizeof(*v));
	while ((n = names_next(&s->names, &pos)))
		if (!glob || fnmatch(glob, n->str, 0) == 0)
			v[k++] = n;
	qsort(v, k, sizeof(*v), name_cmp);
	for (i = 0; i < k && rc == 0; i++)
		rc = fn(ctx, v[i]->str, v[i]->obj->id);
	unlock(s);
	free(v);
	return rc;
}

void
store_watch(struct store *s, store_watch_fn fn, void *ctx)
{
	lock(s);
	if (s->nwatch < 4) {
		s->watch[s->nwatch].fn = fn;
		s->watch[s->nwatch].ctx = ctx;
		s->nwatch++;
	}
	unlock(s);
}

/* ---- added for the FUSE view (fs/) ---- */

int
store_has(struct store *s, uint64_t id)
{
	int found;

	lock(s);
	found = idtab_get(&s->objs, id) != NULL;
	unlock(s);
	return found;
}

void
store_unwatch(struct store *s, store_watch_fn fn, void *ctx)
{
	int i;

	lock(s);
	for (i = 0; i < s->nwatch; i++) {
		if (s->watch[i].fn != fn || s->watch[i].ctx != ctx)
			continue;
		memmove(&s->watch[i], &s->watch[i + 1],
			(size_t)(s->nwatch - i - 1) * sizeof(s->watch[0]));
		s->nwatch--;
		break;
	}
	unlock(s);
}

void
store_status(struct store *s, struct store_status *st)
{
	memset(st, 0, sizeof(*st));
	lock(s);
	st->objects = s->objs.count;
	st->blobs = s->nblobs;
	st->unsealed = s->unsealed.count;
	st->zombies = s->zombies.count;
	st->names = s->names.count;
	st->owners = s->nowners;
	st->payload = s->payload;
	st->used = used_bytes(s);
	st->limit = s->limit == UINT64_MAX ? 0 : s->limit;
	st->segments = slab_bytes(&s->slab);
	st->huge = arena_huge_name();
	st->persisted = s->npersisted;
	st->disk_bytes = s->disk_bytes;
	st->disk_raw = s->disk_raw;
	st->damaged = s->damaged;
	unlock(s);
}

/* ==== persistence ====
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

#define PERSIST_LEVEL 1 /* LZ4 acceleration: the fastest, as `lz4 -1` */

static void
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

static void
lazy_ids(struct store *s, struct object *root, uint64_t **ids, size_t *n)
{
	struct idlist l = { NULL, 0 };

	walk(s, root, lazy_one, &l);
	*ids = l.ids;
	*n = l.n;
}

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
			struct meta_view v;
			struct cr r;
			size_t k, nm;

			if ((o->flags & OBJ_BLOB) || idtab_get(&in, o->id))
				continue;
			meta_view_parse(o->u.meta, o->metalen, &v);
			cr_init(&r, v.members, v.memberslen);
			cr_map(&r, &nm);
			for (k = 0; k < nm; k++) {
				const char *name;
				size_t nl;
				uint64_t mid;

				meta_member_next(&r, &name, &nl, &mid);
				if (idtab_get(&in, mid))
					break;
			}
			if (k == nm)
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
				obj_delete(s, set[i], 0, &count, &job, 1);
				set[i] = NULL;
				left--;
			}
		if (left == before)
			break; /* cannot happen: set is closed upwards */
	}
	free(set);
	job_submit(s, job, 0);
	meta_id_format(bad->id, idbuf);
	if (count > 1)
		log_warnx("store: dropped %zu objects that reference damaged "
			  "blob %s", count - 1, idbuf);
}

/* Reads lazy blob id back into memory. Caller holds the lock; it is let
 * go while the file is read and decompressed (the blob is marked
 * OBJ_LOADING and pinned meanwhile; other loaders of it wait). */
static int
load_blob(struct store *s, uint64_t id)
{
	struct object *o;
	const char *why = NULL;
	char idbuf[META_ID_LEN], msg[320] = "", name[40];
	uint8_t *buf = NULL;
	size_t fp = 0;
	uint64_t len;
	int fd = -1, ro = -1, rc = 0;

	meta_id_format(id, idbuf);
	for (;;) {
		o = idtab_get(&s->objs, id);
		if (!o)
			return fail(-ENOENT, "no object %s", idbuf);
		if (!(o->flags & OBJ_LAZY))
			return 0;
		if (!(o->flags & OBJ_LOADING))
			break;
		pthread_cond_wait(&s->load_cond, &s->lock);
	}
	len = o->nbytes;
	if (len <= PROTO_SMALL_MAX) {
		buf = xmalloc(len ? len : 1);
	} else {
		fp = arena_footprint(len);
		if (fp < len || used_bytes(s) + fp > s->limit ||
		    used_bytes(s) + fp < fp) {
			char w[32], u[32], l[32];

			human(len, w, sizeof(w));
			human(used_bytes(s), u, sizeof(u));
			human(s->limit, l, sizeof(l));
			return fail(-ENOSPC, "no space to read persisted blob %s "
				    "(%s) back into memory: %s of %s in use "
				    "(vineyardd --size)", idbuf, w, u, l);
		}
		snprintf(name, sizeof(name), "vineyard-%016" PRIx64, id);
		rc = arena_memfd(name, (size_t)len, &fd);
		if (rc)
			return fail(rc, "cannot reserve memory to read "
				    "persisted blob %s back: %s", idbuf,
				    strerror(-rc));
		s->big_bytes += fp;
	}
	o->flags |= OBJ_LOADING;
	o->pins++;
	pthread_mutex_unlock(&s->lock);

	/* Written with pwrite: the memfd's pages are reserved already, and
	 * copying in beats faulting a mapping in page by page. */
	rc = persist_load_blob(s->disk, id, fd, buf, len, &why);
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
		uint64_t big = s->big_bytes;

		s->slab.limit_segs = s->limit == UINT64_MAX ? (size_t)-1 :
			(size_t)(big > s->limit ? 0 :
				 (s->limit - big) / SLAB_SEG_SIZE);
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
	} else if (fd >= 0) {
		close(fd);
		s->big_bytes -= fp;
	}
	o->flags &= ~OBJ_LOADING;
	pthread_cond_broadcast(&s->load_cond);
	free(buf);
	if (rc == -EBADMSG) {
		log_warnx("store: persisted blob %s: %s", idbuf, msg);
		if (!(o->flags & OBJ_DELETED))
			drop_damaged(s, o);
		rc = fail(-EBADMSG, "%s; the object was dropped", msg);
	} else if (rc) {
		rc = fail(rc, "cannot read persisted blob %s back: %s", idbuf,
			  msg);
	}
	obj_unpin(s, o, 1);
	return rc;
}

/* ---- the writer ---- */

struct pitem {
	struct object *o;
	uint64_t id;
	int rofd;           /* big blob */
	const void *src;    /* small blob: its bytes in the segment */
	size_t len;         /* blob bytes, or document bytes */
	uint8_t *doc;       /* composite: a copy of its document */
	uint16_t flags;     /* DISKFMT_F_ROOT for the object persisted */
	struct persist_file f;
	int state;          /* 1 written, 2 synced, 3 committed */
};

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
	struct cr r;
	size_t i, n;

	if (meta_view_parse(doc, len, &v))
		fatalx("store: stored metadata is corrupt");
	cr_init(&r, v.members, v.memberslen);
	cr_map(&r, &n);
	for (i = 0; i < n; i++) {
		const char *nm;
		size_t nl;
		uint64_t mid;

		meta_member_next(&r, &nm, &nl, &mid);
		fn(ctx, mid);
	}
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

static int
write_item(struct store *s, struct pitem *it)
{
	struct cw w;
	int rc;

	if (it->doc) {
		cw_init(&w);
		diskfmt_object_file(&w, it->id, it->flags, it->doc, it->len);
		if (w.oom)
			fatalx("out of memory encoding a record");
		rc = persist_write_record(s->disk, DISKFMT_OBJECT, it->id,
					  w.buf, w.len, &it->f);
		cw_release(&w);
	} else {
		/* A big blob is read from its memfd (pread beats a mapping
		 * here), a small one from its segment. */
		rc = persist_write_blob(s->disk, it->id, it->flags, it->rofd,
					it->src, it->len, PERSIST_LEVEL,
					&s->cancel, &it->f);
	}
	if (rc == 0)
		it->state = 1;
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
	lock(s);
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
			const char **names;
			size_t nn;

			names = names_of(o, &nn);
			cw_init(&a->w);
			diskfmt_anchor_file(&a->w, a->id, s->seq++,
					    p->explicit_, names, nn);
			free(names);
			if (a->w.oom)
				fatalx("out of memory encoding a record");
		} else {
			a->remove = 1;
		}
	}
	unlock(s);
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
	lock(s);
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
	unlock(s);
	free(v);
	return rc;
}

static void
run_persist(struct store *s, struct pjob *j)
{
	struct collect c = { NULL, 0, j->persist };
	struct object *o;
	uint64_t *anchors = NULL;
	size_t na = 0, i;
	char idbuf[META_ID_LEN];
	int rc = 0, pass;

	meta_id_format(j->persist, idbuf);
	lock(s);
	o = idtab_get(&s->objs, j->persist);
	if (!o) {
		unlock(s);
		jfail(j, -ENOENT, "object %s was deleted before it could be "
		      "persisted", idbuf);
		return;
	}
	walk(s, o, collect_one, &c);
	for (i = 0; i < c.n; i++)
		if (c.v[i].doc)
			each_member(c.v[i].doc, c.v[i].len, prefs_inc, s);
	pobj_of(s, j->persist)->explicit_ = 1;
	unlock(s);

	/* Content files: all written, then all synced (the first fsync
	 * usually flushes the rest), then renamed, then one directory
	 * fsync makes the renames durable. */
	for (i = 0; i < c.n && rc == 0; i++)
		rc = write_item(s, &c.v[i]);
	for (i = 0; i < c.n && rc == 0; i++)
		if ((rc = persist_sync(s->disk, &c.v[i].f)) == 0)
			c.v[i].state = 2;
	/* Members' names first, durable, then the object's own: its file
	 * says "top-level", so it must never be there without them. */
	for (pass = 0; pass < 2; pass++) {
		size_t done = 0;

		for (i = 0; i < c.n && rc == 0; i++) {
			if (!c.v[i].flags != !pass)
				continue;
			if ((rc = persist_commit(s->disk, &c.v[i].f)) == 0) {
				c.v[i].state = 3;
				done++;
			}
		}
		if (rc == 0 && done)
			rc = persist_sync_dir(s->disk);
	}
	if (rc) {
		jfail(j, rc, "cannot persist %s: %s; nothing of it was left on "
		      "disk", idbuf, rc == -ECANCELED ?
		      "the daemon is stopping" : persist_errmsg());
	} else {
		/* Then the anchors: the commit point. */
		ids_add(&anchors, &na, j->persist);
		for (i = 0; i < c.n; i++)
			ids_add(&anchors, &na, c.v[i].id);
		rc = write_anchors(s, j, anchors, na);
		free(anchors);
		if (rc)
			snprintf(j->msg, sizeof(j->msg), "cannot persist %s: "
				 "%s; nothing of it was left on disk",
				 idbuf, persist_errmsg());
	}

	lock(s);
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
	unlock(s);

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
	if (rc && c.n)
		persist_sync_dir(s->disk);
	free(c.v);
}

/* Removes (or moves to damaged/) every file of ids: anchors first, so a
 * crash half-way leaves content no anchor reaches, which start-up drops. */
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

			if (quarantine)
				persist_quarantine(s->disk, kind, ids[i],
						   "its blob is damaged");
			else if ((rc = persist_remove(s->disk, kind, ids[i])))
				jfail(j, rc, "%s", persist_errmsg());
		}
		if ((rc = persist_sync_dir(s->disk)))
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
		if (j->persist)
			run_persist(s, j);
		if (j->nanchors)
			write_anchors(s, j, j->anchors, j->nanchors);
		if (j->nrm)
			remove_files(s, j, j->rm, j->nrm, 0);
		if (j->nquar)
			remove_files(s, j, j->quar, j->nquar, 1);
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

	while ((j = job_next(s, &s->lq, &s->lq_tail, &s->lq_cond, 0))) {
		lock(s);
		for (i = 0; i < j->nloads; i++) {
			int rc = load_blob(s, j->loads[i]);

			/* A blob deleted meanwhile: the caller's retry
			 * says so better. */
			if (rc && rc != -ENOENT)
				jfail(j, rc, "%s", store_errmsg());
		}
		unlock(s);
		job_done(s, j);
	}
	return NULL;
}

static void
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

static void
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

/* ---- the calls ---- */

int
store_persist(struct store *s, uint64_t id)
{
	int rc = 0;

	lock(s);
	if (!lookup(s, id)) {
		rc = -ENOENT;
	} else if (!s->disk) {
		rc = fail(-ENOTSUP, "this daemon has no data directory; "
			  "persistence is not available");
	} else {
		struct pjob *job = NULL;

		job_get(&job)->persist = id;
		job_submit(s, job, 0);
	}
	unlock(s);
	return rc;
}

int
store_unpersist(struct store *s, uint64_t id)
{
	struct object **work = NULL, *o;
	struct pjob *job = NULL;
	struct pobj *p;
	size_t nwork = 0, i;
	uint64_t *lazy = NULL;
	size_t nlazy = 0;
	char idbuf[META_ID_LEN];
	int rc = 0;

	meta_id_format(id, idbuf);
	lock(s);
	o = lookup(s, id);
	if (!o) {
		rc = -ENOENT;
		goto out;
	}
	p = pobj_of(s, id);
	if (!p)
		goto out; /* not persisted: nothing to do */
	if (p->prefs) {
		rc = fail(-EBUSY, "object %s is a member of %u persisted "
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
	o = lookup(s, id);
	p = o ? pobj_of(s, id) : NULL;
	if (!o || !p || p->prefs) {
		rc = fail(-EAGAIN, "object %s changed meanwhile; try again",
			  idbuf);
		goto out;
	}
	/* Members no other persisted object holds, and that were not
	 * persisted by request, stop being persisted too. */
	work = xmalloc(sizeof(*work));
	work[nwork++] = o;
	while (nwork > 0) {
		struct object *x = work[--nwork];
		struct pobj *px = pobj_of(s, x->id);
		struct meta_view v;
		struct cr r;
		size_t n = 0;

		if (!px)
			continue;
		if (!(x->flags & OBJ_BLOB)) {
			meta_view_parse(x->u.meta, x->metalen, &v);
			cr_init(&r, v.members, v.memberslen);
			cr_map(&r, &n);
		}
		for (i = 0; i < n; i++) {
			const char *nm;
			size_t nl;
			uint64_t mid;
			struct pobj *pm;

			meta_member_next(&r, &nm, &nl, &mid);
			pm = pobj_of(s, mid);
			if (!pm || !pm->prefs || --pm->prefs)
				continue;
			if (pm->explicit_) {
				struct pjob *j = job_get(&job);

				ids_add(&j->anchors, &j->nanchors, mid);
			} else {
				work = xreallocarray(work, nwork + 1,
						     sizeof(*work));
				work[nwork++] = idtab_get(&s->objs, mid);
			}
		}
		x->flags &= ~OBJ_PERSISTED;
		pobj_drop(s, px, &job, 0);
	}
	free(work);
	job_submit(s, job, 0);
out:
	unlock(s);
	return rc;
}

int
store_prefetch(struct store *s, uint64_t id)
{
	struct object *o;
	struct pjob *job;
	uint64_t *ids;
	size_t n;

	lock(s);
	o = s->disk ? idtab_get(&s->objs, id) : NULL;
	if (o) {
		lazy_ids(s, o, &ids, &n);
		if (n) {
			job = xcalloc(1, sizeof(*job));
			job->loads = ids;
			job->nloads = n;
			job_submit(s, job, 1);
		}
	}
	unlock(s);
	return 0;
}

uint64_t
store_ticket(void)
{
	return store_tick;
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
		fail(rc, "%s", j->msg);
	job_free(j);
	return rc;
}

/* ---- start-up: restoring the data directory ---- */

struct rent {
	uint64_t id;          /* first: idtab key */
	uint8_t content;      /* its .blob or .obj passed the checks */
	uint8_t anchor;       /* its .anchor passed them */
	uint8_t state;        /* graph check: 0 new, 1 on the path, 2 good,
			       * 3 bad (a member missing, damaged or a cycle) */
	uint8_t keep;         /* reachable from an anchor or a root file */
	uint8_t root;         /* its content file has DISKFMT_F_ROOT */
	uint8_t explicit_;
	uint64_t content_len; /* file bytes */
	uint64_t anchor_len;
	uint64_t raw;         /* blob bytes, or document bytes */
	uint8_t *small;       /* small blob: its bytes, already decoded */
	uint8_t *doc;         /* composite: its document */
	uint64_t *members;    /* composite: member ids, one per entry */
	size_t nmembers;
	uint64_t seq;         /* anchor */
	char **names;
	size_t nnames;
};

struct restore {
	struct store *s;
	struct idtab t;       /* struct rent */
	struct rent **order;  /* good rents, members before parents */
	size_t norder;
	uint64_t damaged;     /* files moved aside */
	uint64_t removed;     /* leftover files of unfinished persists */
};

static struct rent *
rent_get(struct restore *r, uint64_t id)
{
	struct rent *x = idtab_get(&r->t, id);

	if (!x) {
		x = xcalloc(1, sizeof(*x));
		x->id = id;
		tab_put(&r->t, x);
	}
	return x;
}

static const char *
restore_blob(struct restore *r, const struct persist_entry *e)
{
	const struct diskfmt_hdr *h = &e->hdr;
	struct rent *x;
	const char *why;
	uint8_t *b = NULL;

	if (!meta_id_is_blob(h->id))
		return "a blob file named after an object id";
	if (h->raw_len > SIZE_MAX / 2)
		return "blob too large for this machine";
	if (e->body && h->raw_len <= PROTO_SMALL_MAX) {
		/* Small: decoded now, checksum included. */
		b = xmalloc(h->raw_len ? (size_t)h->raw_len : 1);
		if (diskfmt_blob_decode_mem(e->body, (size_t)h->body_len, b,
					    h->raw_len, &why)) {
			free(b);
			return why;
		}
	}
	x = rent_get(r, h->id);
	x->content = 1;
	x->root = (h->flags & DISKFMT_F_ROOT) != 0;
	x->content_len = e->file_len;
	x->raw = h->raw_len;
	x->small = b;
	return NULL;
}

static const char *
restore_object(struct restore *r, const struct persist_entry *e)
{
	const struct diskfmt_hdr *h = &e->hdr;
	struct meta_view v;
	struct rent *x;
	const char *why;
	const void *doc;
	struct cr c;
	size_t dl, n, i;
	uint64_t *members;

	if (meta_id_is_blob(h->id))
		return "an object file named after a blob id";
	if (diskfmt_object_parse(h, e->body, &doc, &dl, &why))
		return why;
	if (dl > META_MAX_LEN || meta_view_parse(doc, dl, &v))
		return "malformed metadata document";
	cr_init(&c, v.members, v.memberslen);
	if (cr_map(&c, &n))
		return "malformed member list";
	members = xcalloc(n ? n : 1, sizeof(*members));
	for (i = 0; i < n; i++) {
		const char *nm;
		size_t nl;

		if (meta_member_next(&c, &nm, &nl, &members[i]) ||
		    members[i] == 0 || members[i] == h->id) {
			free(members);
			return "malformed member list";
		}
	}
	x = rent_get(r, h->id);
	x->content = 1;
	x->root = (h->flags & DISKFMT_F_ROOT) != 0;
	x->content_len = e->file_len;
	x->raw = dl;
	x->doc = xmemdup(doc, dl);
	x->members = members;
	x->nmembers = n;
	return NULL;
}

static const char *
restore_anchor(struct restore *r, const struct persist_entry *e)
{
	struct diskfmt_anchor a;
	struct rent *x;
	const char *why;
	size_t i;

	if (diskfmt_anchor_parse(&e->hdr, e->body, &a, &why))
		return why;
	x = rent_get(r, e->hdr.id);
	x->names = xcalloc(a.nnames ? a.nnames : 1, sizeof(*x->names));
	for (i = 0; i < a.nnames; i++) {
		const char *nm;
		size_t len;

		diskfmt_anchor_name(&a, &nm, &len);
		if (names_check(nm, len, &why)) {
			while (i-- > 0)
				free(x->names[i]);
			free(x->names);
			x->names = NULL;
			return "an invalid name in the anchor";
		}
		x->names[i] = xmalloc(len + 1);
		memcpy(x->names[i], nm, len);
		x->names[i][len] = 0;
	}
	x->nnames = a.nnames;
	x->anchor = 1;
	x->anchor_len = e->file_len;
	x->seq = a.seq;
	x->explicit_ = a.explicit_ != 0;
	return NULL;
}

static const char *
restore_file(void *ctx, const struct persist_entry *e)
{
	struct restore *r = ctx;

	switch (e->hdr.kind) {
	case DISKFMT_BLOB: return restore_blob(r, e);
	case DISKFMT_OBJECT: return restore_object(r, e);
	default: return restore_anchor(r, e);
	}
}

static void
restore_aside(struct restore *r, struct rent *x, const char *why)
{
	if (x->content) {
		persist_quarantine(r->s->disk, meta_id_is_blob(x->id) ?
				   DISKFMT_BLOB : DISKFMT_OBJECT, x->id, why);
		r->damaged++;
	}
	if (x->anchor) {
		persist_quarantine(r->s->disk, DISKFMT_ANCHOR, x->id, why);
		r->damaged++;
	}
	x->content = x->anchor = 0;
}

static void
order_add(struct restore *r, struct rent *x)
{
	x->state = 2;
	r->order = xreallocarray(r->order, r->norder + 1, sizeof(*r->order));
	r->order[r->norder++] = x;
}

/* Marks root and what it needs good (every member present and good, no
 * cycle) or bad, depth first without recursion: files can describe
 * arbitrarily long chains, and cycles no writer of ours produces. */
static void
restore_check(struct restore *r, struct rent *root)
{
	struct frame {
		struct rent *x;
		size_t next;
	} *st = xmalloc(sizeof(*st));
	size_t depth = 0, cap = 1;
	int bad = 0;

	st[depth++] = (struct frame){ root, 0 };
	root->state = 1;
	while (depth > 0) {
		struct frame *f = &st[depth - 1];
		struct rent *x = f->x, *m;

		if (bad) {
			/* Whatever is on the path contains the bad one. */
			x->state = 3;
			depth--;
			continue;
		}
		if (f->next == x->nmembers) {
			order_add(r, x);
			depth--;
			continue;
		}
		m = idtab_get(&r->t, x->members[f->next++]);
		if (!m || !m->content || m->state == 1 || m->state == 3) {
			bad = 1;
			continue;
		}
		if (m->state == 2)
			continue;
		if (depth == cap) {
			cap *= 2;
			st = xreallocarray(st, cap, sizeof(*st));
		}
		m->state = 1;
		st[depth++] = (struct frame){ m, 0 };
	}
	free(st);
}

static void
restore_keep(struct restore *r, struct rent *root)
{
	struct rent **st = xmalloc(sizeof(*st));
	size_t depth = 0, cap = 1, i;

	root->keep = 1;
	st[depth++] = root;
	while (depth > 0) {
		struct rent *x = st[--depth];

		for (i = 0; i < x->nmembers; i++) {
			struct rent *m = idtab_get(&r->t, x->members[i]);

			if (m->keep)
				continue;
			m->keep = 1;
			if (depth == cap) {
				cap *= 2;
				st = xreallocarray(st, cap, sizeof(*st));
			}
			st[depth++] = m;
		}
	}
	free(st);
}

struct rname {
	uint64_t seq;
	struct object *o;
	const char *name;
};

static int
rname_cmp(const void *a, const void *b)
{
	const struct rname *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Makes the store objects, members before parents. */
static void
restore_build(struct restore *r, uint64_t *nlazy)
{
	struct store *s = r->s;
	size_t i, k;

	for (i = 0; i < r->norder; i++) {
		struct rent *x = r->order[i];
		struct object *o;
		struct pobj *p;

		if (!x->keep)
			continue;
		o = xcalloc(1, sizeof(*o));
		o->id = x->id;
		o->flags = OBJ_SEALED | OBJ_PERSISTED;
		if (meta_id_is_blob(x->id)) {
			uint32_t seg, off;

			o->flags |= OBJ_BLOB;
			o->nbytes = x->raw;
			if (x->small && slab_alloc(&s->slab, (size_t)x->raw,
						   &seg, &off) == 0) {
				if (x->raw)
					memcpy(slab_ptr(&s->slab, seg, off),
					       x->small, (size_t)x->raw);
				o->flags |= OBJ_SMALL;
				o->u.small.seg = seg;
				o->u.small.off = off;
				s->payload += x->raw;
			} else {
				o->flags |= OBJ_LAZY;
				o->u.big.fd = o->u.big.rofd = -1;
				(*nlazy)++;
			}
			s->nblobs++;
		} else {
			o->u.meta = x->doc;
			o->metalen = (uint32_t)x->raw;
			x->doc = NULL;
			for (k = 0; k < x->nmembers; k++) {
				struct object *m = idtab_get(&s->objs,
							     x->members[k]);

				m->refs++;
				o->nbytes += m->nbytes;
				((struct pobj *)idtab_get(&s->pobjs,
							  m->id))->prefs++;
			}
		}
		tab_put(&s->objs, o);
		p = xcalloc(1, sizeof(*p));
		p->id = x->id;
		p->explicit_ = x->explicit_ || x->root;
		p->rootfile = x->root;
		p->anchored = x->anchor;
		p->content = x->content_len;
		p->anchor = x->anchor_len;
		p->raw = x->raw;
		tab_put(&s->pobjs, p);
		s->disk_bytes += p->content + p->anchor;
		s->disk_raw += p->raw;
		s->npersisted++;
	}
}

/* Binds the names anchors carry; where two claim one name (a crash
 * between rewriting both), the later write wins. */
static uint64_t
restore_names(struct restore *r)
{
	struct rname *v = NULL;
	struct rent *x;
	size_t n = 0, pos = 0, i;
	uint64_t maxseq = 0;

	while ((x = idtab_next(&r->t, &pos))) {
		if (x->seq > maxseq)
			maxseq = x->seq;
		if (!x->keep || !x->anchor)
			continue;
		for (i = 0; i < x->nnames; i++) {
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n].seq = x->seq;
			v[n].o = idtab_get(&r->s->objs, x->id);
			v[n].name = x->names[i];
			n++;
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), rname_cmp);
	for (i = 0; i < n; i++) {
		struct object *old;

		names_bind(&r->s->names, v[i].name, strlen(v[i].name), v[i].o,
			   &old);
	}
	free(v);
	r->s->seq = maxseq + 1;
	return n;
}

static int
store_restore(struct store *s)
{
	struct persist_scan_stats st;
	struct restore r;
	struct rent *x;
	struct timespec t0, t1;
	size_t pos, i;
	uint64_t nlazy = 0;
	uint64_t big = s->big_bytes;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&r, 0, sizeof(r));
	r.s = s;
	idtab_init(&r.t);
	rc = persist_scan(s->disk, restore_file, &r, &st);
	if (rc)
		fatalx("%s", persist_errmsg());
	r.damaged = st.damaged;
	/* An anchor whose object's file is gone or damaged. */
	pos = 0;
	while ((x = idtab_next(&r.t, &pos)))
		if (x->anchor && !x->content)
			restore_aside(&r, x, "the object's own file is missing "
				      "or damaged");
	/* Blobs are whole by themselves; composites need all members. */
	pos = 0;
	while ((x = idtab_next(&r.t, &pos)))
		if (x->content && meta_id_is_blob(x->id))
			order_add(&r, x);
	pos = 0;
	while ((x = idtab_next(&r.t, &pos)))
		if (x->content && x->state == 0)
			restore_check(&r, x);
	pos = 0;
	while ((x = idtab_next(&r.t, &pos)))
		if (x->state == 3)
			restore_aside(&r, x, "a member is missing or damaged; "
				      "not restored half");
	/* What anchors and root files reach comes back. */
	for (i = 0; i < r.norder; i++)
		if ((r.order[i]->anchor || r.order[i]->root) &&
		    !r.order[i]->keep)
			restore_keep(&r, r.order[i]);
	/* The rest was written by a persist a crash cut short. When files
	 * were damaged, an anchor may be what is missing: keep them aside
	 * rather than remove them. */
	for (i = 0; i < r.norder; i++) {
		x = r.order[i];
		if (x->keep)
			continue;
		if (r.damaged) {
			restore_aside(&r, x, "no persisted object refers to "
				      "it and other files are damaged");
		} else {
			persist_remove(s->disk, meta_id_is_blob(x->id) ?
				       DISKFMT_BLOB : DISKFMT_OBJECT, x->id);
			persist_remove(s->disk, DISKFMT_ANCHOR, x->id);
			r.removed++;
		}
	}
	if (r.removed) {
		persist_sync_dir(s->disk);
		log_info("persist: removed %" PRIu64 " file%s of an "
			 "unfinished persist", r.removed,
			 r.removed == 1 ? "" : "s");
	}
	s->slab.limit_segs = s->limit == UINT64_MAX ? (size_t)-1 :
		(size_t)(big > s->limit ? 0 : (s->limit - big) /
			 SLAB_SEG_SIZE);
	restore_build(&r, &nlazy);
	i = restore_names(&r);
	s->damaged = r.damaged;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("persist: restored %" PRIu64 " objects (%" PRIu64 " blobs, %"
		 PRIu64 " read back on first use) and %zu names from %s in %.0f "
		 "ms", s->npersisted, s->nblobs, nlazy, i,
		 persist_dir(s->disk), (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		 (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (r.damaged)
		log_warnx("persist: %" PRIu64 " damaged file%s skipped; see %s/"
			  "damaged", r.damaged, r.damaged == 1 ? "" : "s",
			  persist_dir(s->disk));
	pos = 0;
	while ((x = idtab_next(&r.t, &pos))) {
		for (i = 0; i < x->nnames; i++)
			free(x->names[i]);
		free(x->names);
		free(x->small);
		free(x->doc);
		free(x->members);
		free(x);
	}
	idtab_release(&r.t);
	free(r.order);
	return 0;
}
