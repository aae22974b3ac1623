/*
 * persist: every path is relative to descriptors of DIR and DIR/objects,
 * so nothing is ever built from a name a user chose (file names come from
 * object ids only). Durability follows the usual recipe: write the temp
 * file, fsync it, rename it over the final name, fsync the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskfmt.h"
#include "log.h"
#include "meta.h"
#include "persist.h"
#include "xmalloc.h"
#include "banned.h"

#define FORMAT_FILE "format"
#define FORMAT_HEAD "vineyard data directory\nformat "
#define TMP_PREFIX ".tmp-"
#define WRITE_CHUNK (8u << 20)

struct persist {
	char *dir;
	int dfd;       /* DIR */
	int ofd;       /* DIR/objects */
	int qfd;       /* DIR/damaged */
	int lockfd;
	uint64_t tmpseq;
};

static __thread char persist_err[400];

static int
fail(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(persist_err, sizeof(persist_err), fmt, ap);
	va_end(ap);
	return rc;
}

const char *
persist_errmsg(void)
{
	return persist_err[0] ? persist_err : "unknown error";
}

const char *
persist_dir(const struct persist *p)
{
	return p->dir;
}

static const char *
ext_of(uint8_t kind)
{
	switch (kind) {
	case DISKFMT_BLOB: return "blob";
	case DISKFMT_OBJECT: return "obj";
	default: return "anchor";
	}
}

void
persist_name(uint8_t kind, uint64_t id, char *out, size_t len)
{
	char idbuf[META_ID_LEN];

	meta_id_format(id, idbuf);
	snprintf(out, len, "%s.%s", idbuf, ext_of(kind));
}

/* ---- opening ---- */

static int
mkdir_p(const char *path)
{
	char *tmp = xstrdup(path), *s;
	int rc = 0;

	for (s = tmp + 1; ; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;

			*s = 0;
			if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
				rc = -errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(tmp);
	return rc;
}

/* Reads DIR/format, or writes it into a directory that has none. */
static int
check_format(struct persist *p, char *err, size_t errlen)
{
	char buf[128];
	ssize_t n;
	int fd = openat(p->dfd, FORMAT_FILE, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		char line[64];
		int k = snprintf(line, sizeof(line), FORMAT_HEAD "%d\n",
				 DISKFMT_VERSION);

		fd = openat(p->dfd, ".tmp-format", O_WRONLY | O_CREAT |
			    O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, line, (size_t)k) != k || fsync(fd) < 0 ||
		    renameat(p->dfd, ".tmp-format", p->dfd, FORMAT_FILE) < 0)
			goto syserr;
		close(fd);
		fsync(p->dfd);
		return 0;
	}
	if (fd < 0)
		goto syserr;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		goto syserr;
	buf[n] = 0;
	if (strncmp(buf, FORMAT_HEAD, strlen(FORMAT_HEAD)) != 0) {
		snprintf(err, errlen, "%s/%s does not describe a vineyard data "
			 "directory; pick another with --data-dir DIR", p->dir,
			 FORMAT_FILE);
		return -EINVAL;
	}
	if (atoi(buf + strlen(FORMAT_HEAD)) != DISKFMT_VERSION) {
		snprintf(err, errlen, "data directory %s has format %d; this "
			 "vineyardd reads format %d", p->dir,
			 atoi(buf + strlen(FORMAT_HEAD)), DISKFMT_VERSION);
		return -EPROTONOSUPPORT;
	}
	return 0;
syserr:
	n = errno;
	if (fd >= 0)
		close(fd);
	snprintf(err, errlen, "data directory %s is not usable: %s: %s; pick "
		 "another with --data-dir DIR", p->dir, FORMAT_FILE,
		 strerror((int)n));
	return -(int)n;
}

static int
open_sub(struct persist *p, const char *name, int *fd, char *err,
	 size_t errlen)
{
	if (mkdirat(p->dfd, name, 0700) < 0 && errno != EEXIST)
		goto syserr;
	*fd = openat(p->dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		goto syserr;
	return 0;
syserr:
	snprintf(err, errlen, "data directory %s is not usable: %s/: %s; pick "
		 "another with --data-dir DIR", p->dir, name, strerror(errno));
	return -errno;
}

static int
take_lock(struct persist *p, char *err, size_t errlen)
{
	p->lockfd = openat(p->dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (p->lockfd < 0) {
		snprintf(err, errlen, "data directory %s is not writable: %s; "
			 "pick another with --data-dir DIR", p->dir,
			 strerror(errno));
		return -errno;
	}
	if (flock(p->lockfd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(p->lockfd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		snprintf(err, errlen, "data directory %s is in use by another "
			 "vineyardd%s%s%s; give each daemon its own --data-dir",
			 p->dir, pid[0] ? " (pid " : "", pid,
			 pid[0] ? ")" : "");
		return -EBUSY;
	}
	persist_note_pid(p);
	return 0;
}

void
persist_note_pid(struct persist *p)
{
	char pid[32];
	int k = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	if (ftruncate(p->lockfd, 0) < 0 ||
	    pwrite(p->lockfd, pid, (size_t)k, 0) != k) {
		/* informative only */
	}
}

/* A real write: permissions, read-only mounts and full disks show here
 * rather than at the first persist. */
static int
probe_write(struct persist *p, char *err, size_t errlen)
{
	static const char probe[] = TMP_PREFIX "probe";
	int fd = openat(p->ofd, probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);

	if (fd < 0) {
		snprintf(err, errlen, "data directory %s is not writable: %s; "
			 "pick another with --data-dir DIR", p->dir,
			 strerror(errno));
		return -errno;
	}
	close(fd);
	unlinkat(p->ofd, probe, 0);
	return 0;
}

int
persist_open(const char *dir, struct persist **out, char *err, size_t errlen)
{
	struct persist *p;
	struct stat st;
	int rc;

	*out = NULL;
	if (!dir || !*dir) {
		snprintf(err, errlen, "--data-dir needs a directory");
		return -EINVAL;
	}
	p = xcalloc(1, sizeof(*p));
	p->dfd = p->ofd = p->qfd = p->lockfd = -1;
	p->dir = xstrdup(dir);
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "data directory %s is not a directory; "
			 "pick another with --data-dir DIR", dir);
		rc = -ENOTDIR;
		goto fail;
	}
	rc = mkdir_p(dir);
	if (rc) {
		snprintf(err, errlen, "cannot create data directory %s: %s; "
			 "pick another with --data-dir DIR", dir,
			 strerror(-rc));
		goto fail;
	}
	p->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open data directory %s: %s; pick "
			 "another with --data-dir DIR", dir, strerror(errno));
		goto fail;
	}
	if ((rc = take_lock(p, err, errlen)) ||
	    (rc = check_format(p, err, errlen)) ||
	    (rc = open_sub(p, "objects", &p->ofd, err, errlen)) ||
	    (rc = open_sub(p, "damaged", &p->qfd, err, errlen)) ||
	    (rc = probe_write(p, err, errlen)))
		goto fail;
	fsync(p->dfd);
	*out = p;
	return 0;
fail:
	persist_close(p);
	return rc;
}

void
persist_close(struct persist *p)
{
	if (!p)
		return;
	if (p->ofd >= 0)
		close(p->ofd);
	if (p->qfd >= 0)
		close(p->qfd);
	if (p->dfd >= 0)
		close(p->dfd);
	if (p->lockfd >= 0)
		close(p->lockfd);
	free(p->dir);
	free(p);
}

/* ---- writing ---- */

static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	while (len) {
		ssize_t n = write(fd, b, len > WRITE_CHUNK ? WRITE_CHUNK : len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
file_begin(struct persist *p, uint8_t kind, uint64_t id, int oflags,
	   struct persist_file *f)
{
	char name[40];

	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->id = id;
	persist_name(kind, id, name, sizeof(name));
	snprintf(f->tmp, sizeof(f->tmp), TMP_PREFIX "%" PRIu64 "-%s",
		 ++p->tmpseq, name);
	f->fd = openat(p->ofd, f->tmp, O_WRONLY | O_CREAT | O_EXCL |
		       O_CLOEXEC | oflags, 0600);
	if (f->fd < 0 && errno == EINVAL && oflags) /* no O_DIRECT here */
		f->fd = openat(p->ofd, f->tmp, O_WRONLY | O_CREAT | O_EXCL |
			       O_CLOEXEC, 0600);
	if (f->fd < 0)
		return fail(-errno, "creating %s/objects/%s: %s", p->dir,
			    f->tmp, strerror(errno));
	return 0;
}

static int
write_error(struct persist *p, struct persist_file *f, int rc)
{
	char name[40];

	persist_name(f->kind, f->id, name, sizeof(name));
	persist_discard(p, f);
	if (rc == -ECANCELED)
		return fail(rc, "stopped while writing %s", name);
	return fail(rc, "writing %s/objects/%s: %s", p->dir, name,
		    strerror(-rc));
}

/* Writeback is started every this many bytes, so the disk works while
 * the rest is compressed and the final fsync has little left to wait for
 * (compressing then syncing a gigabyte one after the other is what `lz4`
 * and `sync` do). Buffered files only. */
#ifndef KICK_BYTES
#define KICK_BYTES (16u << 20)
#endif

/* Blob files of DIO_MIN raw bytes and more are written with O_DIRECT
 * through an aligned staging buffer. The store keeps the bytes in memory,
 * so a page-cache copy would only double the footprint, and filling a
 * gigabyte of fresh page cache costs more than the disk on machines where
 * page faults are slow (a VM here: 1.3-3 s per GiB against 0.6-1.1 s for
 * the direct writes). Where O_DIRECT is refused (tmpfs, odd alignment) the
 * file is written through the page cache instead. */
#define DIO_MIN (1u << 20)
#define DIO_ALIGN 4096u
#define DIO_STAGE (4u << 20)

struct blob_out {
	int fd;
	const volatile int *cancel;
	uint64_t written;   /* bytes of the file so far */
	uint64_t kicked;    /* of which writeback was started for */
	/* O_DIRECT state; stage is NULL for a buffered file. */
	uint8_t *stage;     /* DIO_STAGE bytes at file offset stage_off */
	uint8_t *first;     /* DIO_ALIGN bytes: the file's first block */
	size_t fill;
	uint64_t stage_off;
};

static int
pwrite_all(int fd, const uint8_t *b, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, b, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static void
direct_off(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && (fl & O_DIRECT))
		fcntl(fd, F_SETFL, fl & ~O_DIRECT);
}

/* Writes len bytes of the stage (a multiple of DIO_ALIGN unless O_DIRECT
 * is already off) at off; a filesystem that refuses the direct write gets
 * it, and the rest of the file, through the page cache. */
static int
direct_write(struct blob_out *o, const uint8_t *b, size_t len, uint64_t off)
{
	int rc = pwrite_all(o->fd, b, len, off);

	if (rc == -EINVAL) {
		direct_off(o->fd);
		rc = pwrite_all(o->fd, b, len, off);
	}
	return rc;
}

static int
stage_flush(struct blob_out *o)
{
	int rc;

	if (o->stage_off == 0)
		memcpy(o->first, o->stage, DIO_ALIGN);
	rc = direct_write(o, o->stage, o->fill, o->stage_off);
	o->stage_off += o->fill;
	o->fill = 0;
	return rc;
}

static int
blob_out(void *ctx, const void *buf, size_t len)
{
	struct blob_out *o = ctx;
	const uint8_t *b = buf;
	int rc;

	if (o->cancel && *o->cancel)
		return -ECANCELED;
	if (o->stage) {
		while (len) {
			size_t k = DIO_STAGE - o->fill;

			if (k > len)
				k = len;
			memcpy(o->stage + o->fill, b, k);
			o->fill += k;
			b += k;
			len -= k;
			if (o->fill == DIO_STAGE && (rc = stage_flush(o)))
				return rc;
		}
		return 0;
	}
	rc = write_all(o->fd, buf, len);
	if (rc)
		return rc;
	o->written += len;
	if (o->written - o->kicked >= KICK_BYTES) {
		/* Only a hint: errors show at fsync. */
		sync_file_range(o->fd, (off_t)o->kicked,
				(off_t)(o->written - o->kicked),
				SYNC_FILE_RANGE_WRITE);
		o->kicked = o->written;
	}
	return 0;
}

/* The end of a direct file: its whole blocks direct, the tail through the
 * page cache, then the header, which is known only now, into block 0. */
static int
direct_finish(struct blob_out *o, const uint8_t *hdr)
{
	size_t whole = o->fill & ~(size_t)(DIO_ALIGN - 1);
	int rc = 0;

	if (o->stage_off == 0)
		memcpy(o->stage, hdr, DISKFMT_HDR_LEN);
	if (whole)
		rc = direct_write(o, o->stage, whole, o->stage_off);
	direct_off(o->fd);
	if (rc == 0 && o->fill > whole)
		rc = pwrite_all(o->fd, o->stage + whole, o->fill - whole,
				o->stage_off + whole);
	if (rc == 0 && o->stage_off) {
		memcpy(o->first, hdr, DISKFMT_HDR_LEN);
		rc = pwrite_all(o->fd, o->first, DIO_ALIGN, 0);
	}
	return rc;
}

struct fd_in {
	int fd;
	off_t off;
};

static ssize_t
fd_in(void *ctx, void *buf, size_t cap)
{
	struct fd_in *fi = ctx;
	ssize_t n;

	do
		n = pread(fi->fd, buf, cap, fi->off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	fi->off += n;
	return n;
}

int
persist_write_blob(struct persist *p, uint64_t id, uint16_t flags, int srcfd,
		   const void *src, size_t len, int level,
		   const volatile int *cancel, struct persist_file *f)
{
	struct fd_in fi = { srcfd, 0 };
	uint8_t hdr[DISKFMT_HDR_LEN] = { 0 };
	struct diskfmt_hdr h;
	struct blob_out o;
	uint64_t body = 0;
	void *mem = NULL;
	int rc, fl;

	memset(&o, 0, sizeof(o));
	if (len >= DIO_MIN &&
	    posix_memalign(&mem, DIO_ALIGN, DIO_STAGE + DIO_ALIGN) != 0)
		mem = NULL; /* buffered then */
	rc = file_begin(p, DISKFMT_BLOB, id, mem ? O_DIRECT : 0, f);
	if (rc) {
		free(mem);
		return rc;
	}
	fl = fcntl(f->fd, F_GETFL);
	if (mem && fl >= 0 && (fl & O_DIRECT)) {
		o.stage = mem;
		o.first = o.stage + DIO_STAGE;
		/* The header's place; it is written last. */
		memset(o.stage, 0, DISKFMT_HDR_LEN);
		o.fill = DISKFMT_HDR_LEN;
	}
	o.fd = f->fd;
	o.cancel = cancel;
	o.written = o.kicked = DISKFMT_HDR_LEN;
	/* The header follows the body: its length is known only then. */
	if (!o.stage)
		rc = write_all(f->fd, hdr, sizeof(hdr));
	if (rc == 0)
		rc = srcfd >= 0 ?
		     diskfmt_blob_encode(fd_in, &fi, len, level, blob_out, &o,
					 &body) :
		     diskfmt_blob_encode_mem(src, len, level, blob_out, &o,
					     &body);
	if (rc == 0) {
		memset(&h, 0, sizeof(h));
		h.version = DISKFMT_VERSION;
		h.kind = DISKFMT_BLOB;
		h.flags = flags;
		h.id = id;
		h.raw_len = len;
		h.body_len = body;
		diskfmt_hdr_pack(&h, hdr);
		if (o.stage)
			rc = direct_finish(&o, hdr);
		else if (pwrite(f->fd, hdr, sizeof(hdr), 0) != sizeof(hdr))
			rc = errno ? -errno : -EIO;
	}
	free(mem);
	if (rc)
		return write_error(p, f, rc);
	f->len = DISKFMT_HDR_LEN + body;
	return 0;
}

int
persist_write_record(struct persist *p, uint8_t kind, uint64_t id,
		     const void *buf, size_t len, struct persist_file *f)
{
	int rc = file_begin(p, kind, id, 0, f);

	if (rc)
		return rc;
	rc = write_all(f->fd, buf, len);
	if (rc)
		return write_error(p, f, rc);
	f->len = len;
	return 0;
}

int
persist_sync(struct persist *p, struct persist_file *f)
{
	if (fsync(f->fd) < 0)
		return write_error(p, f, -errno);
	/* Clean now: the store keeps the bytes in memory, so the page
	 * cache copy would only double the footprint. The first page (the
	 * header, and all of a small file) stays for a quick restart. */
	posix_fadvise(f->fd, 4096, 0, POSIX_FADV_DONTNEED);
	close(f->fd);
	f->fd = -1;
	return 0;
}

int
persist_commit(struct persist *p, struct persist_file *f)
{
	char name[40];

	persist_name(f->kind, f->id, name, sizeof(name));
	if (renameat(p->ofd, f->tmp, p->ofd, name) < 0) {
		int rc = -errno;

		persist_discard(p, f);
		return fail(rc, "renaming %s/objects/%s: %s", p->dir, name,
			    strerror(-rc));
	}
	f->tmp[0] = 0;
	return 0;
}

void
persist_discard(struct persist *p, struct persist_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->tmp[0])
		unlinkat(p->ofd, f->tmp, 0);
	f->tmp[0] = 0;
}

int
persist_sync_dir(struct persist *p)
{
	if (fsync(p->ofd) < 0)
		return fail(-errno, "syncing %s/objects: %s", p->dir,
			    strerror(errno));
	return 0;
}

int
persist_remove(struct persist *p, uint8_t kind, uint64_t id)
{
	char name[40];

	persist_name(kind, id, name, sizeof(name));
	if (unlinkat(p->ofd, name, 0) < 0 && errno != ENOENT)
		return fail(-errno, "removing %s/objects/%s: %s", p->dir, name,
			    strerror(errno));
	return 0;
}

static void
quarantine_name(struct persist *p, const char *name, const char *why)
{
	char dst[300];
	int i;

	snprintf(dst, sizeof(dst), "%s", name);
	for (i = 1; i < 1000 && faccessat(p->qfd, dst, F_OK,
					  AT_SYMLINK_NOFOLLOW) == 0; i++)
		snprintf(dst, sizeof(dst), "%s~%d", name, i);
	if (renameat(p->ofd, name, p->qfd, dst) < 0) {
		if (errno != ENOENT)
			log_warn("persist: %s/objects/%s: %s; cannot move it "
				 "aside", p->dir, name, why);
		return;
	}
	fsync(p->qfd);
	fsync(p->ofd);
	log_warnx("persist: %s/objects/%s: %s; moved to %s/damaged/%s", p->dir,
		  name, why, p->dir, dst);
}

void
persist_quarantine(struct persist *p, uint8_t kind, uint64_t id,
		   const char *why)
{
	char name[40];

	persist_name(kind, id, name, sizeof(name));
	quarantine_name(p, name, why);
}

/* ---- reading ---- */

/* "o<16 hex>.<ext>": kind and id, or 0. */
static int
parse_name(const char *name, uint8_t *kind, uint64_t *id)
{
	char idbuf[META_ID_LEN];
	const char *dot = strchr(name, '.');

	if (!dot || dot - name != META_ID_LEN - 1)
		return 0;
	memcpy(idbuf, name, META_ID_LEN - 1);
	idbuf[META_ID_LEN - 1] = 0;
	if (meta_id_parse(idbuf, id) || *id == 0)
		return 0;
	if (strcmp(dot + 1, "blob") == 0)
		*kind = DISKFMT_BLOB;
	else if (strcmp(dot + 1, "obj") == 0)
		*kind = DISKFMT_OBJECT;
	else if (strcmp(dot + 1, "anchor") == 0)
		*kind = DISKFMT_ANCHOR;
	else
		return 0;
	return 1;
}

static ssize_t
read_full(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *b = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, b + got, len - got, off + (off_t)got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Checks one file; 0 and e (body malloc'd into *body), or a reason. */
static const char *
scan_one(struct persist *p, const char *name, uint8_t kind, uint64_t id,
	 struct persist_entry *e, uint8_t **body, int *newer)
{
	uint8_t hdr[DISKFMT_HDR_LEN];
	const char *why;
	struct stat st;
	ssize_t n;
	int fd, rc;

	*body = NULL;
	fd = openat(p->ofd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return "cannot be opened";
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return "not a regular file";
	}
	n = read_full(fd, hdr, sizeof(hdr), 0);
	if (n < 0) {
		close(fd);
		return "read error";
	}
	rc = diskfmt_hdr_parse(hdr, (size_t)n, (uint64_t)st.st_size, &e->hdr,
			       &why);
	if (rc) {
		close(fd);
		*newer = rc == -EPROTONOSUPPORT;
		return why;
	}
	if (e->hdr.kind != kind || e->hdr.id != id) {
		close(fd);
		return "header does not match the file name";
	}
	e->file_len = (uint64_t)st.st_size;
	e->body = NULL;
	/* Records always (their size is bounded by the header check);
	 * blobs when small. */
	if (kind != DISKFMT_BLOB || e->file_len <= PERSIST_READ_WHOLE) {
		size_t blen = (size_t)e->hdr.body_len;

		*body = xmalloc(blen ? blen : 1);
		n = read_full(fd, *body, blen, DISKFMT_HDR_LEN);
		if (n != (ssize_t)blen) {
			close(fd);
			free(*body);
			*body = NULL;
			return n < 0 ? "read error" : "truncated body";
		}
		e->body = *body;
	}
	close(fd);
	return NULL;
}

/* Scanning reads one header per file; on a cold page cache that is one
 * disk read each, so a pool of threads keeps many in flight (the store's
 * callback still runs on the caller's thread, in readdir order). */
#define SCAN_THREADS 16
#define SCAN_BATCH 4096

struct scan_item {
	char name[32];      /* ours are "o" + 16 hex + ".anchor" */
	uint8_t kind;
	uint64_t id;
	struct persist_entry e;
	uint8_t *body;
	const char *why;
	int newer;
};

struct scan_batch {
	struct persist *p;
	struct scan_item *v;
	size_t n;
	size_t next;        /* next item to take; atomic */
};

static void *
scan_worker(void *arg)
{
	struct scan_batch *b = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED)) < b->n) {
		struct scan_item *it = &b->v[i];

		it->why = scan_one(b->p, it->name, it->kind, it->id, &it->e,
				   &it->body, &it->newer);
	}
	return NULL;
}

static void
scan_batch(struct scan_batch *b)
{
	pthread_t t[SCAN_THREADS];
	size_t k, nt = b->n / 64 + 1;

	if (nt > SCAN_THREADS)
		nt = SCAN_THREADS;
	b->next = 0;
	for (k = 1; k < nt; k++)
		if (pthread_create(&t[k], NULL, scan_worker, b))
			break;
	nt = k;
	scan_worker(b);
	for (k = 1; k < nt; k++)
		pthread_join(t[k], NULL);
}

int
persist_scan(struct persist *p, persist_scan_fn fn, void *ctx,
	     struct persist_scan_stats *st)
{
	struct scan_item *v = NULL;
	struct dirent *de;
	size_t n = 0, cap = 0, i, j;
	DIR *d;
	int fd = fcntl(p->ofd, F_DUPFD_CLOEXEC, 3);

	memset(st, 0, sizeof(*st));
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return fail(-errno, "reading %s/objects: %s", p->dir,
			    strerror(errno));
	}
	/* All names first: the directory changes below (temp files go,
	 * damaged files move). */
	rewinddir(d);
	while ((de = readdir(d))) {
		uint8_t kind;
		uint64_t id;

		if (de->d_name[0] == '.' && (!de->d_name[1] ||
		    (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
			/* A crash in the middle of a write. */
			if (unlinkat(p->ofd, de->d_name, 0) == 0)
				st->temps++;
			continue;
		}
		if (strlen(de->d_name) >= sizeof(v->name) ||
		    !parse_name(de->d_name, &kind, &id)) {
			log_warnx("persist: %s/objects/%s: not a vineyard "
				  "file name; left alone", p->dir, de->d_name);
			st->strays++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n].kind = kind;
		v[n].id = id;
		n++;
	}
	closedir(d);
	for (i = 0; i < n; i += SCAN_BATCH) {
		struct scan_batch b = { p, v + i, n - i < SCAN_BATCH ? n - i :
					SCAN_BATCH, 0 };

		scan_batch(&b);
		for (j = 0; j < b.n; j++) {
			struct scan_item *it = &b.v[j];
			const char *why = it->why;

			if (!why)
				why = fn(ctx, &it->e);
			free(it->body);
			if (why) {
				quarantine_name(p, it->name, why);
				st->damaged++;
				st->newer += it->newer;
			} else {
				st->files++;
			}
		}
	}
	free(v);
	if (st->temps) {
		log_info("persist: removed %" PRIu64 " temp file%s left by an "
			 "interrupted write", st->temps,
			 st->temps == 1 ? "" : "s");
		fsync(p->ofd);
	}
	return 0;
}

struct file_in {
	int fd;
	off_t off;
};

static ssize_t
file_in(void *ctx, void *buf, size_t cap)
{
	struct file_in *fi = ctx;
	ssize_t n = read_full(fi->fd, buf, cap, fi->off);

	if (n > 0)
		fi->off += n;
	return n;
}

struct load_out {
	int fd;        /* write here at off, or */
	uint8_t *p;    /* copy here */
	off_t off;
};

static int
load_out(void *ctx, const void *buf, size_t len)
{
	struct load_out *o = ctx;
	const uint8_t *b = buf;

	if (o->fd < 0) {
		memcpy(o->p + o->off, buf, len);
		o->off += (off_t)len;
		return 0;
	}
	while (len) {
		ssize_t n = pwrite(o->fd, b, len, o->off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		len -= (size_t)n;
		o->off += n;
	}
	return 0;
}

int
persist_load_blob(struct persist *p, uint64_t id, int dstfd, void *dst,
		  uint64_t len, const char **why)
{
	struct load_out lo = { dstfd, dst, 0 };
	uint8_t hdr[DISKFMT_HDR_LEN];
	struct diskfmt_hdr h;
	struct file_in fi;
	struct stat st;
	char name[40];
	ssize_t n;
	int rc;

	*why = NULL;
	persist_name(DISKFMT_BLOB, id, name, sizeof(name));
	fi.fd = openat(p->ofd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fi.fd < 0)
		return fail(-errno, "opening %s/objects/%s: %s", p->dir, name,
			    strerror(errno));
	posix_fadvise(fi.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (fstat(fi.fd, &st) < 0 ||
	    (n = read_full(fi.fd, hdr, sizeof(hdr), 0)) < 0) {
		rc = fail(-errno, "reading %s/objects/%s: %s", p->dir, name,
			  strerror(errno));
		goto out;
	}
	rc = diskfmt_hdr_parse(hdr, (size_t)n, (uint64_t)st.st_size, &h, why);
	if (rc == 0 && (h.kind != DISKFMT_BLOB || h.id != id ||
			h.raw_len != len)) {
		*why = "file no longer matches what was restored";
		rc = -EBADMSG;
	}
	if (rc == 0) {
		fi.off = DISKFMT_HDR_LEN;
		rc = diskfmt_blob_decode(file_in, &fi, h.body_len, len,
					 load_out, &lo, why);
	}
	if (rc == -EBADMSG || rc == -EPROTONOSUPPORT)
		rc = fail(-EBADMSG, "%s/objects/%s is damaged: %s", p->dir,
			  name, *why ? *why : "bad data");
	else if (rc)
		rc = fail(rc, "reading %s/objects/%s: %s", p->dir, name,
			  strerror(-rc));
	/* The bytes now live in the store's memory. */
	posix_fadvise(fi.fd, 4096, 0, POSIX_FADV_DONTNEED);
out:
	close(fi.fd);
	return rc;
}
