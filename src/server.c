/*
 * server: the socket front's listening side. Binds the UNIX socket (one
 * daemon per path, by a lock file), accepts clients (their framing is
 * server_conn.c's), dispatches each request through the one table made from
 * PROTO_TYPES (src/wire/proto.h) to its handler (req_*.c), and wakes
 * parked requests: name waits when a name appears or time is up, disk
 * tickets when the store's eventfd says the work is durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cborio.h"
#include "cluster/fetch.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "server_int.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

int
server_listen(const char *path, mode_t mode, int *fdp, int *lockfdp,
	      char *err, size_t errlen)
{
	struct sockaddr_un sa;
	char lockpath[sizeof(sa.sun_path) + 8];
	int fd = -1, lfd = -1, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path %s is longer than %zu "
			 "bytes; pick a shorter one with --socket PATH", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	/* The lock serialises daemons on one path; the socket alone cannot
	 * tell a stale file from one a starting daemon is about to use. */
	snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
	lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lfd < 0)
		goto syserr;
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(lfd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		snprintf(err, errlen, "another vineyardd%s%s%s is already "
			 "serving %s; stop it first or pick another path with "
			 "--socket PATH", pid[0] ? " (pid " : "", pid,
			 pid[0] ? ")" : "", path);
		close(lfd);
		return -EADDRINUSE;
	}
	if (ftruncate(lfd, 0) == 0) {
		char pid[32];
		int k = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

		if (pwrite(lfd, pid, (size_t)k, 0) < 0) {
			/* only informative */
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto syserr;
	/* We hold the lock, so whatever socket file is there is stale. */
	if (unlink(path) < 0 && errno != ENOENT)
		goto syserr;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto syserr;
	if (chmod(path, mode) < 0 || listen(fd, 512) < 0)
		goto syserr;
	*fdp = fd;
	*lockfdp = lfd;
	return 0;
syserr:
	e = errno;
	snprintf(err, errlen, "cannot create socket %s: %s; run as a user "
		 "who may write there, or pick another path with --socket "
		 "PATH (for example --socket /tmp/vineyard.sock) and point "
		 "clients at it with VINEYARD_IPC_SOCKET", path, strerror(e));
	if (fd >= 0)
		close(fd);
	if (lfd >= 0)
		close(lfd);
	return -e;
}

/* ---- dispatch ---- */

/* tmux's command-entry table: one row per message type. */
struct req_entry {
	uint16_t type;
	const char *name;
	req_fn *handler;
};

static const struct req_entry req_table[] = {
#define REQ_ENTRY_(sym, num, name, handler) { sym, name, req_##handler },
	PROTO_TYPES(REQ_ENTRY_)
#undef REQ_ENTRY_
};

int
server_dispatch(struct conn *c, uint16_t type, uint32_t flags,
		const uint8_t *body, size_t len, int final)
{
	struct req q = { type, flags, body, len, final, { 0 } };
	size_t i;
	int rc;

	if (c->tcp && server_tcp_check(c, type, body, len) < 0)
		return -1;
	for (i = 0; i < sizeof(req_table) / sizeof(req_table[0]); i++) {
		if (req_table[i].type != type)
			continue;
		/* No reply means none at all, not even an error: the client
		 * will not read one. A reply that carries descriptors, or a
		 * wait for a name, has no meaning without it. */
		if ((flags & PROTO_F_NOREPLY) && (type == MSG_BLOB_CREATE ||
		    type == MSG_GET || type == MSG_NAME_GET ||
		    (type >= MSG_STREAM_CREATE && type < 600))) {
			log_info("%s: a %s request flagged no-reply; closing",
				 c->label, req_table[i].name);
			return -1;
		}
		c->quiet = (flags & PROTO_F_NOREPLY) != 0;
		cr_init(&q.r, body, len);
		rc = req_table[i].handler(c, &q);
		c->quiet = 0;
		return rc;
	}
	reply_error(c, type, -EPROTO, "unknown request type");
	return -1;
}

/* ---- accepting and waking ---- */

/* Out of descriptors: a client left waiting in the backlog would hang, and
 * the listening socket would stay readable and spin the loop. Give up the
 * spare descriptor to accept it, tell it why, and close it. */
int
server_refuse(struct server *sv, int lfd)
{
	char msg[200];
	int fd;

	if (sv->spare_fd < 0)
		return -1;
	close(sv->spare_fd);
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		snprintf(msg, sizeof(msg), "vineyardd has no file descriptor "
			 "left for another client (%zu connected; each blob "
			 "of 4096 bytes or more also holds one); retry later",
			 sv->nconns);
		reply_begin(sv);
		cw_str(&sv->out, msg);
		reply_pack(sv, 0, -EMFILE);
		if (send(fd, sv->out.buf, sv->out.len,
			 MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* best effort: it is closed either way */
		}
		close(fd);
		if (!sv->refusing)
			log_warnx("server: %s", msg);
		sv->refusing = 1;
	}
	sv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -1 : 0;
}

static void
accept_event(void *ctx, uint32_t events)
{
	struct server *sv = ctx;
	int i;

	(void)events;
	for (i = 0; i < 64; i++) {
		int fd = accept4(sv->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			if (server_refuse(sv, sv->lfd) < 0)
				return;
			continue;
		}
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("server: accept");
			return;
		}
		sv->refusing = 0;
		conn_new(sv, fd, NULL);
	}
}

static void
on_store_event(void *ctx, enum store_event ev, uint64_t id, const char *name)
{
	struct server *sv = ctx;

	(void)id;
	(void)name;
	if (ev == STORE_EV_NAME_SET) {
		sv->names_changed = 1;
	} else if (ev == STORE_EV_STREAM) {
		__atomic_store_n(&sv->streams_changed, 1, __ATOMIC_RELAXED);
		/* A FUSE reader of a stream moved on (fs/fs_stream.c): wake
		 * the loop, whose parked writers may go now. */
		if (!pthread_equal(pthread_self(), sv->thread) &&
		    sv->wake_fd >= 0) {
			uint64_t one = 1;

			if (write(sv->wake_fd, &one, sizeof(one)) < 0) {
				/* full counter: a wakeup is pending anyway */
			}
		}
	}
}

/* Another thread changed a stream: the tick that follows re-runs. */
static void
wake_event(void *ctx, uint32_t events)
{
	struct server *sv = ctx;
	uint64_t n;

	(void)events;
	if (read(sv->wake_fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another read took it */
	}
}

void
server_names_changed(void *ctx)
{
	struct server *sv = ctx;

	sv->names_changed = 1;
}

/* A ticket finished (disk work, or a fetch from another instance): answer
 * the connections parked on it and let their queued requests run. Several
 * connections may wait for one fetch. */
static void
ticket_done(struct server *sv, uint64_t t, int rc, const char *why)
{
	struct conn *c, *next;
	char msg[480];

	for (c = sv->conns.next; c != &sv->conns; c = next) {
		uint8_t *held, *body;
		size_t len;
		uint16_t type;
		int r;

		next = c->next;
		if (c->ticket != t)
			continue;
		snprintf(msg, sizeof(msg), "%s", why);
		held = c->tk_held;
		body = c->tk_body;
		len = c->tk_len;
		type = c->tk_type;
		c->ticket = 0;
		c->tk_held = c->tk_body = NULL;
		conn_update_events(c);
		if (rc && c->tk_undo) {
			size_t n;

			if (store_delete(sv->store, NULL, &c->tk_undo, 1, 0,
					 &n, NULL) == 0)
				snprintf(msg + strlen(msg), sizeof(msg) -
					 strlen(msg), "; the put was undone");
		}
		c->tk_undo = 0;
		if (rc)
			c->room_waits = 0;
		/* A no-reply request's outcome goes to the log only. */
		c->quiet = c->tk_quiet;
		c->tk_quiet = 0;
		if (rc && c->quiet)
			log_info("%s: %s (no reply asked): %s", c->label,
				 proto_type_name(type), msg);
		if (rc) {
			free(held);
			free(body);
			if (reply_error(c, type, rc, msg) < 0) {
				conn_close(c);
				continue;
			}
		} else if (held) {
			r = conn_send(c, held, len, NULL, 0);
			free(held);
			if (r < 0) {
				conn_close(c);
				continue;
			}
		} else {
			r = server_dispatch(c, type, c->quiet ?
					    PROTO_F_NOREPLY : 0, body, len, 0);
			free(body);
			if (r < 0) {
				conn_close(c);
				continue;
			}
		}
		c->quiet = 0;
		/* Requests that queued up behind it go now. */
		if (conn_process(c) < 0)
			continue;
	}
}

/* persistence: disk jobs finished. */
static void
done_event(void *ctx, uint32_t events)
{
	struct server *sv = ctx;
	uint64_t t;
	char msg[320];
	int rc;

	(void)events;
	while (store_done_next(sv->store, &t, &rc, msg, sizeof(msg)))
		ticket_done(sv, t, rc, msg);
}

/* the cluster: fetches from other instances finished. */
static void
fetch_event(void *ctx, uint32_t events)
{
	struct server *sv = ctx;
	uint64_t t;
	char msg[480];
	int rc;

	(void)events;
	while (fetch_done_next(sv->cfg.fetch, &t, &rc, msg, sizeof(msg)))
		ticket_done(sv, t, rc, msg);
}

struct server *
server_new(struct store *s, struct loop *l, const struct server_cfg *cfg,
	   int lfd)
{
	struct server *sv = xcalloc(1, sizeof(*sv));

	sv->store = s;
	sv->loop = l;
	sv->cfg = *cfg;
	if (!sv->cfg.input_limit)
		sv->cfg.input_limit = 256ull << 20;
	sv->socket_path = xstrdup(cfg->socket_path);
	sv->lfd = lfd;
	sv->tfd = -1;
	sv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sv->started = time(NULL);
	sv->thread = pthread_self();
	sv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sv->wake_fd < 0 ||
	    !(sv->wwatch = loop_add(l, sv->wake_fd, EPOLLIN, wake_event, sv)))
		fatal("server: the wakeup eventfd");
	sv->conns.next = sv->conns.prev = &sv->conns;
	cw_init(&sv->out);
	cw_init(&sv->objs);
	cw_init(&sv->blobs);
	sv->lwatch = loop_add(l, lfd, EPOLLIN, accept_event, sv);
	if (!sv->lwatch)
		fatal("server: watch listening socket");
	if (store_done_fd(s) >= 0) {
		sv->dwatch = loop_add(l, store_done_fd(s), EPOLLIN, done_event,
				      sv);
		if (!sv->dwatch)
			fatal("server: watch the store's disk jobs");
	}
	if (cfg->fetch &&
	    !(sv->fwatch = loop_add(l, fetch_fd(cfg->fetch), EPOLLIN,
				    fetch_event, sv)))
		fatal("server: watch the fetches");
	store_watch(s, on_store_event, sv);
	return sv;
}

void
server_free(struct server *sv)
{
	if (!sv)
		return;
	while (sv->conns.next != &sv->conns)
		conn_close(sv->conns.next);
	server_tcp_stop(sv);
	loop_del(sv->loop, sv->lwatch);
	loop_del(sv->loop, sv->dwatch);
	loop_del(sv->loop, sv->wwatch);
	close(sv->wake_fd);
	loop_del(sv->loop, sv->fwatch);
	close(sv->lfd);
	if (sv->spare_fd >= 0)
		close(sv->spare_fd);
	unlink(sv->socket_path);
	cw_release(&sv->out);
	cw_release(&sv->objs);
	cw_release(&sv->blobs);
	free(sv->fds);
	free(sv->socket_path);
	free(sv);
}

int
server_timeout(void *ctx)
{
	struct server *sv = ctx;
	uint64_t now, best = UINT64_MAX;
	struct conn *c;

	if (!sv->nwaiting)
		return -1;
	/* a change seen while re-running parked requests: go again */
	if (__atomic_load_n(&sv->streams_changed, __ATOMIC_RELAXED) ||
	    sv->names_changed)
		return 0;
	for (c = sv->conns.next; c != &sv->conns; c = c->next)
		if (c->waiting && c->wait_deadline < best)
			best = c->wait_deadline;
	now = loop_now_ms();
	if (best <= now)
		return 0;
	return best - now > 60000 ? 60000 : (int)(best - now);
}

/* Re-runs parked requests whose name may have appeared or whose time is
 * up. A re-run that still misses parks again (final = 0) or answers
 * ETIMEDOUT (final = 1). */
void
server_tick(void *ctx)
{
	struct server *sv = ctx;
	struct conn *c, *next;
	uint64_t now;
	int changed = sv->names_changed;
	int schanged = __atomic_exchange_n(&sv->streams_changed, 0,
					   __ATOMIC_RELAXED);

	sv->names_changed = 0;
	if (!sv->nwaiting)
		return;
	now = loop_now_ms();
	for (c = sv->conns.next; c != &sv->conns; c = next) {
		uint8_t *body;
		size_t len;
		uint16_t type;
		uint64_t deadline;
		int final;

		next = c->next;
		if (!c->waiting)
			continue;
		final = now >= c->wait_deadline;
		/* a stream wait (no name): re-run on any stream change */
		if (!final && !c->wait_name[0] && !schanged)
			continue;
		if (!final && c->wait_name[0] && !changed)
			continue;
		if (!final && c->wait_name[0]) {
			uint64_t id;

			if (store_name_get(sv->store, c->wait_name,
					   strlen(c->wait_name), &id))
				continue;
		}
		body = c->wait_body;
		len = c->wait_len;
		type = c->wait_type;
		deadline = c->wait_deadline;
		c->waiting = 0;
		c->wait_body = NULL;
		sv->nwaiting--;
		if (server_dispatch(c, type, 0, body, len, final) < 0) {
			free(body);
			conn_close(c);
			continue;
		}
		if (c->waiting)
			c->wait_deadline = deadline;
		conn_update_events(c);
		free(body);
		/* Requests that queued up behind the wait go now. */
		next = c->next;
		conn_process(c);
	}
}
