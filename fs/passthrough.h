/*
 * passthrough: the FUSE session's own I/O (struct fuse_custom_io) and the
 * kernel's FUSE passthrough, which answers an open of a blob file with the
 * blob's memfd as backing file, so read and mmap reach store memory without
 * the daemon (Linux >= 6.9, CAP_SYS_ADMIN).
 *
 * The I/O hooks always run: their read waits on the device and on a stop
 * descriptor, so fs_stop can end the worker threads without signals. They
 * also watch INIT and OPEN go by. With libfuse < 3.17, which has no
 * passthrough API, they patch the INIT reply (FUSE_PASSTHROUGH in flags2,
 * max_stack_depth 1) and the OPEN replies the open op marked with
 * pt_expect_open() (FOPEN_PASSTHROUGH, backing_id). Replies are matched by
 * request (unique and thread: every reply here is sent by the thread that
 * read the request), never by size or content. With libfuse >= 3.17 the
 * official API asks for the same things and nothing is patched.
 *
 * Either way passthrough is used only when it was negotiated and a probe
 * BACKING_OPEN right after INIT succeeded; that decides the mode for the
 * life of the mount. Constants are from the kernel's uapi <linux/fuse.h>
 * 7.40 (Debian 12's headers predate them).
 */
#ifndef VY_FS_PASSTHROUGH_H
#define VY_FS_PASSTHROUGH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fuse_ll.h"

struct pt {
	int fd;          /* the session's /dev/fuse descriptor */
	int stopfd;      /* eventfd, readable once stopping */
	int want;        /* 0 when the fallback is forced */
	int offered;     /* the kernel's INIT offered passthrough */
	int asked;       /* we asked for it in the INIT reply */
	/* Set once, before init_done is signalled; read-only after. */
	int active;      /* passthrough in use for memfd blobs */
	char why[160];   /* when not active: why not, for the log */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int init_done;   /* INIT answered and probed; lock */
};

/* want 0 forces the fallback. stopfd is the caller's. */
void pt_init(struct pt *p, int want, int stopfd);
void pt_release(struct pt *p);
/* The session I/O, on the mounted device descriptor fd. */
ssize_t pt_read(struct pt *p, int fd, void *buf, size_t len);
ssize_t pt_writev(struct pt *p, int fd, struct iovec *iov, int count);
/* From the init op: asks for passthrough where the API exists. */
void pt_conn_init(struct pt *p, struct fuse_conn_info *conn);
/* Waits up to ms for INIT to be answered; 0 or -ETIMEDOUT. */
int pt_wait_init(struct pt *p, int ms);

/* Registers fd as a backing file; the id (> 0) or -errno. */
int pt_backing_open(struct pt *p, int fd);
void pt_backing_close(struct pt *p, int id);
/* Marks the OPEN being answered on this thread for passthrough with id;
 * sets fi->backing_id where libfuse has it. */
void pt_expect_open(struct fuse_file_info *fi, int id);

#endif
