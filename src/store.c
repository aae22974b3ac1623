/*
 * store: every state change of the object store, under one mutex. Sealed
 * objects live in `objs`, blobs still being written in `unsealed`, and
 * deleted blobs that a reader still maps in `zombies` until their last pin
 * goes. Composite objects count references on their members, so a member
 * cannot be deleted from under its parent.
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "arena.h"
#include "idtab.h"
#include "log.h"
#include "meta.h"
#include "names.h"
#include "object.h"
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
};

static __thread char store_err[320];

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
	return s;
}

/* Frees an object's memory and the object. Not in any table any more. */
static void
obj_destroy(struct store *s, struct object *o)
{
	if (o->flags & OBJ_BLOB) {
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
	if (persist) {
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
	}
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

int
store_get(struct store *s, struct store_owner *ow, uint64_t id,
	  unsigned flags, store_obj_fn on_obj, store_blob_fn on_blob,
	  void *ctx)
{
	struct object **stack = NULL, *o;
	struct idtab seen;
	size_t depth = 0, cap = 0;
	int rc = 0;

	idtab_init(&seen);
	lock(s);
	o = lookup(s, id);
	if (!o) {
		rc = -ENOENT;
		goto out;
	}
	/* Iterative walk: chains of objects can be arbitrarily long. */
	stack = xreallocarray(NULL, 16, sizeof(*stack));
	cap = 16;
	stack[depth++] = o;
	tab_put(&seen, o);
	while (depth > 0 && rc == 0) {
		o = stack[--depth];
		if (o->flags & OBJ_BLOB) {
			struct store_blobref b;

			blobref(s, o, &b);
			if (!(flags & GET_F_META))
				pin(ow, o);
			rc = on_blob ? on_blob(ctx, &b) : 0;
			continue;
		}
		rc = on_obj ? on_obj(ctx, o->id, o->u.meta, o->metalen,
				   o->nbytes) : 0;
		if (rc)
			break;
		{
			struct meta_view v;
			struct cr r;
			size_t i, n;

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
					stack = xreallocarray(stack, cap,
							      sizeof(*stack));
				}
				stack[depth++] = m;
			}
		}
	}
out:
	unlock(s);
	free(stack);
	idtab_release(&seen);
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
	if (!o)
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
obj_delete(struct store *s, struct object *root, int deep, size_t *count)
{
	struct object **work = xmalloc(sizeof(*work));
	size_t nwork = 1, cap = 1;

	work[0] = root;
	while (nwork > 0) {
		struct object *o = work[--nwork];
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
			obj_delete(s, o, !(flags & DELETE_F_SHALLOW), count);
	}
	unlock(s);
	return rc;
}

int
store_persist(struct store *s, uint64_t id)
{
	int rc;

	lock(s);
	rc = lookup(s, id) ? fail(-ENOTSUP, "this daemon has no data "
				  "directory; persistence is not available")
			   : -ENOENT;
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
		n = names_bind(&s->names, name, len, o, &old);
		notify(s, STORE_EV_NAME_SET, id, n->str);
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
		uint64_t id = n->obj->id;
		char *copy = xmemdup(n->str, n->len + 1u);

		names_drop(&s->names, n);
		notify(s, STORE_EV_NAME_DROP, id, copy);
		free(copy);
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
	unlock(s);
}
