/*
 * fuzz_proto: libFuzzer target for the daemon's message decoding, through
 * the real thing. Each input is a byte stream a client sends: it goes
 * through a real UNIX socket into a real server (src/server*.c, src/req_*.c) with a real
 * store, is split into frames, decoded and handled exactly as vineyardd
 * does; the replies (and any descriptors) are read and dropped. A fresh
 * store and server serve every input.
 *
 * Ids: the store seeds its id generator with getrandom(); this file
 * overrides getrandom() while the store is created so ids are the same on
 * every run, and seeds (tests/fuzz/corpus/proto/, from mkcorpus.c) can
 * refer to the blobs and objects their own earlier requests create.
 *
 * FUZZ_PROTO_DEBUG=1 in the environment logs each request the daemon
 * refuses, to see what an input does.
 *
 * The stream ends (EOF) once sent and no request waits for a name; one that
 * stalls (say, a name wait with a long timeout) is cut after a few idle
 * loop turns: the client closes, as a dead client would.
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "fdpass.h"
#include "log.h"
#include "loop.h"
#include "server.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fixed_random;

/* Replaces libc's for this program: zeros while a store is being made. */
ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
	if (fixed_random) {
		memset(buf, 0, len);
		return (ssize_t)len;
	}
	return syscall(SYS_getrandom, buf, len, flags);
}

static char dir[64];
static char sockpath[96];

static void
cleanup(void)
{
	char lock[128];

	snprintf(lock, sizeof(lock), "%s.lock", sockpath);
	unlink(sockpath);
	unlink(lock);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* tmpfs when there is one: a listen on a disk directory costs ms
	 * (the lock file's truncate), which would be most of a run */
	snprintf(dir, sizeof(dir), "%s/fuzz-proto-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(sockpath, sizeof(sockpath), "%s/s", dir);
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	/* FUZZ_PROTO_DEBUG=1 logs every refused request: handy to check
	 * what a seed really does. */
	log_init("fuzz_proto", getenv("FUZZ_PROTO_DEBUG") ? LOG_LVL_DEBUG :
		 LOG_LVL_ERROR, NULL);
	return 0;
}

struct run {
	struct loop *loop;
	struct server *sv;
	struct loop_watch *watch;
	int fd;             /* our end of the connection, -1 once closed */
	const uint8_t *data;
	size_t len, off;
	int shut;           /* write side shut down: the daemon sees EOF */
	int progress;       /* bytes moved since the last tick */
	int idle;           /* ticks in a row without progress */
};

static void
client_close(struct run *r)
{
	if (r->fd < 0)
		return;
	loop_del(r->loop, r->watch);
	close(r->fd);
	r->fd = -1;
}

/* Once everything is sent, end the stream, so the daemon sees EOF and
 * closes; but not while a request waits for a name (the daemon drops a
 * parked request when its client goes away, and the fuzzer should see the
 * wait time out and the requests behind it run). */
static void
maybe_shutdown(struct run *r)
{
	int unread = 0;

	if (r->fd < 0 || r->shut || r->off < r->len)
		return;
	/* Bytes the daemon has not read yet: it has not seen every request,
	 * so whether one of them waits is not known yet. */
	if (ioctl(r->fd, SIOCOUTQ, &unread) < 0 || unread > 0 ||
	    server_timeout(r->sv) >= 0)
		return;
	shutdown(r->fd, SHUT_WR);
	r->shut = 1;
}

static void
client_event(void *ctx, uint32_t events)
{
	struct run *r = ctx;

	if ((events & EPOLLOUT) && r->off < r->len) {
		ssize_t n = send(r->fd, r->data + r->off, r->len - r->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			r->off += (size_t)n;
			r->progress = 1;
		} else if (n < 0 && errno != EAGAIN) {
			r->off = r->len; /* the daemon closed on us */
		}
		if (r->off == r->len)
			loop_mod(r->loop, r->watch, EPOLLIN);
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			uint8_t buf[65536];
			int fds[256], nfds = 0, i;
			ssize_t n = fdpass_recv(r->fd, buf, sizeof(buf), fds, 256,
						&nfds);

			for (i = 0; i < nfds; i++)
				close(fds[i]);
			if (n > 0) {
				r->progress = 1;
				continue;
			}
			if (n == -EAGAIN)
				break;
			/* end of stream or error: the daemon is done with us */
			client_close(r);
			loop_stop(r->loop);
			return;
		}
	}
}

static int
run_timeout(void *ctx)
{
	struct run *r = ctx;
	int t = server_timeout(r->sv);

	return t < 0 || t > 20 ? 20 : t;
}

static void
run_tick(void *ctx)
{
	struct run *r = ctx;

	server_tick(r->sv);
	maybe_shutdown(r);
	if (r->progress) {
		r->progress = 0;
		r->idle = 0;
	} else if (++r->idle > 3) {
		client_close(r);
		loop_stop(r->loop);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_cfg scfg;
	struct server_cfg vcfg;
	struct sockaddr_un sa;
	struct store *store;
	struct run r;
	char err[512];
	int lfd, lockfd;

	memset(&scfg, 0, sizeof(scfg));
	scfg.limit = 8u << 20;
	fixed_random = 1;
	store = store_new(&scfg);
	fixed_random = 0;
	memset(&r, 0, sizeof(r));
	r.loop = loop_new();
	if (!r.loop || server_listen(sockpath, 0600, &lfd, &lockfd, err,
				     sizeof(err))) {
		fprintf(stderr, "fuzz_proto: %s\n", err);
		abort();
	}
	memset(&vcfg, 0, sizeof(vcfg));
	vcfg.socket_path = sockpath;
	vcfg.socket_mode = 0600;
	r.sv = server_new(store, r.loop, &vcfg, lfd);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	r.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r.fd < 0 || connect(r.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	r.data = data;
	r.len = size;
	r.watch = loop_add(r.loop, r.fd, size ? EPOLLIN | EPOLLOUT : EPOLLIN,
			   client_event, &r);
	assert(r.watch);
	maybe_shutdown(&r);
	loop_run(r.loop, run_timeout, run_tick, &r);

	client_close(&r);
	server_free(r.sv);
	store_free(store);
	loop_free(r.loop);
	close(lockfd);
	return 0;
}
