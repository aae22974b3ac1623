/*
 * server_tcp: the TCP front (--rpc HOST:PORT). The same framing and the
 * same CBOR requests as the UNIX socket, for clients on machines without a
 * daemon, minus what needs descriptor passing (writable memfds, mapped
 * gets): those are refused with a sentence, and bytes travel by copy
 * (req_copy.c). Loopback only unless a token file is given; with one, the
 * first request must be a hello carrying the token, and a connection
 * without it (or with a wrong one) is refused, logged and closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "server_int.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

/* 0 when addr is 127.0.0.0/8 or ::1. */
static int
loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
			>> 24) == 127 ? 0 : -1;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
			&((const struct sockaddr_in6 *)sa)->sin6_addr) ? 0 : -1;
	return -1;
}

int
server_listen_tcp(const char *hostport, int have_token, int *fdp, char *err,
		  size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t hl;
	int fd = -1, one = 1, rc;

	if (!colon || colon == hostport || !colon[1] ||
	    (hl = (size_t)(colon - hostport)) >= sizeof(host)) {
		snprintf(err, errlen, "--rpc %s: expected HOST:PORT", hostport);
		return -EINVAL;
	}
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "--rpc %s: %s", hostport,
			 gai_strerror(rc));
		return -EINVAL;
	}
	if (loopback(res->ai_addr) && !have_token) {
		snprintf(err, errlen, "--rpc %s: not a loopback address; serving "
			 "other addresses needs --rpc-token-file", hostport);
		freeaddrinfo(res);
		return -EPERM;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		snprintf(err, errlen, "--rpc %s: cannot listen: %s", hostport,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return rc;
	}
	freeaddrinfo(res);
	*fdp = fd;
	return 0;
}

static void
accept_tcp(void *ctx, uint32_t events)
{
	struct server *sv = ctx;
	struct sockaddr_storage ss;
	char addr[INET6_ADDRSTRLEN] = "?", label[INET6_ADDRSTRLEN + 16];
	socklen_t sl;
	struct conn *c;
	int i, fd, one = 1;

	(void)events;
	for (i = 0; i < 64; i++) {
		sl = sizeof(ss);
		fd = accept4(sv->tfd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		/* Out of descriptors: refused with a sentence, as on the
		 * socket; left in the backlog it would spin the loop. */
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			if (server_refuse(sv, sv->tfd) < 0)
				return;
			continue;
		}
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("server: accept tcp");
			return;
		}
		sv->refusing = 0;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
				  addr, sizeof(addr));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((struct sockaddr_in6 *)&ss)->sin6_addr,
				  addr, sizeof(addr));
		snprintf(label, sizeof(label), "tcp client %s", addr);
		/* nobody (store_owner_anon) until a token says otherwise */
		if (!(c = conn_new(sv, fd, label)))
			continue;
		c->authed = sv->token == NULL;
	}
}

int
server_tcp_start(struct server *sv, int fd, const char *token)
{
	sv->tfd = fd;
	sv->token = token ? xstrdup(token) : NULL;
	sv->twatch = loop_add(sv->loop, fd, EPOLLIN, accept_tcp, sv);
	return sv->twatch ? 0 : -errno;
}

void
server_tcp_stop(struct server *sv)
{
	if (sv->tfd < 0)
		return;
	loop_del(sv->loop, sv->twatch);
	close(sv->tfd);
	sv->tfd = -1;
	free(sv->token);
	sv->token = NULL;
}

/* Constant time: the comparison says nothing about where they differ. */
static int
token_eq(const char *a, const char *b, size_t blen)
{
	size_t al = strlen(a), i;
	unsigned d = al != blen;

	for (i = 0; i < blen; i++)
		d |= (unsigned char)a[i % (al ? al : 1)] ^ (unsigned char)b[i];
	return d == 0;
}

int
server_tcp_check(struct conn *c, uint16_t type, const uint8_t *body,
		 size_t len)
{
	struct server *sv = c->sv;
	struct cr r;
	size_t n;
	uint64_t v;
	const char *s, *tok;
	size_t sl, tl;

	if (c->authed)
		return 0;
	/* the first request: a hello with [version, pid, label, token] */
	cr_init(&r, body, len);
	if (type == MSG_HELLO && cr_array(&r, &n) == 0 && n >= 4 &&
	    cr_uint(&r, &v) == 0 && cr_uint(&r, &v) == 0 &&
	    cr_str(&r, &s, &sl) == 0 && cr_str(&r, &tok, &tl) == 0 &&
	    token_eq(sv->token, tok, tl)) {
		c->authed = 1;
		/* The token is the daemon's secret: its holder may do what
		 * the daemon's own user may. Without a token a TCP client
		 * stays nobody (conn_new), one of "others". */
		store_owner_cred(sv->store, c->owner, (uint32_t)geteuid(),
				 (uint32_t)getegid(), NULL, 0);
		return 0;
	}
	log_warnx("%s: refused: %s token", c->label,
		  type == MSG_HELLO ? "missing or wrong" : "no hello with a");
	reply_error(c, type, -EACCES, "this daemon's TCP front needs its "
		    "token (vineyardctl --token-file, vy_connect_tcp)");
	return -1;
}
