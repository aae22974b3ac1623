/*
 * transfer_conn: a fetching daemon's connection to another instance's
 * --rpc port (transfer.h): connect with a deadline, the hello (with the
 * token), framed round trips, and the metadata of an object's tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cborio.h"
#include "cluster/transfer.h"
#include "proto.h"
#include "xmalloc.h"
#include "banned.h"

int
xfer_fail(struct xfer *x, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->err, sizeof(x->err), fmt, ap);
	va_end(ap);
	return rc;
}

static int
lost(struct xfer *x, int rc)
{
	if (rc == 0)
		return xfer_fail(x, -ECONNRESET, "instance at %s closed the "
				 "connection mid-transfer", x->peer);
	if (rc == -EAGAIN || rc == -EWOULDBLOCK)
		return xfer_fail(x, -ETIMEDOUT, "instance at %s did not "
				 "answer within %d s", x->peer,
				 XFER_TIMEOUT_MS / 1000);
	return xfer_fail(x, rc, "connection to instance at %s lost: %s",
			 x->peer, strerror(-rc));
}

int
xfer_send_all(struct xfer *x, const void *p, size_t len)
{
	const uint8_t *b = p;
	ssize_t k;

	while (len) {
		k = send(x->fd, b, len, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return lost(x, k < 0 ? -errno : 0);
		b += k;
		len -= (size_t)k;
	}
	return 0;
}

int
xfer_recv_all(struct xfer *x, void *p, size_t len)
{
	uint8_t *b = p;
	ssize_t k;

	while (len) {
		k = recv(x->fd, b, len, MSG_WAITALL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return lost(x, k < 0 ? -errno : 0);
		b += k;
		len -= (size_t)k;
	}
	return 0;
}

int
xfer_send_req(struct xfer *x, uint16_t type, const uint8_t *body, size_t len)
{
	struct proto_hdr h = { PROTO_MAGIC, PROTO_VERSION, type,
			       (uint32_t)len, 0 };
	uint8_t hb[PROTO_HDR_LEN];
	int rc;

	proto_hdr_pack(&h, hb);
	if ((rc = xfer_send_all(x, hb, sizeof(hb))))
		return rc;
	return xfer_send_all(x, body, len);
}

int
xfer_reply_hdr(struct xfer *x, uint16_t type, uint32_t *len)
{
	struct proto_hdr h;
	uint8_t hb[PROTO_HDR_LEN], msg[1024];
	const char *s;
	size_t sl;
	struct cr r;
	int rc;

	if ((rc = xfer_recv_all(x, hb, sizeof(hb))))
		return rc;
	if (proto_hdr_unpack(hb, &h) || h.type != type)
		return xfer_fail(x, -EPROTO, "instance at %s sent a reply "
				 "this daemon does not understand", x->peer);
	if (h.status == 0) {
		*len = h.len;
		return 0;
	}
	rc = proto_status_errno(h.status);
	if (rc >= 0 || h.len > sizeof(msg) ||
	    xfer_recv_all(x, msg, h.len))
		return xfer_fail(x, rc < 0 ? rc : -EPROTO, "instance at %s "
				 "refused: %s", x->peer, strerror(rc < 0 ?
								  -rc : EPROTO));
	cr_init(&r, msg, h.len);
	if (cr_str(&r, &s, &sl))
		s = "", sl = 0;
	return xfer_fail(x, rc, "instance at %s: %.*s", x->peer,
			 (int)(sl > 400 ? 400 : sl), s);
}

int
xfer_call(struct xfer *x, uint16_t type, const uint8_t *req, size_t reqlen,
	  size_t max, uint8_t **body, size_t *len)
{
	uint32_t n;
	uint8_t *b;
	int rc;

	if ((rc = xfer_send_req(x, type, req, reqlen)) ||
	    (rc = xfer_reply_hdr(x, type, &n)))
		return rc;
	if (n > max)
		return xfer_fail(x, -EMSGSIZE, "instance at %s sent a %u-byte "
				 "reply (at most %zu expected)", x->peer, n,
				 max);
	b = xmalloc(n ? n : 1);
	if ((rc = xfer_recv_all(x, b, n))) {
		free(b);
		return rc;
	}
	*body = b;
	*len = n;
	return 0;
}

/* Connects to host:port, waiting at most XFER_TIMEOUT_MS. */
static int
dial(struct xfer *x, const char *hostport)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { XFER_TIMEOUT_MS / 1000,
			      (XFER_TIMEOUT_MS % 1000) * 1000 };
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t hl;
	int fd = -1, one = 1, rc = -EHOSTUNREACH;

	if (!colon || colon == hostport ||
	    (hl = (size_t)(colon - hostport)) >= sizeof(host))
		return xfer_fail(x, -EINVAL, "bad --rpc endpoint '%s' in the "
				 "cluster", hostport);
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return xfer_fail(x, -EHOSTUNREACH, "cannot resolve %s",
				 hostport);
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd p;
		int err = 0;
		socklen_t el = sizeof(err);

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			rc = -errno;
			close(fd);
			fd = -1;
			continue;
		}
		p.fd = fd;
		p.events = POLLOUT;
		if (poll(&p, 1, XFER_TIMEOUT_MS) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 ||
		    err) {
			rc = err ? -err : -ETIMEDOUT;
			close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return xfer_fail(x, rc, "cannot connect to instance at %s: %s",
				 hostport, strerror(-rc));
	/* blocking from here on, every wait bounded */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	x->fd = fd;
	return 0;
}

int
xfer_connect(struct xfer *x, const char *hostport, const char *token)
{
	struct cw w;
	uint8_t *body = NULL;
	size_t len;
	int rc;

	x->fd = -1;
	x->zbuf = NULL;
	x->zcap = 0;
	x->err[0] = '\0';
	snprintf(x->peer, sizeof(x->peer), "%s", hostport);
	if ((rc = dial(x, hostport)))
		return rc;
	cw_init(&w);
	cw_array(&w, token ? 4 : 3);
	cw_uint(&w, PROTO_VERSION);
	cw_uint(&w, (uint64_t)getpid());
	cw_str(&w, "vineyardd fetch");
	if (token)
		cw_str(&w, token);
	if (w.oom)
		rc = xfer_fail(x, -ENOMEM, "out of memory");
	else
		rc = xfer_call(x, MSG_HELLO, w.buf, w.len, 4096, &body, &len);
	cw_release(&w);
	free(body);
	if (rc) {
		close(x->fd);
		x->fd = -1;
	}
	return rc;
}

void
xfer_close(struct xfer *x)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	free(x->zbuf);
	x->zbuf = NULL;
	x->zcap = 0;
	XXH3_freeState(x->sum); /* NULL is fine */
	x->sum = NULL;
}

void
xfer_abort(struct xfer *x)
{
	if (x->fd >= 0)
		shutdown(x->fd, SHUT_RDWR);
}

int
xfer_tree(struct xfer *x, uint64_t id, struct xfer_tree *t)
{
	struct cw w;
	struct cr r;
	size_t len, n, k, i;
	uint64_t root, u, nb;
	int has_who;
	const void *meta;
	int rc;

	memset(t, 0, sizeof(*t));
	cw_init(&w);
	cw_array(&w, 4);
	cw_uint(&w, id);
	cw_null(&w);
	cw_uint(&w, 0);
	cw_uint(&w, GET_F_META | GET_F_NOFETCH | GET_F_OWNERS);
	rc = w.oom ? -ENOMEM : xfer_call(x, MSG_GET, w.buf, w.len,
					 PROTO_MAX_BODY, &t->body, &len);
	cw_release(&w);
	if (rc)
		return rc;
	cr_init(&r, t->body, len);
	if (cr_array(&r, &n) || (n != 3 && n != 4))
		goto bad;
	has_who = n == 4;
	if (cr_uint(&r, &root) || root != id ||
	    cr_array(&r, &n) || n > PROTO_MAX_BODY / 4)
		goto bad;
	t->objs = xcalloc(n ? n : 1, sizeof(*t->objs));
	for (i = 0; i < n; i++) {
		if (cr_array(&r, &k) || k != 3 || cr_uint(&r, &t->objs[i].id) ||
		    cr_bytes(&r, &meta, &t->objs[i].metalen) ||
		    cr_uint(&r, &nb))
			goto bad;
		t->objs[i].meta = meta;
		t->nobjs++;
	}
	if (cr_array(&r, &n) || n > PROTO_MAX_BODY / 8)
		goto bad;
	t->blobs = xcalloc(n ? n : 1, sizeof(*t->blobs));
	for (i = 0; i < n; i++) {
		if (cr_array(&r, &k) || k != 6 ||
		    cr_uint(&r, &t->blobs[i].id) ||
		    cr_uint(&r, &t->blobs[i].len) || cr_skip(&r, 1) ||
		    cr_skip(&r, 1) || cr_uint(&r, &u) || cr_uint(&r, &u))
			goto bad;
		t->nblobs++;
	}
	/* the owners: each object's, then each blob's */
	if (has_who && (cr_array(&r, &n) || n != t->nobjs + t->nblobs))
		goto bad;
	for (i = 0; has_who && i < n; i++) {
		struct store_who *o = i < t->nobjs ? &t->objs[i].who :
				      &t->blobs[i - t->nobjs].who;
		uint64_t uid, gid, mode;

		if (i < t->nobjs)
			t->objs[i].whop = o;
		else
			t->blobs[i - t->nobjs].whop = o;
		if (cr_array(&r, &k) || k != 3 || cr_uint(&r, &uid) ||
		    cr_uint(&r, &gid) || cr_uint(&r, &mode) ||
		    uid > UINT32_MAX || gid > UINT32_MAX ||
		    (mode & ~(uint64_t)PROTO_MODE_BITS))
			goto bad;
		o->uid = (uint32_t)uid;
		o->gid = (uint32_t)gid;
		o->mode = (unsigned)mode;
	}
	return 0;
bad:
	xfer_tree_release(t);
	return xfer_fail(x, -EPROTO, "instance at %s sent a malformed "
			 "description of object o%016llx", x->peer,
			 (unsigned long long)id);
}

void
xfer_tree_release(struct xfer_tree *t)
{
	free(t->body);
	free(t->objs);
	free(t->blobs);
	memset(t, 0, sizeof(*t));
}
