/*
 * client: connecting, the request/reply round trip, and error text. A round
 * trip writes one frame and reads exactly one reply frame plus the
 * descriptors it announces; anything unexpected marks the connection
 * broken, because the byte stream can no longer be trusted.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client_int.h"
#include "fdpass.h"
#include "meta.h"
#include "banned.h"

int
vy__fail(struct vy_client *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return rc;
}

int
vy__malformed(struct vy_client *c, const char *what)
{
	c->broken = 1;
	return vy__fail(c, -EPROTO, "malformed %s reply", what);
}

int
vy__reply_uint(struct vy_client *c, const struct vy_reply *rep,
	       const char *what, uint64_t *v)
{
	struct cr r;
	size_t n;

	cr_init(&r, rep->body, rep->len);
	if (cr_array(&r, &n) || n != 1 || cr_uint(&r, v))
		return vy__malformed(c, what);
	return 0;
}

int
vy__copy_body(struct vy_client *c, const struct vy_reply *rep, uint8_t **out)
{
	*out = malloc(rep->len ? rep->len : 1);
	if (!*out)
		return vy__fail(c, -ENOMEM, "out of memory");
	memcpy(*out, rep->body, rep->len);
	return 0;
}

VY_API const char *
vy_default_socket(void)
{
	const char *env = getenv("VINEYARD_IPC_SOCKET");

	return env && *env ? env : VY_DEFAULT_SOCKET;
}

VY_API int
vy_set_mode(struct vy_client *c, unsigned mode)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	if (mode & ~PROTO_MODE_BITS)
		rc = vy__fail(c, -EINVAL, "mode %04o: an object's mode has only "
			      "read (4) and write (2) bits for the owner, the "
			      "group and others, at most 0666", mode);
	else
		c->mode = mode;
	vy__leave(c);
	return rc;
}

VY_API const char *
vy_socket_path(const struct vy_client *c)
{
	return c->path;
}

VY_API const char *
vy_errmsg(const struct vy_client *c)
{
	return c ? c->err : "no client";
}

VY_API void
vy_id_format(vy_id id, char out[VY_ID_STRLEN])
{
	meta_id_format(id, out);
}

VY_API int
vy_id_parse(const char *s, vy_id *id)
{
	return meta_id_parse(s, id);
}

VY_API int
vy_id_is_blob(vy_id id)
{
	return meta_id_is_blob(id);
}

unsigned vy__forkgen;

static void
atfork_child(void)
{
	vy__forkgen++;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
atfork_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

int
vy__enter(struct vy_client *c)
{
	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	c->err[0] = 0;
	if (c->forkgen != vy__forkgen) {
		pthread_mutex_unlock(&c->lock);
		return vy__fail(c, -ECHILD, "this connection was opened by "
				"process %d; after fork() connect again in the "
				"child", (int)c->pid);
	}
	if (c->broken) {
		pthread_mutex_unlock(&c->lock);
		return vy__fail(c, -EPIPE, "the connection to vineyardd at %s "
				"is closed or out of step; connect again",
				c->path);
	}
	return 0;
}

void
vy__leave(struct vy_client *c)
{
	pthread_mutex_unlock(&c->lock);
}

void
vy__req(struct vy_client *c)
{
	static const uint8_t zero[PROTO_HDR_LEN];

	cw_reset(&c->req);
	cw_raw(&c->req, zero, sizeof(zero));
}

void
vy__close_fds(struct vy_client *c, int from)
{
	int i;

	for (i = from; i < c->nrfds; i++)
		if (c->rfds[i] >= 0)
			close(c->rfds[i]);
	if (from < c->nrfds)
		c->nrfds = from;
}

static int
broken(struct vy_client *c, int rc)
{
	c->broken = 1;
	vy__close_fds(c, 0);
	if (rc == 0 || rc == -ECONNRESET || rc == -EPIPE)
		return vy__fail(c, -ECONNRESET, "vineyardd at %s closed the "
				"connection (did it stop?)", c->path);
	return vy__fail(c, rc, "talking to vineyardd at %s: %s", c->path,
			strerror(-rc));
}

/* Reads exactly len bytes, collecting descriptors into c->rfds. */
static int
read_full(struct vy_client *c, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = fdpass_recv(c->fd, buf, len, c->rfds, c->rfdcap,
					&c->nrfds);

		if (n <= 0)
			return n == 0 ? -ECONNRESET : (int)n;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
want_fds(struct vy_client *c, int n)
{
	if (n > c->rfdcap) {
		int *v = realloc(c->rfds, (size_t)n * sizeof(int));

		if (!v)
			return -ENOMEM;
		c->rfds = v;
		c->rfdcap = n;
	}
	return 0;
}

/* Encodes the queued releases as a NOREPLY frame into c->rel, which v
 * points at; the caller sends it before its own request. */
static int
release_frame(struct vy_client *c, struct iovec *v)
{
	struct cw *wp = &c->rel;
	struct proto_hdr h;
	size_t i;

	cw_reset(wp);
	cw_raw(wp, (const uint8_t[PROTO_HDR_LEN]){ 0 }, PROTO_HDR_LEN);
	cw_array(wp, 1);
	cw_array(wp, c->npending);
	for (i = 0; i < c->npending; i++)
		cw_uint(wp, c->pending[i]);
	if (cw_finish(wp))
		return 0; /* the pins go when we disconnect */
	h.magic = PROTO_MAGIC;
	h.version = PROTO_VERSION;
	h.type = MSG_RELEASE;
	h.len = (uint32_t)(wp->len - PROTO_HDR_LEN);
	h.status = PROTO_F_NOREPLY;
	proto_hdr_pack(&h, wp->buf);
	v->iov_base = wp->buf;
	v->iov_len = wp->len;
	return 1;
}

void
vy__flush_releases(struct vy_client *c)
{
	struct iovec v;

	if (c->npending && release_frame(c, &v))
		fdpass_send_all(c->fd, &v, 1, NULL, 0);
	c->npending = 0;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The first read of a reply: poll briefly before sleeping, because most
 * replies come within microseconds and, on virtual machines, waking a
 * halted vCPU costs more than the request itself. */
static ssize_t
recv_first(struct vy_client *c, int exact)
{
	/* a reply bound for a sink: only its head here, the bytes there;
	 * with more replies on the way (exact), only this one's header */
	size_t cap = exact ? PROTO_HDR_LEN :
		     c->sink && c->rcap > 4096 ? 4096 : c->rcap;
	uint64_t end;
	ssize_t n;

	if (c->spin_us) {
		end = now_us() + c->spin_us;
		do {
			n = fdpass_recv_flags(c->fd, c->rbuf, cap, c->rfds,
					      c->rfdcap, &c->nrfds,
					      MSG_DONTWAIT);
			if (n != -EAGAIN)
				return n;
			sched_yield();
		} while (now_us() < end);
	}
	return fdpass_recv(c->fd, c->rbuf, cap, c->rfds, c->rfdcap,
			   &c->nrfds);
}

/* The body of a success reply [bytes] bound for c->sink: reads the few
 * head bytes, then the payload straight into the sink. 1 when it did, 0
 * when the body is not that shape (read on as usual), or -errno. got body
 * bytes are already at the front of rbuf. */
static int
read_into_sink(struct vy_client *c, uint32_t len, size_t got)
{
	uint8_t ai;
	size_t head, i, have;
	uint64_t l = 0;
	int rc;

	if (len < 16 || got > len)
		return 0;
	if (got < 10 && (rc = read_full(c, c->rbuf + got, 10 - got)))
		return rc;
	if (got < 10)
		got = 10;
	/* 0x81: an array of one; then major type 2, a byte string */
	if (c->rbuf[0] != 0x81 || (c->rbuf[1] >> 5) != 2)
		return -EAGAIN;
	ai = c->rbuf[1] & 31;
	head = ai < 24 ? 0 : ai == 24 ? 1 : ai == 25 ? 2 : ai == 26 ? 4 :
	       ai == 27 ? 8 : 99;
	if (head == 99)
		return -EAGAIN;
	for (i = 0; i < head; i++)
		l = l << 8 | c->rbuf[2 + i];
	if (!head)
		l = ai;
	head += 2;
	if (head + l != len || l > c->sink_cap || got < head)
		return -EAGAIN;
	have = got - head;
	memcpy(c->sink, c->rbuf + head, have);
	if ((rc = read_full(c, c->sink + have, (size_t)l - have)))
		return rc;
	c->sunk = (size_t)l;
	return 1;
}

int
vy__send(struct vy_client *c, uint16_t type, uint32_t flags)
{
	struct proto_hdr h;
	int rc;

	if (cw_finish(&c->req))
		return vy__fail(c, -ENOMEM, "out of memory building a request");
	if (c->req.len - PROTO_HDR_LEN > PROTO_MAX_BODY)
		return vy__fail(c, -EMSGSIZE, "request larger than %u bytes",
				PROTO_MAX_BODY);
	h.magic = PROTO_MAGIC;
	h.version = PROTO_VERSION;
	h.type = type;
	h.len = (uint32_t)(c->req.len - PROTO_HDR_LEN);
	h.status = flags;
	proto_hdr_pack(&h, c->req.buf);
	{
		struct iovec v[2];
		int nv = 0;

		if (c->npending && type != MSG_RELEASE)
			nv = release_frame(c, &v[0]);
		v[nv].iov_base = c->req.buf;
		v[nv].iov_len = c->req.len;
		rc = fdpass_send_all(c->fd, v, nv + 1, NULL, 0);
		c->npending = 0;
	}
	/* A daemon that refuses a connection (no descriptor left) writes
	 * why and closes at once, maybe before this request arrived: the
	 * send then fails, but the sentence is already here to read (the
	 * read cannot block on a closed peer). */
	if (rc && rc != -EPIPE && rc != -ECONNRESET)
		return broken(c, rc);
	if (flags & PROTO_F_NOREPLY)
		return rc ? broken(c, rc) : 0;
	return 0;
}

int
vy__rt(struct vy_client *c, uint16_t type, uint32_t flags,
       struct vy_reply *rep)
{
	int rc = vy__send(c, type, flags);

	if (rc || (flags & PROTO_F_NOREPLY))
		return rc;
	return vy__recv(c, type, 0, rep);
}

int
vy__recv(struct vy_client *c, uint16_t type, int exact, struct vy_reply *rep)
{
	struct proto_hdr h;
	uint8_t hb[PROTO_HDR_LEN];
	size_t got;
	int rc = 0, nfds = 0;

	c->nrfds = 0;
	/* Room for what arrives on the header's first byte. */
	if (want_fds(c, FDPASS_MAX) < 0)
		return vy__fail(c, -ENOMEM, "out of memory");
	/* Header and (usually all of) the body in one call: the daemon sends
	 * a reply with one sendmsg, and it never sends more than one reply at
	 * a time, so this cannot read into the next frame (unless the caller
	 * sent more requests ahead: then exact, the header alone). Carrier bytes
	 * follow only a frame whose first segment carries descriptors, and
	 * the kernel stops a read after a segment with descriptors. */
	{
		ssize_t n;

		if (c->rcap < 4096) {
			uint8_t *b = realloc(c->rbuf, 4096);

			if (!b)
				return vy__fail(c, -ENOMEM, "out of memory");
			c->rbuf = b;
			c->rcap = 4096;
		}
		n = recv_first(c, exact);
		if (n <= 0)
			return broken(c, n == 0 ? -ECONNRESET : (int)n);
		if ((size_t)n < sizeof(hb)) {
			rc = read_full(c, c->rbuf + n, sizeof(hb) - (size_t)n);
			if (rc)
				return broken(c, rc);
			n = sizeof(hb);
		}
		memcpy(hb, c->rbuf, sizeof(hb));
		got = (size_t)n - sizeof(hb);
	}
	rc = proto_hdr_unpack(hb, &h);
	/* Type 0: an error the daemon sent before it read the request (no
	 * descriptor left for this connection, a frame it could not take);
	 * its sentence says why, and the daemon closes the connection. */
	if (rc == 0 && h.type == 0 && (int32_t)h.status < 0 && h.len < 1024 &&
	    got <= h.len) {
		char msg[1024];
		struct cr r;
		const char *s;
		size_t ml;

		memmove(c->rbuf, c->rbuf + sizeof(hb), got);
		if (read_full(c, c->rbuf + got, h.len - got) == 0) {
			cr_init(&r, c->rbuf, h.len);
			if (cr_str(&r, &s, &ml) == 0) {
				snprintf(msg, sizeof(msg), "%.*s", (int)ml, s);
				c->broken = 1;
				return vy__fail(c, (int32_t)h.status, "%s",
						msg);
			}
		}
		return broken(c, (int32_t)h.status);
	}
	if (rc || h.type != type) {
		if (h.magic == PROTO_MAGIC && h.version != PROTO_VERSION) {
			c->broken = 1;
			return vy__fail(c, -EPROTO, "vineyardd speaks protocol "
					"version %u, this library %u; use "
					"matching versions", h.version,
					PROTO_VERSION);
		}
		return broken(c, -EPROTO);
	}
	if (got > h.len)
		return broken(c, -EPROTO);
	/* The body starts after the header in rbuf: slide it to the front. */
	memmove(c->rbuf, c->rbuf + sizeof(hb), got);
	if (c->sink && h.status == 0) {
		rc = read_into_sink(c, h.len, got);
		if (rc == 1) {
			rep->body = c->rbuf;
			rep->len = 0;
			rep->nfds = 0;
			return 0;
		}
		if (rc < 0 && rc != -EAGAIN)
			return broken(c, rc);
		if (rc == -EAGAIN && got < 10)
			got = 10;	/* read_into_sink read that far */
		rc = 0;
	}
	if (h.len > c->rcap) {
		uint8_t *b = realloc(c->rbuf, h.len);

		if (!b)
			return broken(c, -ENOMEM);
		c->rbuf = b;
		c->rcap = h.len;
	}
	rc = read_full(c, c->rbuf + got, h.len - got);
	if (rc)
		return broken(c, rc);
	if ((int32_t)h.status < 0) {
		struct cr r;
		const char *msg;
		size_t ml;

		vy__close_fds(c, 0);
		cr_init(&r, c->rbuf, h.len);
		if (cr_str(&r, &msg, &ml) == 0)
			vy__fail(c, (int32_t)h.status, "%.*s", (int)ml, msg);
		else
			vy__fail(c, (int32_t)h.status, "%s",
				 strerror(-(int32_t)h.status));
		if (h.type == 0)
			c->broken = 1;
		return (int32_t)h.status;
	}
	nfds = (int)h.status;
	if (nfds > (int)PROTO_MAX_BATCH)
		return broken(c, -EPROTO);
	if (want_fds(c, nfds) < 0)
		return broken(c, -ENOMEM);
	rc = fdpass_recv_carriers(c->fd, c->rfds, nfds, &c->nrfds);
	if (rc || c->nrfds != nfds)
		return broken(c, rc ? rc : -EPROTO);
	rep->body = c->rbuf;
	rep->len = h.len;
	rep->nfds = nfds;
	return 0;
}

static int
hello(struct vy_client *c)
{
	struct vy_reply rep;
	struct cr r;
	uint64_t ver, pid, limit;
	size_t n;
	int rc;

	vy__req(c);
	cw_array(&c->req, c->token ? 4 : 3);
	cw_uint(&c->req, PROTO_VERSION);
	cw_uint(&c->req, (uint64_t)getpid());
	cw_str(&c->req, "libvineyard " VY_VERSION);
	if (c->token)	/* TCP with a token: the daemon checks it first */
		cw_str(&c->req, c->token);
	rc = vy__rt(c, MSG_HELLO, 0, &rep);
	if (rc)
		return rc;
	cr_init(&r, rep.body, rep.len);
	if (cr_array(&r, &n) || n < 3 || cr_uint(&r, &ver) ||
	    cr_uint(&r, &pid) || cr_uint(&r, &limit))
		return broken(c, -EPROTO);
	c->limit = limit;
	return 0;
}

/* What a connection owns, freed by vy_close and by a failed connect. */
static void
client_free(struct vy_client *c)
{
	free(c->pending);
	if (c->fd >= 0)
		close(c->fd);
	cw_release(&c->req);
	cw_release(&c->rel);
	idtab_release(&c->maps);
	free(c->rbuf);
	free(c->rfds);
	free(c->path);
	free(c->token);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* A TCP connection to host:port (the daemon's --rpc); -errno with c->err. */
static int
connect_tcp(struct vy_client *c, const char *host, unsigned port)
{
	struct addrinfo hints, *res = NULL, *a;
	char ps[16];
	int rc, e = ECONNREFUSED, one = 1;

	snprintf(ps, sizeof(ps), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, ps, &hints, &res)) != 0)
		return vy__fail(c, -EINVAL, "%s: %s", host, gai_strerror(rc));
	for (a = res; a; a = a->ai_next) {
		c->fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			e = errno;
			continue;
		}
		if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		e = errno;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		return vy__fail(c, e == ECONNREFUSED ? -ECONNREFUSED : -e,
				"cannot connect to vineyardd at %s: %s", c->path,
				strerror(e));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->tcp = 1;
	return 0;
}

static int connect_any(const char *path, const char *host, unsigned port,
		       const char *token, struct vy_client **out, char *err,
		       size_t errlen);

VY_API int
vy_connect_tcp(const char *host, unsigned port, const char *token,
	       struct vy_client **out, char *err, size_t errlen)
{
	if (!host || !*host || !port || port > 65535) {
		*out = NULL;
		if (err && errlen)
			snprintf(err, errlen, "a TCP address is HOST and a "
				 "PORT from 1 to 65535");
		return -EINVAL;
	}
	return connect_any(NULL, host, port, token, out, err, errlen);
}

VY_API int
vy_connect_err(const char *path, struct vy_client **out, char *err,
	       size_t errlen)
{
	return connect_any(path, NULL, 0, NULL, out, err, errlen);
}

static int
connect_any(const char *path, const char *host, unsigned port,
	    const char *token, struct vy_client **out, char *err,
	    size_t errlen)
{
	struct sockaddr_un sa;
	struct vy_client *c;
	int rc;

	*out = NULL;
	if (!path && !host)
		path = vy_default_socket();
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->mode = PROTO_MODE_DEFAULT;
	pthread_once(&atfork_once, atfork_init);
	c->pid = getpid();
	c->forkgen = vy__forkgen;
	{
		const char *spin = getenv("VINEYARD_SPIN_US");

		c->spin_us = spin && *spin ? (unsigned)strtoul(spin, NULL, 10)
					   : 50;
		if (c->spin_us > 1000000)
			c->spin_us = 1000000;
	}
	pthread_mutex_init(&c->lock, NULL);
	cw_init(&c->req);
	cw_init(&c->rel);
	idtab_init(&c->maps);
	if (host) {
		size_t pl = strlen(host) + 16;

		c->path = malloc(pl);
		if (c->path)
			snprintf(c->path, pl, "%s:%u", host, port);
		c->token = token ? strdup(token) : NULL;
		if (!c->path || (token && !c->token)) {
			rc = -ENOMEM;
			goto fail;
		}
		if ((rc = connect_tcp(c, host, port)) == 0)
			rc = hello(c);
		if (rc)
			goto fail;
		*out = c;
		return 0;
	}
	c->path = strdup(path);
	if (!c->path) {
		rc = -ENOMEM;
		goto fail;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		rc = vy__fail(c, -ENAMETOOLONG, "socket path %s is too long",
			      path);
		goto fail;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = vy__fail(c, -errno, "socket: %s", strerror(errno));
		goto fail;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == ENOENT)
			rc = vy__fail(c, -ENOENT, "no vineyardd socket at %s; "
				      "start vineyardd or point at it with "
				      "--socket or VINEYARD_IPC_SOCKET", path);
		else if (e == ECONNREFUSED)
			rc = vy__fail(c, -ECONNREFUSED, "no vineyardd "
				      "answering at %s (stale socket file?)",
				      path);
		else
			rc = vy__fail(c, -e, "cannot connect to %s: %s", path,
				      strerror(e));
		goto fail;
	}
	rc = hello(c);
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	if (err && errlen)
		snprintf(err, errlen, "%s", c->err[0] ? c->err :
			 strerror(-rc));
	client_free(c);
	return rc;
}

VY_API int
vy_connect(const char *path, struct vy_client **out)
{
	return vy_connect_err(path, out, NULL, 0);
}

VY_API void
vy_close(struct vy_client *c)
{
	if (!c)
		return;
	/* In a fork child, unmap nothing the parent shares (the child may
	 * still read what it inherited); free only the bookkeeping. */
	if (c->forkgen == vy__forkgen) {
		if (!c->broken)
			vy__flush_releases(c);
		vy__unmap_all(c);
	} else {
		struct vy_mapping *m;
		size_t pos = 0;

		while ((m = idtab_next(&c->maps, &pos)))
			free(m);
		free(c->segs);
	}
	client_free(c);
}
