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
 * (reserve_drop). Its size: --reserve (explicit: filled at start), or by
 * default 64 MiB at start; then it follows the size of the latest large
 * put, up to that cap (default 1 GiB), never more than a quarter of the
 * limit. A put that arrives while the chunk it would adopt is being
 * filled waits for that one chunk.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

#define CHUNK (32u << 20)       /* filled per step, the lock let go */
#define ADOPT_MIN (64u << 10)   /* smaller blobs fault few pages anyway */
#define START_AUTO (64u << 20)  /* default: filled at start */

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
		}
		fd = r->fd;
		from = r->have;
		r->claimed += chunk;
		r->busy = 1;
		pthread_mutex_unlock(&s->lock);
		rc = arena_pool_fill(fd, (size_t)from, (size_t)(from + chunk),
				     &r->cancel);
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
reserve_start(struct store *s, uint64_t cap, int eager)
{
	struct reserve *r = &s->res;

	r->fd = -1;
	if (s->limit != UINT64_MAX && cap > s->limit / 4)
		cap = s->limit / 4;
	cap &= ~(uint64_t)4095;
	r->cap = cap;
	if (cap == 0)
		return;
	r->target = eager || cap < START_AUTO ? cap : START_AUTO;
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
reserve_take(struct store *s, size_t len, int *fd, uint64_t *id)
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
	log_debug("reserve: a blob of %zu bytes adopts the pool of %" PRIu64
		  " bytes", len, r->have);
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
