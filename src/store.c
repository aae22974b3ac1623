/*
 * store: the facade's lifecycle and accounting: the per-thread error
 * text, the store lock, ids, the memory limit, store_new/store_free and
 * store_status. The other store_*.c files hold one job each and share
 * the struct in store_int.h (the map is at the top of that header).
 */
#include <assert.h>
#include <errno.h>
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

#include "cluster/cluster.h"
#include "store_int.h"
#include "stream.h"
#include "banned.h"

static __thread char store_err[320];

void
tab_put(struct idtab *t, void *p)
{
	/* An object is in a table at most once. */
	assert(idtab_get(t, *(const uint64_t *)p) == NULL);
	if (idtab_put(t, p))
		fatalx("out of memory growing a table");
}

int
store_fail(int rc, const char *fmt, ...)
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

void
store_lock(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	store_err[0] = 0;
}

void
store_unlock(struct store *s)
{
	pthread_mutex_unlock(&s->lock);
}

void
store_notify(struct store *s, enum store_event ev, uint64_t id,
	     const char *name)
{
	int i;

	for (i = 0; i < s->nwatch; i++)
		s->watch[i].fn(s->watch[i].ctx, ev, id, name);
}

uint64_t
used_bytes(const struct store *s)
{
	return s->big_bytes + slab_bytes(&s->slab);
}

int
store_fits(struct store *s, uint64_t fp)
{
	uint64_t used = used_bytes(s);

	if (used + fp < fp || used + fp > s->limit)
		return 0;
	if (used + fp + slab_idle_bytes(&s->slab) + reserve_bytes(s) >
	    s->limit)
		reserve_drop(s);
	if (used + fp + slab_idle_bytes(&s->slab) > s->limit)
		slab_trim(&s->slab);
	return 1;
}

void
slab_limit_update(struct store *s)
{
	uint64_t big = s->big_bytes;

	s->slab.limit_segs = s->limit == UINT64_MAX ? (size_t)-1 :
		(size_t)(big > s->limit ? 0 : (s->limit - big) / SLAB_SEG_SIZE);
}

int
fail_nospace(struct store *s, uint64_t want)
{
	char w[32], u[32], l[32];

	human_bytes(want, w, sizeof(w));
	human_bytes(used_bytes(s), u, sizeof(u));
	human_bytes(s->limit, l, sizeof(l));
	return store_fail(-ENOSPC, "no space for %s: %s of %s in use "
			  "(vineyardd --size)%s", w, u, l, s->spill ?
			  "; what is in memory is in use or held, so it "
			  "cannot be spilled" : "");
}

uint64_t
new_id(struct store *s, int blob)
{
	uint64_t z;

	for (;;) {
		z = (s->rng += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		/* in a cluster, bits 48..62 say which instance made it, so
		 * ids are unique cluster-wide (cluster.h) */
		if (s->instance)
			z = (z & ((1ull << CLUSTER_ID_SHIFT) - 1)) |
			    (uint64_t)s->instance << CLUSTER_ID_SHIFT;
		z = blob ? z | META_BLOB_BIT : z & ~META_BLOB_BIT;
		if ((z & ~META_BLOB_BIT) == 0)
			continue;
		if (!idtab_get(&s->objs, z) && !idtab_get(&s->unsealed, z) &&
		    !idtab_get(&s->zombies, z) &&
		    !(s->res.fd >= 0 && s->res.id == z))
			return z;
	}
}

uint64_t
store_new_id(struct store *s)
{
	uint64_t id;

	store_lock(s);
	id = new_id(s, 0);
	store_unlock(s);
	return id;
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
	s->stream_limit = s->limit == UINT64_MAX ? UINT64_MAX :
		(uint64_t)((double)s->limit * STREAM_DEFAULT_THRESHOLD);
	s->owners.next = s->owners.prev = &s->owners;
	idtab_init(&s->streams);
	s->uid = (uint32_t)geteuid();
	s->gid = (uint32_t)getegid();
	if (getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng))
		s->rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	arena_init(cfg->huge_pages);
	/* Tests: the "pool" mode whatever the machine's policy is just now
	 * (other daemons with --huge-pages enable change it while they run);
	 * MADV_COLLAPSE works under every policy but deny. */
	if (cfg->huge_pages && getenv("VINEYARD_TEST_HUGE_POOL"))
		arena_force_mode(ARENA_HUGE_POOL);
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
	spill_start(s, cfg);
	if (s->disk) {
		persist_note_pid(s->disk);
		store_restore(s);
	}
	if (s->disk || s->spill) {
		s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (s->efd < 0)
			fatal("eventfd");
		threads_start(s);
	}
	spill_run(s);
	reserve_start(s, cfg->reserve);
	return s;
}

/* Frees an object's memory and the object. Not in any table any more. */
void
obj_destroy(struct store *s, struct object *o)
{
	if (o->flags & OBJ_SPILLED)
		spill_forget(s, o->id);
	if (o->flags & OBJ_LAZY) {
		/* restored or spilled, not read back: no memory held */
		s->lazy_bytes -= o->nbytes;
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
			reserve_kick(s); /* room for the pool again */
		}
	} else {
		free(o->u.meta);
	}
	free(o);
}

void
store_set_instance(struct store *s, uint32_t instance)
{
	store_lock(s);
	s->instance = instance & CLUSTER_MAX_INSTANCE;
	reserve_drop(s); /* named after an id without the instance */
	store_unlock(s);
}

void
store_free(struct store *s)
{
	struct object *o;
	size_t pos;

	if (!s)
		return;
	spill_stop(s);
	threads_stop(s); /* persistence: before anything they use goes */
	reserve_stop(s);
	while (s->owners.next != &s->owners)
		store_owner_free(s, s->owners.next);
	stream_free_all(s);
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
	spill_release(s);
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


void
store_status(struct store *s, struct store_status *st)
{
	memset(st, 0, sizeof(*st));
	store_lock(s);
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
	st->idle_segments = slab_idle_bytes(&s->slab);
	st->reserve = reserve_bytes(s);
	reserve_figures(s, &st->reserve_filled, &st->reserve_target);
	st->spilled = s->lazy_bytes;
	st->spill_disk = s->spill_disk;
	st->spills = s->nspills;
	st->spill_dir = s->spill ? persist_dir(s->spill) : NULL;
	st->huge = arena_huge_name();
	st->persisted = s->npersisted;
	st->disk_bytes = s->disk_bytes;
	st->disk_raw = s->disk_raw;
	st->damaged = s->damaged;
	store_unlock(s);
}
