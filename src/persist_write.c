/*
 * persist_write: writing files of DIR/objects atomically: temp file,
 * fsync, rename, then one fsync of the directory for a batch; blob files
 * through O_DIRECT where the file system takes it; removal and quarantine.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist_int.h"
#include "banned.h"

/* ---- writing ---- */

int
persist_write_all(int fd, const void *buf, size_t len)
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

/* Creates f's temp file for f->name. */
static int
file_open(struct persist *p, int oflags, struct persist_file *f)
{
	snprintf(f->tmp, sizeof(f->tmp), TMP_PREFIX "%" PRIu64 "-%s",
		 __atomic_add_fetch(&p->tmpseq, 1, __ATOMIC_RELAXED), f->name);
	f->fd = openat(p->ofd, f->tmp, O_WRONLY | O_CREAT | O_EXCL |
		       O_CLOEXEC | oflags, 0600);
	if (f->fd < 0 && errno == EINVAL && oflags) /* no O_DIRECT here */
		f->fd = openat(p->ofd, f->tmp, O_WRONLY | O_CREAT | O_EXCL |
			       O_CLOEXEC, 0600);
	if (f->fd < 0)
		return persist_fail(-errno, "creating %s/objects/%s: %s",
				    p->dir, f->tmp, strerror(errno));
	return 0;
}

static int
file_begin(struct persist *p, uint8_t kind, uint64_t id, int oflags,
	   struct persist_file *f)
{
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->id = id;
	persist_name(kind, id, f->name, sizeof(f->name));
	return file_open(p, oflags, f);
}

static int
write_error(struct persist *p, struct persist_file *f, int rc)
{
	persist_discard(p, f);
	if (rc == -ECANCELED)
		return persist_fail(rc, "stopped while writing %s", f->name);
	return persist_fail(rc, "writing %s/objects/%s: %s", p->dir, f->name,
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
/* Blob files of up to this many raw bytes are built in memory and written
 * with one write(): for many small objects the syscalls were the cost. */
#define SMALL_FILE (64u << 10)
#define DIO_ALIGN 4096u
#define DIO_STAGE (4u << 20)

struct blob_out {
	int fd;
	const volatile int *cancel;
	uint64_t written;   /* bytes of the file so far */
	uint64_t kicked;    /* of which writeback was started for */
	/* A small file is built in memory and written with one write:
	 * mbuf != NULL, mlen bytes of mcap. */
	uint8_t *mbuf;
	size_t mlen, mcap;
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
	if (o->mbuf) {
		if (o->mcap - o->mlen < len) {
			o->mcap = (o->mlen + len) * 2;
			o->mbuf = xrealloc(o->mbuf, o->mcap);
		}
		memcpy(o->mbuf + o->mlen, b, len);
		o->mlen += len;
		return 0;
	}
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
	rc = persist_write_all(o->fd, buf, len);
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

/* A blob file's header: len raw bytes, body bytes of LZ4 frame after it. */
static void
blob_hdr(uint64_t id, uint16_t flags, const struct diskfmt_owner *owner,
	 uint64_t len, uint64_t body, uint8_t *out)
{
	struct diskfmt_hdr h;

	memset(&h, 0, sizeof(h));
	h.version = DISKFMT_VERSION;
	h.kind = DISKFMT_BLOB;
	h.flags = flags;
	h.id = id;
	h.raw_len = len;
	h.body_len = body;
	h.owner = *owner;
	diskfmt_hdr_pack(&h, out);
}

int
persist_write_blob(struct persist *p, uint64_t id, uint16_t flags,
		   const struct diskfmt_owner *owner, int srcfd,
		   const void *src, size_t len, int level,
		   const volatile int *cancel, struct persist_file *f)
{
	struct fd_in fi = { srcfd, 0 };
	uint8_t hdr[DISKFMT_HDR_LEN] = { 0 };
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
	fl = mem ? fcntl(f->fd, F_GETFL) : 0;
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
	if (!o.stage && len <= SMALL_FILE) {
		o.mcap = DISKFMT_HDR_LEN + len + 64;
		o.mbuf = xmalloc(o.mcap);
		o.mlen = DISKFMT_HDR_LEN;
	} else if (!o.stage) {
		rc = persist_write_all(f->fd, hdr, sizeof(hdr));
	}
	if (rc == 0)
		rc = srcfd >= 0 ?
		     diskfmt_blob_encode(fd_in, &fi, len, level, blob_out, &o,
					 &body) :
		     diskfmt_blob_encode_mem(src, len, level, blob_out, &o,
					     &body);
	if (rc == 0) {
		blob_hdr(id, flags, owner, len, body, hdr);
		if (o.mbuf) {
			memcpy(o.mbuf, hdr, sizeof(hdr));
			rc = persist_write_all(f->fd, o.mbuf, o.mlen);
		} else if (o.stage)
			rc = direct_finish(&o, hdr);
		else if (pwrite(f->fd, hdr, sizeof(hdr), 0) != sizeof(hdr))
			rc = errno ? -errno : -EIO;
	}
	free(mem);
	free(o.mbuf);
	if (rc)
		return write_error(p, f, rc);
	f->len = DISKFMT_HDR_LEN + body;
	return 0;
}

int
persist_blob_image(uint64_t id, uint16_t flags,
		   const struct diskfmt_owner *owner, const void *src,
		   size_t len, int level, uint8_t **out, size_t *outlen)
{
	struct blob_out o;
	uint64_t body = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	o.fd = -1;
	o.mcap = DISKFMT_HDR_LEN + len + 64;
	o.mbuf = xmalloc(o.mcap);
	o.mlen = DISKFMT_HDR_LEN;
	rc = diskfmt_blob_encode_mem(src, len, level, blob_out, &o, &body);
	if (rc) {
		free(o.mbuf);
		return persist_fail(rc, "encoding blob %016" PRIx64 ": %s", id,
				    strerror(-rc));
	}
	blob_hdr(id, flags, owner, len, body, o.mbuf);
	*out = o.mbuf;
	*outlen = o.mlen;
	return 0;
}

/* The whole of f from buf, after file_begin or file_open. */
static int
file_fill(struct persist *p, struct persist_file *f, const void *buf,
	  size_t len)
{
	int rc = persist_write_all(f->fd, buf, len);

	if (rc)
		return write_error(p, f, rc);
	f->len = len;
	return 0;
}

int
persist_write_record(struct persist *p, uint8_t kind, uint64_t id,
		     const void *buf, size_t len, struct persist_file *f)
{
	int rc = file_begin(p, kind, id, 0, f);

	return rc ? rc : file_fill(p, f, buf, len);
}

int
persist_write_named(struct persist *p, const char *name, const void *buf,
		    size_t len, struct persist_file *f)
{
	int rc;

	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	rc = file_open(p, 0, f);
	return rc ? rc : file_fill(p, f, buf, len);
}

/* One barrier for a whole group of files written but not yet synced:
 * syncfs writes back every dirty inode of the data directory's file system
 * and commits the journal once (and, since Linux 5.8, reports a writeback
 * error of any of them). Measured here: 128 small files in ~22 ms, against
 * ~500 ms for an fsync of each. Each file is then closed with
 * persist_sync_done(). */
int
persist_sync_group(struct persist *p)
{
	if (syncfs(p->ofd) < 0)
		return persist_fail(-errno, "syncing %s: %s", p->dir,
				    strerror(errno));
	return 0;
}

/* Closes f after persist_sync_group() made it durable. */
int
persist_sync_done(struct persist *p, struct persist_file *f)
{
	/* a file of one page has nothing past it: no call (a group of
	 * small objects is a syscall per file fewer) */
	if (f->len > 4096)
		posix_fadvise(f->fd, 4096, 0, POSIX_FADV_DONTNEED);
	return persist_close_file(p, f);
}

int
persist_rewrite_owner(struct persist *p, uint8_t kind, uint64_t id,
		      const struct diskfmt_owner *owner,
		      struct persist_file *f)
{
	uint8_t hdr[DISKFMT_HDR_MAX], *buf = NULL;
	struct diskfmt_hdr h;
	const char *why;
	struct stat st;
	char name[40];
	loff_t in, out;
	uint64_t left;
	ssize_t n;
	int fd, rc;

	if ((rc = persist_log_unpack(p, kind, id)))
		return rc;
	persist_name(kind, id, name, sizeof(name));
	fd = openat(p->ofd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return persist_fail(-errno, "opening %s/objects/%s: %s", p->dir, name,
			    strerror(errno));
	n = fstat(fd, &st) < 0 ? -errno : persist_read_full(fd, hdr, sizeof(hdr), 0);
	if (n < 0) {
		rc = persist_fail((int)n, "reading %s/objects/%s: %s", p->dir, name,
			  strerror((int)-n));
		close(fd);
		return rc;
	}
	rc = diskfmt_hdr_parse(hdr, (size_t)n, (uint64_t)st.st_size, &h, &why);
	if (rc == 0 && (h.kind != kind || h.id != id))
		why = "header does not match the file name", rc = -EBADMSG;
	if (rc) {
		close(fd);
		return persist_fail(-EBADMSG, "%s/objects/%s is damaged: %s", p->dir,
			    name, why);
	}
	in = h.hdr_len;
	h.version = DISKFMT_VERSION;
	h.owner = *owner;
	diskfmt_hdr_pack(&h, hdr);
	rc = file_begin(p, kind, id, 0, f);
	if (rc) {
		close(fd);
		return rc;
	}
	rc = persist_write_all(f->fd, hdr, DISKFMT_HDR_LEN);
	/* The body as it is: copy_file_range shares the blocks where the
	 * filesystem can, else the kernel copies without a trip through
	 * here; a plain copy where it cannot. */
	out = DISKFMT_HDR_LEN;
	left = h.body_len;
	while (rc == 0 && left) {
		size_t step = left > WRITE_CHUNK ? WRITE_CHUNK : (size_t)left;

		n = buf ? -1 : copy_file_range(fd, &in, f->fd, &out, step, 0);
		if (n < 0 && !buf && errno != EXDEV && errno != ENOSYS &&
		    errno != EOPNOTSUPP && errno != EINVAL) {
			rc = -errno;
			break;
		}
		if (n < 0) {
			if (!buf && !(buf = malloc(WRITE_CHUNK))) {
				rc = -ENOMEM;
				break;
			}
			n = persist_read_full(fd, buf, step, in);
			if (n < 0) {
				rc = (int)n;
				break;
			}
			if (n > 0 && (rc = pwrite_all(f->fd, buf, (size_t)n,
						      (uint64_t)out)))
				break;
			in += n;
			out += n;
		}
		if (n == 0)
			rc = -EIO; /* the file shrank under us */
		else
			left -= (uint64_t)n;
	}
	free(buf);
	close(fd);
	if (rc)
		return write_error(p, f, rc);
	f->len = DISKFMT_HDR_LEN + h.body_len;
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
	if (f->len > 4096)
		posix_fadvise(f->fd, 4096, 0, POSIX_FADV_DONTNEED);
	close(f->fd);
	f->fd = -1;
	return 0;
}

int
persist_close_file(struct persist *p, struct persist_file *f)
{
	if (close(f->fd) < 0) {
		f->fd = -1;
		return write_error(p, f, -errno);
	}
	f->fd = -1;
	return 0;
}

int
persist_commit(struct persist *p, struct persist_file *f)
{
	if (renameat(p->ofd, f->tmp, p->ofd, f->name) < 0) {
		int rc = -errno;

		persist_discard(p, f);
		return persist_fail(rc, "renaming %s/objects/%s: %s", p->dir,
				    f->name, strerror(-rc));
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
		return persist_fail(-errno, "syncing %s/objects: %s", p->dir,
				    strerror(errno));
	return 0;
}

int
persist_remove(struct persist *p, uint8_t kind, uint64_t id)
{
	char name[40];
	int rc = persist_log_unpack(p, kind, id);

	if (rc)
		return rc;
	persist_name(kind, id, name, sizeof(name));
	if (unlinkat(p->ofd, name, 0) < 0 && errno != ENOENT)
		return persist_fail(-errno, "removing %s/objects/%s: %s",
				    p->dir, name, strerror(errno));
	return 0;
}

/* ".tmp-del-" + the file's name: start-up removes it like any temp file. */
static void
trash_name(uint8_t kind, uint64_t id, char *name, size_t namelen,
	   char *trash, size_t trashlen)
{
	persist_name(kind, id, name, namelen);
	snprintf(trash, trashlen, TMP_PREFIX "del-%s", name);
}

int
persist_trash(struct persist *p, uint8_t kind, uint64_t id, int back)
{
	char name[40], trash[64];
	const char *from, *to;

	/* A log is applied by the writer (persist_remove), not here: this
	 * runs on the request thread. Nothing to trash then. */
	if (!back && kind != DISKFMT_ANCHOR && persist_log_holds(p, id))
		return -ENOENT;
	trash_name(kind, id, name, sizeof(name), trash, sizeof(trash));
	from = back ? trash : name;
	to = back ? name : trash;
	if (renameat(p->ofd, from, p->ofd, to) == 0)
		return 0;
	if (errno == ENOENT)
		return -ENOENT;
	return persist_fail(-errno, "renaming %s/objects/%s to %s: %s",
			    p->dir, from, to, strerror(errno));
}

int
persist_remove_trash(struct persist *p, uint8_t kind, uint64_t id)
{
	char name[40], trash[64];

	trash_name(kind, id, name, sizeof(name), trash, sizeof(trash));
	if (unlinkat(p->ofd, trash, 0) < 0 && errno != ENOENT)
		return persist_fail(-errno, "removing %s/objects/%s: %s",
				    p->dir, trash, strerror(errno));
	return 0;
}

void
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

	if (persist_log_unpack(p, kind, id))
		log_warnx("persist: %s", persist_errmsg());
	persist_name(kind, id, name, sizeof(name));
	quarantine_name(p, name, why);
}

int
persist_clear(struct persist *p, uint64_t *n)
{
	struct dirent *e;
	DIR *d;
	int fd, rc = 0;

	*n = 0;
	fd = openat(p->ofd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return persist_fail(-errno, "reading %s/objects: %s", p->dir,
				    strerror(errno));
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(p->ofd, e->d_name, 0) == 0)
			(*n)++;
		else if (rc == 0)
			rc = persist_fail(-errno, "removing %s/objects/%s: %s",
					  p->dir, e->d_name, strerror(errno));
	}
	closedir(d);
	return rc;
}
