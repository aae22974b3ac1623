/*
 * store_reserve: the reserve pool that makes puts fast on default settings.
 *
 * On virtual machines the slow part of a put is not the copy but the first
 * touch of fresh pages (the host backs guest memory on demand: ~4 us per
 * 4 KiB page, 15x a warm memcpy). Seals forbid reusing a sealed blob's
 * pages, so instead one memfd, not yet sealed, is filled ahead of time by a
 * thread at SCHED_IDLE priority (it runs only when a CPU is idle), and a
 * put of about its size adopts it as its blob (arena_adopt: trimmed or
 * extended to the exact length, then size-sealed); the thread then fills a
 * new one. Pages a delete frees are recycled into the next pool while the
 * host still backs them.
 *
 * The pool lives inside the memory limit: it only ever holds room the
 * blobs leave free, like the slab's idle segment it is not counted in
 * used bytes, and a put or reload that needs its room takes it back
 * (reserve_drop). Its size: --reserve (default 1 GiB), never more than a
 * quarter of the limit, filled from the start so that the first large put
 * finds it ready; then it follows the size of the latest large put, up to
 * that cap. A put that arrives while the chunk it would adopt is being
 * filled waits for that one chunk. Nor does it take memory the machine is
 * short of: it grows only while an eighth of the machine's memory stays
 * available besides (checked again every few seconds while it waits).
 *
 * Where the kernel's shmem huge-page policy is never, the pool is made of
 * huge pages all the same (arena_pool_fill, MADV_COLLAPSE, which needs no
 * system setting): a put writes into them at about memcpy speed, where on
 * 4 KiB pages the kernel's work per page doubles the time of the copy.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

#define CHUNK (32u << 20)       /* filled per step, the lock let go */
#define ADOPT_MIN (64u << 10)   /* smaller blobs fault few pages anyway */
#define RECHECK_S 5             /* short of memory: look again after this */

/* Whether the machine can spare chunk more bytes of memory: an eighth of
 * it stays available to everything else. 1 when /proc says nothing. */
static int
machine_spares(uint64_t chunk)
{
	char line[128];
	uint64_t total = 0, avail = 0;
	int got = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 1;
	while (got < 2 && fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "MemTotal: %llu kB", &v) == 1) {
			total = (uint64_t)v << 10;
			got++;
		} else if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
			avail = (uint64_t)v << 10;
			got++;
		}
	}
	fclose(f);
	if (got < 2)
		return 1;
	return avail > chunk && avail - chunk >= total / 8;
}

/* Room under the limit the pool may still claim. */
static uint64_t
room(struct store *s)
{
	uint64_t used = used_bytes(s) + slab_idle_bytes(&s->slab) +
			s->res.claimed;

	uint64_t top = s->limit;

	/* With spilling, above the upper threshold is the puts' room: a
	 * pool there would only be taken back by the next put. */
	if (s->spill && s->spill_upper < top)
		top = s->spill_upper;
	if (top == UINT64_MAX)
		return UINT64_MAX;
	return used >= top ? 0 : top - used;
}

static void *
reserve_main(void *arg)
{
	struct store *s = arg;
	struct sched_param sp = { 0 };

	/* Only when a CPU has nothing else to do. */
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	pthread_mutex_lock(&s->lock);
	while (!s->res.stop) {
		struct reserve *r = &s->res;
		uint64_t want = r->target > r->claimed ?
				r->target - r->claimed : 0, chunk, from;
		uint64_t fr = room(s);
		size_t huge;
		int fd, rc;

		if (r->fd >= 0 && r->have > 2 * r->target) {
			/* Puts got smaller: give most of it back. */
			fd = r->fd;
			from = r->target;
			r->busy = 1;
			pthread_mutex_unlock(&s->lock);
			rc = ftruncate(fd, (off_t)from);
			pthread_mutex_lock(&s->lock);
			r->busy = 0;
			if (r->orphan) {
				close(fd);
				r->orphan = 0;
			} else if (rc == 0) {
				r->have = r->claimed = from;
				r->huge = arena_huge_prefix(r->huge, from);
			}
			pthread_cond_broadcast(&r->cond);
			continue;
		}
		chunk = want < CHUNK ? want : CHUNK;
		if (chunk > fr)
			chunk = fr & ~(uint64_t)4095;
		if (chunk < 4096 || r->failed) {
			pthread_cond_wait(&r->cond, &s->lock);
			continue;
		}
		if (!machine_spares(chunk)) {
			struct timespec ts;

			if (!r->short_mem)
				log_debug("reserve: the machine is short of "
					  "memory; the pool stays at %" PRIu64
					  " MiB", r->have >> 20);
			r->short_mem = 1;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += RECHECK_S;
			pthread_cond_timedwait(&r->cond, &s->lock, &ts);
			continue;
		}
		r->short_mem = 0;
		if (r->fd < 0) {
			char name[40];

			r->id = new_id(s, 1);
			snprintf(name, sizeof(name), "vineyard-%016" PRIx64,
				 r->id);
			rc = arena_pool_new(name, &r->fd);
			if (rc) {
				r->failed = 1;
				continue;
			}
			r->huge = 0;
		}
		fd = r->fd;
		from = r->have;
		r->claimed += chunk;
		r->busy = 1;
		huge = (size_t)r->huge;
		pthread_mutex_unlock(&s->lock);
		rc = arena_pool_fill(fd, (size_t)from, (size_t)(from + chunk),
				     &r->cancel, &huge);
		pthread_mutex_lock(&s->lock);
		r->busy = 0;
		if (r->orphan) {
			/* Taken back while filling (reserve_drop). */
			close(fd);
			r->orphan = 0;
			__atomic_store_n(&r->cancel, 0, __ATOMIC_RELAXED);
		} else if (rc == -ECANCELED) {
			break; /* stopping */
		} else if (rc) {
			/* Out of memory below the limit: stop growing until
			 * the next put asks again. */
			log_debug("reserve: filling %" PRIu64 " bytes: %s",
				  chunk, strerror(-rc));
			r->claimed -= chunk;
			if (ftruncate(fd, (off_t)r->have) < 0) {
				/* the pages stay counted as claimed */
			}
			r->failed = 1;
		} else {
			r->have += chunk;
			r->huge = huge;
			if (r->have == r->target)
				log_debug("reserve: %" PRIu64 " MiB ready",
					  r->have >> 20);
		}
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void
reserve_start(struct store *s, uint64_t cap)
{
	struct reserve *r = &s->res;

	r->fd = -1;
	if (s->limit != UINT64_MAX && cap > s->limit / 4)
		cap = s->limit / 4;
	cap &= ~(uint64_t)4095;
	r->cap = cap;
	if (cap == 0)
		return;
	r->target = cap;
	pthread_cond_init(&r->cond, NULL);
	if (pthread_create(&r->thr, NULL, reserve_main, s)) {
		log_warnx("reserve: cannot start its thread; puts fault "
			  "their pages in themselves");
		pthread_cond_destroy(&r->cond);
		r->cap = 0;
		return;
	}
	r->on = 1;
}

void
reserve_stop(struct store *s)
{
	struct reserve *r = &s->res;

	if (!r->on)
		return;
	pthread_mutex_lock(&s->lock);
	r->stop = 1;
	__atomic_store_n(&r->cancel, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(r->thr, NULL);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->have = r->claimed = 0;
	pthread_cond_destroy(&r->cond);
	r->on = 0;
}

void
reserve_drop(struct store *s)
{
	struct reserve *r = &s->res;

	if (!r->on || r->claimed == 0)
		return;
	if (r->busy) {
		r->orphan = 1;  /* the thread closes it, its fill cut short */
		__atomic_store_n(&r->cancel, 1, __ATOMIC_RELAXED);
	}
	else if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->have = r->claimed = 0;
}

void
reserve_kick(struct store *s)
{
	struct reserve *r = &s->res;

	if (r->on && r->have < r->target)
		pthread_cond_signal(&r->cond);
}

void
reserve_note(struct store *s, uint64_t fp, int nowait)
{
	struct reserve *r = &s->res;

	if (!r->on || fp < ADOPT_MIN)
		return;
	/* The pool follows the latest large put: the next is likely alike. */
	r->target = fp < r->cap ? fp : r->cap;
	r->failed = 0;
	/* A chunk being filled is the put's own pool: wait for it (one
	 * chunk; nothing is held across the wait). */
	while (!nowait && r->busy && !r->stop && r->claimed * 2 >= fp)
		pthread_cond_wait(&r->cond, &s->lock);
	pthread_cond_signal(&r->cond);
}

int
reserve_take(struct store *s, size_t len, int *fd, uint64_t *id,
	     uint64_t *huge)
{
	struct reserve *r = &s->res;
	uint64_t fp = arena_footprint(len);

	/* Larger than the pool: it is extended. Less than half of it: the
	 * trim would cost more than it saves. */
	if (!r->on || r->busy || r->fd < 0 || fp < ADOPT_MIN ||
	    2 * fp < r->have)
		return 0;
	/* Trimming frees the tail, extending reserves it: either way the
	 * pool's bytes become the blob's, counted by the caller. */
	if (arena_adopt(r->fd, (size_t)r->have, len)) {
		close(r->fd);
		r->fd = -1;
		r->have = r->claimed = 0;
		return 0;
	}
	*huge = arena_huge_prefix((size_t)r->huge, len);
	log_debug("reserve: a blob of %zu bytes adopts the pool of %" PRIu64
		  " bytes (%" PRIu64 " of them in 2 MiB pages)", len, r->have,
		  *huge);
	*fd = r->fd;
	*id = r->id;
	r->fd = -1;
	r->have = r->claimed = 0;
	pthread_cond_signal(&r->cond);
	return 1;
}

uint64_t
reserve_bytes(struct store *s)
{
	return s->res.claimed;
}

void
reserve_figures(struct store *s, uint64_t *filled, uint64_t *target)
{
	struct reserve *r = &s->res;

	*filled = r->on ? r->have : 0;
	*target = r->on ? r->target : 0;
}
