/*
 * server_conn: one client connection's framing. Reads bytes into an input
 * buffer and cuts them into frames for the dispatcher; sends replies at
 * once when the socket has room and copies only what the kernel does not
 * take into an output queue, with its descriptors dup'ed (the store may
 * close its own before the queue drains), past FDPASS_MAX on one-byte
 * carriers. While a connection has queued output or a parked request (a
 * name wait or a disk ticket), its further requests stay buffered, which
 * keeps replies in order and bounds what a client can make the daemon hold.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"
#include "human.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "server_int.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

#define IN_INITIAL (16u << 10)

/* Copies of fds, or NULL when the daemon has no descriptor left. */
static int *
dup_fds(const int *fds, int n)
{
	int *v = xcalloc((size_t)n, sizeof(int));
	int i;

	for (i = 0; i < n; i++) {
		v[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (v[i] < 0) {
			log_warn("server: dup");
			while (i-- > 0)
				close(v[i]);
			free(v);
			return NULL;
		}
	}
	return v;
}

/* Puts k at the end of c's output queue. */
static void
append_chunk(struct conn *c, struct chunk *k)
{
	if (c->out_tail)
		c->out_tail->next = k;
	else
		c->out = k;
	c->out_tail = k;
}

/* -1 when the descriptors cannot be kept: the connection must close. */
static int
queue_chunk(struct conn *c, const uint8_t *buf, size_t len, const int *fds,
	    int nfds)
{
	struct chunk *k;
	int *dup = NULL;

	if (nfds && !(dup = dup_fds(fds, nfds)))
		return -1;
	k = xcalloc(1, sizeof(*k));
	k->buf = xmemdup(buf, len);
	k->srcfd = -1;
	k->len = len;
	if (nfds) {
		k->fds = dup;
		k->nfds = nfds;
	}
	append_chunk(c, k);
	return 0;
}

/* Sends up to len bytes of file srcfd from off to the socket without a
 * copy through user space; the bytes sent, -EAGAIN, or -errno (a file
 * shorter than promised is -EIO: the frame cannot be finished). */
static ssize_t
send_span(int fd, int srcfd, uint64_t off, size_t len)
{
	off_t o = (off_t)off;
	ssize_t n;

	do
		n = sendfile(fd, srcfd, &o, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n == 0 && len ? -EIO : n;
}

static void
free_chunk(struct chunk *k)
{
	int i;

	for (i = 0; i < k->nfds; i++)
		close(k->fds[i]);
	free(k->fds);
	if (k->map)
		blobmap_put(k->map);
	else
		free(k->buf);
	if (k->srcfd >= 0)
		close(k->srcfd);
	free(k);
}

/* Sends queued chunks; 0 when drained or blocked, -1 if the peer is gone. */
static int
flush_out(struct conn *c)
{
	while (c->out) {
		struct chunk *k = c->out;
		struct iovec iov = { k->buf + k->off, k->len - k->off };
		ssize_t n = k->buf ? fdpass_sendv(c->fd, &iov, 1, k->fds,
						  k->off ? 0 : k->nfds) :
			    send_span(c->fd, k->srcfd, k->srcoff + k->off,
				      k->len - k->off);

		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		if (k->nfds && k->off == 0) {
			int i;

			for (i = 0; i < k->nfds; i++)
				close(k->fds[i]);
			k->nfds = 0;
		}
		k->off += (size_t)n;
		if (k->off == k->len) {
			c->out = k->next;
			if (!c->out)
				c->out_tail = NULL;
			free_chunk(k);
		}
	}
	return 0;
}

/* Stops reading while a reply is queued or a wait is parked, so a client
 * cannot make the daemon buffer without bound; EPOLLRDHUP still reports a
 * peer that goes away meanwhile. */
void
conn_update_events(struct conn *c)
{
	uint32_t ev = EPOLLRDHUP;

	if (!c->waiting && !c->ticket && !c->out)
		ev |= EPOLLIN;
	if (c->out) {
		ev |= EPOLLOUT;
		loop_skip_spin(c->sv->loop);
	}
	if (ev != c->events && loop_mod(c->sv->loop, c->watch, ev) == 0)
		c->events = ev;
}

/* Any number of fds: the ones past FDPASS_MAX go on carriers. */
int
conn_send(struct conn *c, const uint8_t *buf, size_t len, const int *fds,
	  int nfds)
{
	static const uint8_t zero = 0;
	int first = nfds < FDPASS_MAX ? nfds : FDPASS_MAX, done;

	if (c->quiet)
		return 0;
	if (!c->out) {
		struct iovec iov = { (void *)(uintptr_t)buf, len };
		ssize_t n = fdpass_sendv(c->fd, &iov, 1, fds, first);

		if (n < 0 && n != -EAGAIN)
			return -1;
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			/* fds is NULL for a reply without descriptors, and
			 * NULL + 0 is undefined: step only over real ones. */
			if (first) {
				fds += first;
				nfds -= first;
			}
			first = 0;
		}
	}
	if (len && queue_chunk(c, buf, len, fds, first) < 0)
		return -1;
	if (first) {
		fds += first;
		nfds -= first;
	}
	for (done = 0; done < nfds; done += FDPASS_MAX) {
		int k = nfds - done < FDPASS_MAX ? nfds - done : FDPASS_MAX;

		if (!c->out) {
			struct iovec iov = { (void *)(uintptr_t)&zero, 1 };
			ssize_t n = fdpass_sendv(c->fd, &iov, 1, fds + done, k);

			if (n == 1)
				continue;
			if (n != -EAGAIN)
				return -1;
		}
		if (queue_chunk(c, &zero, 1, fds + done, k) < 0)
			return -1;
	}
	if (c->out)
		conn_update_events(c);
	return 0;
}

int
conn_send_file(struct conn *c, const uint8_t *buf, size_t blen, int srcfd,
	       uint64_t off, size_t len)
{
	struct chunk *k;

	if (c->quiet)
		return 0;
	if (conn_send(c, buf, blen, NULL, 0) < 0)
		return -1;
	while (!c->out && len) {
		ssize_t n = send_span(c->fd, srcfd, off, len);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			return -1;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	if (!len)
		return 0;
	/* The rest goes as the socket drains: the descriptor is dup'ed, so
	 * the sealed bytes stay whatever happens to the blob meanwhile. */
	k = xcalloc(1, sizeof(*k));
	k->srcfd = fcntl(srcfd, F_DUPFD_CLOEXEC, 3);
	if (k->srcfd < 0) {
		log_warn("server: dup");
		free(k);
		return -1;
	}
	k->srcoff = off;
	k->len = len;
	append_chunk(c, k);
	conn_update_events(c);
	return 0;
}

void
conn_queue(struct conn *c, struct chunk *k)
{
	append_chunk(c, k);
	conn_update_events(c);
}

/* ---- parking ---- */

void
conn_park_name(struct conn *c, const struct req *q, const char *name,
	       uint64_t wait_ms)
{
	c->waiting = 1;
	c->wait_type = q->type;
	snprintf(c->wait_name, sizeof(c->wait_name), "%s", name ? name : "");
	c->wait_deadline = loop_now_ms() + wait_ms;
	c->wait_body = xmemdup(q->body, q->len ? q->len : 1);
	c->wait_len = q->len;
	c->sv->nwaiting++;
	conn_update_events(c);
}

/* persistence: parked on a disk ticket. */
void
conn_park_ticket(struct conn *c, uint64_t t, const struct req *q, int rerun)
{
	struct server *sv = c->sv;

	c->ticket = t;
	c->tk_type = q->type;
	c->tk_quiet = c->quiet;
	if (rerun) {
		c->tk_body = xmemdup(q->body, q->len ? q->len : 1);
		c->tk_len = q->len;
	} else {
		reply_pack(sv, q->type, 0);
		c->tk_held = xmemdup(sv->out.buf, sv->out.len);
		c->tk_len = sv->out.len;
	}
	conn_update_events(c);
}

/* ---- input ---- */

int
conn_process(struct conn *c)
{
	size_t pos = 0;

	while (!c->waiting && !c->ticket && !c->out &&
	       c->inlen - pos >= PROTO_HDR_LEN) {
		struct proto_hdr h;
		int rc = proto_hdr_unpack(c->in + pos, &h);

		if (rc) {
			char msg[160];

			if (h.magic == PROTO_MAGIC && h.version != PROTO_VERSION)
				snprintf(msg, sizeof(msg), "protocol version "
					 "%u not supported; this daemon speaks "
					 "%u", h.version, PROTO_VERSION);
			else
				snprintf(msg, sizeof(msg), "bad frame (magic, "
					 "version or length over %u bytes)",
					 PROTO_MAX_BODY);
			log_info("%s: %s; closing", c->label, msg);
			reply_error(c, 0, -EPROTO, msg);
			conn_close(c);
			return -1;
		}
		if (c->inlen - pos - PROTO_HDR_LEN < h.len)
			break;
		if (server_dispatch(c, h.type, h.status,
				    c->in + pos + PROTO_HDR_LEN, h.len, 0) < 0) {
			conn_close(c);
			return -1;
		}
		pos += PROTO_HDR_LEN + h.len;
	}
	if (pos) {
		memmove(c->in, c->in + pos, c->inlen - pos);
		c->inlen -= pos;
	}
	/* All sent and no request left: the blob's reads are over (for
	 * now), and a mapping kept would hold a deleted blob's memory. */
	if (c->map && !c->out) {
		blobmap_put(c->map);
		c->map = NULL;
	}
	return 0;
}

/* Sets c's input buffer to cap bytes (0: none), keeping the total. */
static void
in_resize(struct conn *c, size_t cap)
{
	struct server *sv = c->sv;

	if (cap) {
		c->in = xrealloc(c->in, cap);
	} else {
		free(c->in);
		c->in = NULL;
	}
	__atomic_store_n(&sv->inbytes, sv->inbytes - c->incap + cap,
			 __ATOMIC_RELAXED);
	c->incap = cap;
}

/* A frame that would take the input buffers of all clients past the
 * limit: the client hears why, then the connection closes (the rest of
 * the frame cannot be skipped without reading it). */
static void
refuse_input(struct conn *c, uint16_t type, size_t cap)
{
	struct server *sv = c->sv;
	char msg[320], need[32], held[32], lim[32];

	human_bytes(cap, need, sizeof(need));
	human_bytes(sv->inbytes - c->incap, held, sizeof(held));
	human_bytes(sv->cfg.input_limit, lim, sizeof(lim));
	snprintf(msg, sizeof(msg), "this %s request needs %s of input "
		 "buffer; the daemon holds %s of requests not yet received in "
		 "full and takes at most %s (vineyardd --input-limit); send "
		 "smaller requests or retry later", proto_type_name(type),
		 need, held, lim);
	log_info("%s: input limit: %s; closing", c->label, msg);
	reply_error(c, type, -ENOBUFS, msg);
	conn_close(c);
}

static void
conn_input(struct conn *c)
{
	struct server *sv = c->sv;
	ssize_t n;
	size_t want = IN_INITIAL;
	uint16_t type = 0;

	/* Make room for a whole frame once its header is in. */
	if (c->inlen >= PROTO_HDR_LEN) {
		struct proto_hdr h;

		if (proto_hdr_unpack(c->in, &h) == 0) {
			want = PROTO_HDR_LEN + h.len;
			type = h.type;
		}
	}
	if (want < c->inlen + 4096)
		want = c->inlen + 4096;
	if (c->incap < want) {
		size_t cap = c->incap ? c->incap : IN_INITIAL;

		while (cap < want)
			cap *= 2;
		/* Doubling suits a stream of small frames; for one big frame
		 * (up to PROTO_MAX_BODY) it would reserve nearly twice the
		 * frame for nothing. */
		if (want >= (1u << 20))
			cap = (want + 4095) & ~(size_t)4095;
		/* Every client may fill its first buffer; growing past it
		 * must fit the limit of all clients together. */
		if (cap > IN_INITIAL &&
		    sv->inbytes - c->incap + cap > sv->cfg.input_limit) {
			refuse_input(c, type, cap);
			return;
		}
		in_resize(c, cap);
	}
	n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n > 0)
		c->inlen += (size_t)n;
	if (conn_process(c) < 0)
		return;
	/* Shrink a buffer grown for one big frame once it is idle. */
	if (c->inlen == 0 && c->incap > 4 * IN_INITIAL)
		in_resize(c, 0);
}

static void
conn_event(void *ctx, uint32_t events)
{
	struct conn *c = ctx;

	if (events & EPOLLOUT) {
		if (flush_out(c) < 0) {
			conn_close(c);
			return;
		}
		if (!c->out) {
			conn_update_events(c);
			if (conn_process(c) < 0)
				return;
		}
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_input(c);
}

void
conn_close(struct conn *c)
{
	struct server *sv = c->sv;

	if (c->fd < 0)
		return;
	log_debug("%s: disconnected", c->label);
	loop_del(sv->loop, c->watch);
	close(c->fd);
	c->fd = -1;
	store_owner_free(sv->store, c->owner);
	if (c->waiting) {
		sv->nwaiting--;
		free(c->wait_body);
	}
	/* A ticket still pending completes later, for nobody. */
	free(c->tk_held);
	free(c->tk_body);
	while (c->out) {
		struct chunk *k = c->out;

		c->out = k->next;
		free_chunk(k);
	}
	blobmap_put(c->map);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	__atomic_fetch_sub(&sv->nconns, 1, __ATOMIC_RELAXED);
	in_resize(c, 0);
	free(c->segs);
	free(c);
}

/* Gives c's store owner the client's user, group and supplementary
 * groups, read here once so that no request pays for them. */
static void
peer_cred(struct server *sv, struct conn *c, const struct ucred *cred)
{
	uint32_t buf[64], *groups = buf;
	socklen_t len = sizeof(buf);
	size_t n = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		n = len / sizeof(*groups);
	} else if (errno == ERANGE && len <= (65536u * sizeof(*groups))) {
		/* len now says how much the list needs. */
		groups = xmalloc(len);
		if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups,
			       &len) == 0)
			n = len / sizeof(*groups);
	}
	/* Without the list (an old kernel) only the primary group counts. */
	store_owner_cred(sv->store, c->owner, (uint32_t)cred->uid,
			 (uint32_t)cred->gid, groups, n);
	if (groups != buf)
		free(groups);
}

/* Takes over an accepted socket fd; NULL (fd closed) if it cannot be
 * watched. */
struct conn *
conn_new(struct server *sv, int fd, const char *tcp_label)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct conn *c = xcalloc(1, sizeof(*c));

	c->sv = sv;
	c->fd = fd;
	c->wfd = -1;
	c->tcp = tcp_label != NULL;
	/* Who the client is decides what it may do. A TCP client has no
	 * credentials (SO_PEERCRED "succeeds" on TCP with uid -1): it is
	 * nobody until its token, if the daemon asks for one, makes it the
	 * daemon's own user (server_tcp.c). */
	if (tcp_label) {
		snprintf(c->label, sizeof(c->label), "%s", tcp_label);
		c->owner = store_owner_new(sv->store, c->label);
		store_owner_anon(sv->store, c->owner);
	} else {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
			/* cannot happen on a UNIX socket; then nobody */
			cred.uid = cred.gid = STORE_ANON_ID;
			cred.pid = 0;
		}
		snprintf(c->label, sizeof(c->label), "client pid %d uid %u",
			 (int)cred.pid, (unsigned)cred.uid);
		c->owner = store_owner_new(sv->store, c->label);
		peer_cred(sv, c, &cred);
	}
	c->events = EPOLLIN | EPOLLRDHUP;
	c->watch = loop_add(sv->loop, fd, c->events, conn_event, c);
	if (!c->watch) {
		log_warn("server: watch client");
		store_owner_free(sv->store, c->owner);
		close(fd);
		free(c);
		return NULL;
	}
	c->next = &sv->conns;
	c->prev = sv->conns.prev;
	c->prev->next = c;
	sv->conns.prev = c;
	__atomic_fetch_add(&sv->nconns, 1, __ATOMIC_RELAXED);
	log_debug("%s: connected", c->label);
	return c;
}
