/*
 * fdpass: one sendmsg/recvmsg on a UNIX stream socket with file descriptors
 * attached (SCM_RIGHTS). Shared by the daemon and libvineyard.
 *
 * The kernel caps a message at 253 descriptors; callers that send more put
 * the rest on one-byte "carrier" messages of up to FDPASS_MAX each
 * (fdpass_send_all / fdpass_recv_carriers). Received descriptors are
 * close-on-exec. Neither function logs or exits.
 */
#ifndef VY_FDPASS_H
#define VY_FDPASS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define FDPASS_MAX 250

/* One sendmsg of iov with nfds (<= FDPASS_MAX) descriptors on its first
 * byte. Returns bytes sent, or -errno (-EAGAIN on a full nonblocking
 * socket). Never raises SIGPIPE. */
ssize_t fdpass_sendv(int sock, struct iovec *iov, int niov,
		     const int *fds, int nfds);

/* One recvmsg into buf. Descriptors that arrive are appended to fds[*nfds]
 * while *nfds < maxfds; any beyond that are closed and -EMSGSIZE is
 * returned. Returns bytes read (0 at end of stream) or -errno. */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, int maxfds,
		    int *nfds);
/* Same with recvmsg flags (e.g. MSG_DONTWAIT: -EAGAIN when nothing). */
ssize_t fdpass_recv_flags(int sock, void *buf, size_t len, int *fds,
			  int maxfds, int *nfds, int flags);

/* Blocking helpers for a client: send everything in iov, with all nfds
 * descriptors (carriers after the data when more than FDPASS_MAX). */
int fdpass_send_all(int sock, struct iovec *iov, int niov, const int *fds,
		    int nfds);
/* Reads carrier bytes until *nfds reaches want. */
int fdpass_recv_carriers(int sock, int *fds, int want, int *nfds);

#endif
