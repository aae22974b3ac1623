/* fdpass: SCM_RIGHTS plumbing for UNIX stream sockets. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"
#include "banned.h"

ssize_t
fdpass_sendv(int sock, struct iovec *iov, int niov, const int *fds,
	     int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
		struct cmsghdr align;
	} u;
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)niov;
	if (nfds > 0) {
		struct cmsghdr *cm;

		if (nfds > FDPASS_MAX)
			return -EINVAL;
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t
fdpass_recv(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds)
{
	return fdpass_recv_flags(sock, buf, len, fds, maxfds, nfds, 0);
}

ssize_t
fdpass_recv_flags(int sock, void *buf, size_t len, int *fds, int maxfds,
		  int *nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 253)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, len };
	struct msghdr msg;
	struct cmsghdr *cm;
	int overflow = 0;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t i, k;
		int fd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (*nfds < maxfds)
				fds[(*nfds)++] = fd;
			else {
				close(fd);
				overflow = 1;
			}
		}
	}
	if (overflow || (msg.msg_flags & MSG_CTRUNC))
		return -EMSGSIZE;
	return n;
}

int
fdpass_send_all(int sock, struct iovec *iov, int niov, const int *fds,
		int nfds)
{
	int first = nfds < FDPASS_MAX ? nfds : FDPASS_MAX;
	int sent = 0;

	while (niov > 0) {
		ssize_t n = fdpass_sendv(sock, iov, niov, fds, sent ? 0 : first);

		if (n < 0)
			return (int)n;
		sent = 1;
		while (niov > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			niov--;
		}
		if (niov > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	for (int done = first; done < nfds; done += FDPASS_MAX) {
		char zero = 0;
		struct iovec c = { &zero, 1 };
		int k = nfds - done < FDPASS_MAX ? nfds - done : FDPASS_MAX;
		ssize_t n = fdpass_sendv(sock, &c, 1, fds + done, k);

		if (n < 0)
			return (int)n;
	}
	return 0;
}

int
fdpass_recv_carriers(int sock, int *fds, int want, int *nfds)
{
	while (*nfds < want) {
		char byte;
		ssize_t n = fdpass_recv(sock, &byte, 1, fds, want, nfds);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ECONNRESET;
	}
	return 0;
}
