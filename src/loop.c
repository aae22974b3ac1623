/*
 * loop: epoll with a small grave of deleted watches, freed after each batch,
 * so a callback that deletes another ready watch never leaves a dangling
 * pointer in the batch being dispatched.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "xmalloc.h"
#include "banned.h"

struct loop_watch {
	int fd;
	int dead;
	loop_fn fn;
	void *ctx;
	struct loop_watch *next_dead;
};

struct loop {
	int epfd;
	int stop;
	unsigned spin_us;
	int no_spin;	/* loop_skip_spin: the next wait sleeps at once */
	struct loop_watch *grave;
};

uint64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *
loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

static void
bury(struct loop *l)
{
	while (l->grave) {
		struct loop_watch *w = l->grave;

		l->grave = w->next_dead;
		free(w);
	}
}

void
loop_free(struct loop *l)
{
	if (!l)
		return;
	bury(l);
	close(l->epfd);
	free(l);
}

struct loop_watch *
loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *ctx)
{
	struct loop_watch *w = xcalloc(1, sizeof(*w));
	struct epoll_event ev;

	w->fd = fd;
	w->fn = fn;
	w->ctx = ctx;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

int
loop_mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

void
loop_del(struct loop *l, struct loop_watch *w)
{
	if (!w || w->dead)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = 1;
	w->next_dead = l->grave;
	l->grave = w;
}

void
loop_set_busy_poll(struct loop *l, unsigned us)
{
	l->spin_us = us;
}

void
loop_skip_spin(struct loop *l)
{
	l->no_spin = 1;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* epoll_wait that first polls for up to spin_us, yielding the CPU to
 * anyone runnable (a client on the same vCPU) between polls. */
static int
wait_events(struct loop *l, struct epoll_event *evs, int max, int t)
{
	uint64_t end;
	int n;

	if (!l->spin_us || t == 0 || l->no_spin) {
		l->no_spin = 0;
		return epoll_wait(l->epfd, evs, max, t);
	}
	end = now_us() + l->spin_us;
	do {
		n = epoll_wait(l->epfd, evs, max, 0);
		if (n != 0)
			return n;
		sched_yield();
	} while (now_us() < end);
	return epoll_wait(l->epfd, evs, max, t);
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

int
loop_run(struct loop *l, int (*timeout)(void *ctx), void (*tick)(void *ctx),
	 void *ctx)
{
	struct epoll_event evs[64];

	while (!l->stop) {
		int n, i, t = timeout ? timeout(ctx) : -1;

		n = wait_events(l, evs, 64, t);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n; i++) {
			struct loop_watch *w = evs[i].data.ptr;

			if (!w->dead)
				w->fn(w->ctx, evs[i].events);
		}
		bury(l);
		if (tick)
			tick(ctx);
	}
	return 0;
}
