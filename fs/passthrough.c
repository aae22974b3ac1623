/*
 * passthrough: the session I/O hooks and FUSE passthrough (see the header
 * for the why). Layouts patched here are the kernel's (uapi fuse.h), which
 * only ever grows at the end:
 *   fuse_init_out: flags at byte 12, flags2 at 32, max_stack_depth at 36
 *   fuse_open_out: open_flags at byte 8, backing_id at 12
 */
#include <errno.h>
#include <linux/fuse.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "passthrough.h"
#include "banned.h"

/* uapi 7.40 */
#define PT_INIT_EXT (1u << 30)
#define PT_WRITEBACK_CACHE (1u << 16)
#define PT_FLAGS2_PASSTHROUGH (1u << 5) /* FUSE_PASSTHROUGH (1 << 37) */
#define PT_FOPEN_PASSTHROUGH (1u << 7)
#define PT_OP_OPEN 14
#define PT_OP_INIT 26

struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define PT_IOC_BACKING_OPEN _IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/* The request this thread read last, and what its reply needs. */
static __thread struct {
	uint64_t unique;
	uint32_t opcode;
	int backing;     /* OPEN: pass through with this id */
} cur;

void
pt_init(struct pt *p, int want, int stopfd)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->stopfd = stopfd;
	p->want = want;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	snprintf(p->why, sizeof(p->why), "%s", want ? "the kernel has not "
		 "answered INIT" : "forced by --fs-mode cached");
}

void
pt_release(struct pt *p)
{
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
}

static uint32_t
get32(const void *base, size_t off)
{
	uint32_t v;

	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

static void
put32(void *base, size_t off, uint32_t v)
{
	memcpy((char *)base + off, &v, sizeof(v));
}

ssize_t
pt_read(struct pt *p, int fd, void *buf, size_t len)
{
	struct pollfd pf[2];
	ssize_t n;

	for (;;) {
		pf[0].fd = fd;
		pf[0].events = POLLIN;
		pf[1].fd = p->stopfd;
		pf[1].events = POLLIN;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pf[1].revents) {
			/* libfuse takes ENODEV as "unmounted": it exits. */
			errno = ENODEV;
			return -1;
		}
		/* The descriptor is non-blocking: several threads poll it
		 * and only one gets each request. */
		n = read(fd, buf, len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		break;
	}
	if (n >= (ssize_t)sizeof(struct fuse_in_header)) {
		const struct fuse_in_header *in = buf;

		cur.unique = in->unique;
		cur.opcode = in->opcode;
		cur.backing = 0;
		if (in->opcode == PT_OP_INIT &&
		    (size_t)n >= sizeof(*in) + 20) {
			const char *a = (const char *)buf + sizeof(*in);
			uint32_t flags = get32(a, 12), flags2 = get32(a, 16);

			p->offered = (flags & PT_INIT_EXT) &&
				     (flags2 & PT_FLAGS2_PASSTHROUGH);
		}
	}
	return n;
}

/* Is registering a backing file allowed? Only after the INIT reply. */
static void
probe(struct pt *p, int fd)
{
	struct pt_backing_map map;
	int mfd, id;

	mfd = memfd_create("vineyard-probe", MFD_CLOEXEC);
	if (mfd < 0) {
		snprintf(p->why, sizeof(p->why), "memfd_create: %s",
			 strerror(errno));
		return;
	}
	memset(&map, 0, sizeof(map));
	map.fd = mfd;
	id = ioctl(fd, PT_IOC_BACKING_OPEN, &map);
	if (id > 0) {
		uint32_t u = (uint32_t)id;

		ioctl(fd, PT_IOC_BACKING_CLOSE, &u);
		p->why[0] = 0;
		__atomic_store_n(&p->active, 1, __ATOMIC_RELEASE);
	} else if (errno == EPERM) {
		snprintf(p->why, sizeof(p->why), "registering a backing file "
			 "was refused (needs CAP_SYS_ADMIN)");
	} else {
		snprintf(p->why, sizeof(p->why), "registering a backing file "
			 "failed: %s", strerror(errno));
	}
	close(mfd);
}

static void
init_answered(struct pt *p, int fd)
{
	if (!p->want) {
		/* why says it was forced */
	} else if (!p->offered) {
		snprintf(p->why, sizeof(p->why), "the kernel does not offer "
			 "FUSE passthrough (needs Linux 6.9 or later with "
			 "CONFIG_FUSE_PASSTHROUGH)");
	} else if (!p->asked) {
		snprintf(p->why, sizeof(p->why), "libfuse did not ask for "
			 "passthrough");
	} else {
		probe(p, fd);
	}
	pthread_mutex_lock(&p->lock);
	p->init_done = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

ssize_t
pt_writev(struct pt *p, int fd, struct iovec *iov, int count)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	struct iovec v[2];
	char arg[64];
	int is_init = 0;
	ssize_t n;

	if (count != 2 || out->unique == 0 || out->unique != cur.unique ||
	    out->error != 0)
		return writev(fd, iov, count);
	if (cur.opcode == PT_OP_INIT) {
		is_init = 1;
		if (!PT_OFFICIAL && p->want && p->offered &&
		    iov[1].iov_len >= 40 && iov[1].iov_len <= sizeof(arg)) {
			/* Patch a copy; libfuse's reply stays as it was. */
			memcpy(arg, iov[1].iov_base, iov[1].iov_len);
			put32(arg, 12, (get32(arg, 12) | PT_INIT_EXT) &
			      ~PT_WRITEBACK_CACHE);
			put32(arg, 32, get32(arg, 32) | PT_FLAGS2_PASSTHROUGH);
			put32(arg, 36, 1); /* max_stack_depth */
			v[0] = iov[0];
			v[1].iov_base = arg;
			v[1].iov_len = iov[1].iov_len;
			iov = v;
			p->asked = 1;
		}
	} else if (!PT_OFFICIAL && cur.opcode == PT_OP_OPEN &&
		   cur.backing > 0 && iov[1].iov_len == 16) {
		memcpy(arg, iov[1].iov_base, 16);
		put32(arg, 8, get32(arg, 8) | PT_FOPEN_PASSTHROUGH);
		put32(arg, 12, (uint32_t)cur.backing);
		v[0] = iov[0];
		v[1].iov_base = arg;
		v[1].iov_len = 16;
		iov = v;
		cur.backing = 0;
	}
	n = writev(fd, iov, count);
	if (is_init && n >= 0)
		init_answered(p, fd);
	return n;
}

void
pt_conn_init(struct pt *p, struct fuse_conn_info *conn)
{
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
#if PT_OFFICIAL
	if (p->want && (conn->capable_ext & FUSE_CAP_PASSTHROUGH)) {
		conn->max_backing_stack_depth = 0;
		p->asked = fuse_set_feature_flag(conn, FUSE_CAP_PASSTHROUGH);
	}
#else
	(void)p;
#endif
}

int
pt_wait_init(struct pt *p, int ms)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->init_done && rc == 0)
		rc = pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	rc = p->init_done ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int
pt_backing_open(struct pt *p, int fd)
{
	struct pt_backing_map map;
	int id;

	memset(&map, 0, sizeof(map));
	map.fd = fd;
	id = ioctl(p->fd, PT_IOC_BACKING_OPEN, &map);
	if (id > 0)
		return id;
	return id < 0 ? -errno : -EIO;
}

void
pt_backing_close(struct pt *p, int id)
{
	uint32_t u = (uint32_t)id;

	if (id > 0 && ioctl(p->fd, PT_IOC_BACKING_CLOSE, &u) < 0)
		log_warn("fs: closing backing file %d", id);
}

void
pt_expect_open(struct fuse_file_info *fi, int id)
{
#if PT_OFFICIAL
	fi->backing_id = id;
#else
	(void)fi;
	cur.backing = id;
#endif
}
