/*
 * rawio.h: the raw side of the wire protocol for helpers that must send
 * what libvineyard never would: connect to $VINEYARD_IPC_SOCKET, send a
 * frame of any header, read one reply frame with its descriptors. Every
 * read waits at most 10 s, so a daemon that stays silent fails the test
 * instead of hanging it.
 */
#ifndef VY_RAWIO_H
#define VY_RAWIO_H

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cborio.h"
#include "fdpass.h"
#include "proto.h"
#include "helpers.h"

HELPER_FN int
raw_connect(void)
{
	struct sockaddr_un sa;
	const char *path = vy_default_socket();
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s: %s", path, strerror(errno));
	return fd;
}

/* Sends len bytes; 0, or -errno (EPIPE when the daemon closed). */
HELPER_FN int
send_try(int fd, const void *p, size_t len)
{
	const char *s = p;

	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

HELPER_FN void
send_all(int fd, const void *p, size_t len)
{
	int rc = send_try(fd, p, len);

	if (rc)
		die("send: %s", strerror(-rc));
}

/* A header claiming len body bytes, then the blen bytes at body; 0 or
 * -errno. */
HELPER_FN int
send_frame_try(int fd, uint16_t version, uint16_t type, uint32_t flags,
	       uint32_t len, const void *body, size_t blen)
{
	struct proto_hdr h = { PROTO_MAGIC, version, type, len, flags };
	uint8_t hb[PROTO_HDR_LEN];
	int rc;

	proto_hdr_pack(&h, hb);
	rc = send_try(fd, hb, sizeof(hb));
	if (rc == 0 && blen)
		rc = send_try(fd, body, blen);
	return rc;
}

/* send_frame_try, dying on failure. */
HELPER_FN void
send_frame_flags(int fd, uint16_t version, uint16_t type, uint32_t flags,
		 uint32_t len, const void *body, size_t blen)
{
	int rc = send_frame_try(fd, version, type, flags, len, body, blen);

	if (rc)
		die("send: %s", strerror(-rc));
}

HELPER_FN void
send_frame(int fd, uint16_t version, uint16_t type, uint32_t len,
	   const void *body, size_t blen)
{
	send_frame_flags(fd, version, type, 0, len, body, blen);
}

/* Reads exactly len bytes within 10 s; fds that come are appended. 0 ok,
 * 1 end of stream, -1 timeout or error. */
HELPER_FN int
read_exact(int fd, void *buf, size_t len, int *fds, int *nfds)
{
	char *p = buf;

	while (len) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, 10000) != 1)
			return -1;
		n = fdpass_recv(fd, p, len, fds, 16, nfds);
		if (n == 0)
			return 1;
		if (n < 0)
			return n == -ECONNRESET ? 1 : -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct reply {
	struct proto_hdr h;
	uint8_t body[65536];
	int fds[16];
	int nfds;
	char msg[512];
};

/* Reads one reply frame; 0, or 1 when the daemon closed instead. */
HELPER_FN int
read_reply(int fd, struct reply *r)
{
	uint8_t hb[PROTO_HDR_LEN];
	int rc;

	memset(r, 0, sizeof(*r));
	rc = read_exact(fd, hb, sizeof(hb), r->fds, &r->nfds);
	if (rc)
		return rc > 0 ? 1 : (die("no reply within 10 s"), -1);
	if (proto_hdr_unpack(hb, &r->h))
		die("reply with a bad header");
	if (r->h.len > sizeof(r->body))
		die("reply of %u bytes", r->h.len);
	if (read_exact(fd, r->body, r->h.len, r->fds, &r->nfds))
		die("truncated reply");
	if ((int32_t)r->h.status < 0) {
		struct cr cr;
		const char *s;
		size_t l;

		cr_init(&cr, r->body, r->h.len);
		if (cr_str(&cr, &s, &l) == 0)
			snprintf(r->msg, sizeof(r->msg), "%.*s", (int)l, s);
	}
	return 0;
}

#endif
