/*
 * loop: the epoll event loop the socket server runs on. Watches descriptors
 * and calls one function per ready descriptor; the caller supplies the next
 * timeout and a tick run after every wakeup (for timers such as name waits).
 * Single-threaded: only the loop's thread may call these.
 */
#ifndef VY_LOOP_H
#define VY_LOOP_H

#include <stdint.h>

struct loop;
struct loop_watch;
typedef void (*loop_fn)(void *ctx, uint32_t events);

struct loop *loop_new(void);
void loop_free(struct loop *l);
/* Watches fd for events (EPOLLIN...); NULL on failure (errno set). */
struct loop_watch *loop_add(struct loop *l, int fd, uint32_t events,
			    loop_fn fn, void *ctx);
int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events);
/* Stops watching; safe to call from inside a callback, even for w itself. */
void loop_del(struct loop *l, struct loop_watch *w);
/* After each wakeup, poll without sleeping for up to us microseconds
 * before blocking again (0: never). On virtual machines an idle vCPU halts
 * and waking it costs more than a whole request; a short bounded spin
 * keeps back-to-back requests from paying that. */
void loop_set_busy_poll(struct loop *l, unsigned us);
/* The next wait sleeps without polling first: what it waits for (a
 * client draining a large reply) comes in its own time, and polling with
 * sched_yield meanwhile only cost the loop its turn on a busy machine
 * (a 256 MiB TCP get ran at half speed under load). */
void loop_skip_spin(struct loop *l);
/* Runs until loop_stop. timeout(ctx) gives ms to wait (-1 = forever). */
int loop_run(struct loop *l, int (*timeout)(void *ctx),
	     void (*tick)(void *ctx), void *ctx);
void loop_stop(struct loop *l);
/* Monotonic milliseconds. */
uint64_t loop_now_ms(void);

#endif
