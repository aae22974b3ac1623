/*
 * ops_file: open, read and release of the files of the tree, and the
 * refusal (EROFS) of everything that would change it.
 *
 * Blob files ("data"): the first open pins the blob for the fs's store
 * owner and fixes its mode until the last release: a memfd blob is passed
 * through (one backing id, registered at the first open and closed at the
 * last release; closing it earlier makes the kernel fail the open with
 * EIO) when the mount has passthrough, else it is mapped here (2 MiB-
 * aligned, arena_map_ro: a blob made of the huge-page pool, a put's or a
 * fetched copy, maps on 2 MiB entries) and reads are answered from the
 * mapping with the page cache kept. Small blobs,
 * which live inside shared slab segments, are always answered from the
 * segment. The pin keeps the bytes readable after a delete.
 *
 * The text files (meta.json, typename, status.json) are rendered at open
 * and read from that copy, so one open file reads one consistent text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"
#include "fs_int.h"
#include "log.h"
#include "meta.h"
#include "proto.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

/* ---- blobs ---- */

static int
blob_get(struct fs *fs, uint64_t id, struct fs_blob **out)
{
	struct store_blobref ref;
	struct fs_blob *b;
	int rc = 0;

	pthread_mutex_lock(&fs->blob_lock);
	b = idtab_get(&fs->blobs, id);
	if (b)
		goto done;
	if ((rc = store_blob_open(fs->store, fs->owner, id, &ref)))
		goto out;
	b = xcalloc(1, sizeof(*b));
	b->id = id;
	b->len = ref.len;
	b->fd = -1;
	if (ref.kind == BLOB_KIND_MEMFD) {
		b->fd = ref.fd;
		if (__atomic_load_n(&fs->pt.active, __ATOMIC_ACQUIRE)) {
			rc = pt_backing_open(&fs->pt, ref.fd);
			if (rc > 0) {
				b->backing = rc;
				rc = 0;
			}
		} else {
			b->map = arena_map_ro(ref.fd, ref.len);
			if (!b->map)
				rc = -errno;
			b->bytes = b->map;
		}
	} else {
		b->bytes = ref.ptr;
	}
	if (rc) {
		char idbuf[META_ID_LEN];

		meta_id_format(id, idbuf);
		log_warnx("fs: cannot open blob %s: %s", idbuf, strerror(-rc));
		store_release(fs->store, fs->owner, &id, 1);
		free(b);
		goto out;
	}
	if (idtab_put(&fs->blobs, b))
		fatalx("fs: out of memory growing the blob table");
done:
	b->refs++;
	*out = b;
out:
	pthread_mutex_unlock(&fs->blob_lock);
	return rc;
}

/* Frees b's resources; blob_lock held or the fs stopping. */
static void
blob_drop(struct fs *fs, struct fs_blob *b, int close_backing)
{
	if (b->backing && close_backing)
		pt_backing_close(&fs->pt, b->backing);
	if (b->map)
		munmap(b->map, b->len);
	store_release(fs->store, fs->owner, &b->id, 1);
	free(b);
}

static void
blob_put(struct fs *fs, struct fs_blob *b)
{
	pthread_mutex_lock(&fs->blob_lock);
	if (--b->refs == 0) {
		idtab_del(&fs->blobs, b->id);
		blob_drop(fs, b, 1);
	}
	pthread_mutex_unlock(&fs->blob_lock);
}

void
fs_files_init(struct fs *fs)
{
	pthread_mutex_init(&fs->blob_lock, NULL);
	idtab_init(&fs->blobs);
	fs->files.next = fs->files.prev = &fs->files;
}

void
fs_files_release(struct fs *fs)
{
	struct fs_blob *b;
	size_t pos = 0;

	pthread_mutex_lock(&fs->blob_lock);
	while (fs->files.next != &fs->files) {
		struct fs_file *f = fs->files.next;

		fs->files.next = f->next;
		free(f->buf);
		free(f);
	}
	while ((b = idtab_next(&fs->blobs, &pos)))
		blob_drop(fs, b, 0); /* the connection is gone, ids too */
	idtab_release(&fs->blobs);
	pthread_mutex_unlock(&fs->blob_lock);
	pthread_mutex_destroy(&fs->blob_lock);
}

static void
file_link(struct fs *fs, struct fs_file *f)
{
	pthread_mutex_lock(&fs->blob_lock);
	f->next = &fs->files;
	f->prev = fs->files.prev;
	f->prev->next = f;
	fs->files.prev = f;
	pthread_mutex_unlock(&fs->blob_lock);
}

/* Unlinks and frees f, dropping its blob. */
static void
file_free(struct fs *fs, struct fs_file *f)
{
	pthread_mutex_lock(&fs->blob_lock);
	f->prev->next = f->next;
	f->next->prev = f->prev;
	pthread_mutex_unlock(&fs->blob_lock);
	if (f->blob)
		blob_put(fs, f->blob);
	if (f->kind == IK_SDATA)
		fs_stream_close(fs, f);
	free(f->buf);
	free(f);
}

static void
file_drop(struct fs *fs, struct fs_file *f)
{
	if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) == 0)
		file_free(fs, f);
}

void
fs_file_drop(struct fs *fs, struct fs_file *f)
{
	file_drop(fs, f);
}

/* ---- open, read, release ---- */

static int
render_text(struct fs *fs, const struct inode_info *ii, struct fs_file *f)
{
	struct store_info info;
	struct fs_remote r;
	struct cw w;
	int rc;

	cw_init(&w);
	switch (ii->kind) {
	case IK_META:
		rc = fs_render_meta(fs, ii->id, &w);
		if (rc == 0)
			inode_set_size(&fs->inodes, ii->ino, w.len);
		break;
	case IK_STATUS:
		rc = fs_render_status(fs, &w);
		break;
	case IK_CLUSTER:
		rc = fs_render_cluster(fs, &w);
		break;
	default: /* IK_TYPENAME */
		rc = store_info(fs->store, ii->id, &info);
		if (rc == -ENOENT && fs_remote_info(fs, ii->id, &r) == 0) {
			snprintf(info.typename, sizeof(info.typename), "%s",
				 r.typename);
			rc = 0;
		}
		if (rc == 0) {
			cw_raw(&w, info.typename, strlen(info.typename));
			cw_raw(&w, "\n", 1);
			rc = cw_finish(&w);
		}
		break;
	}
	if (rc) {
		cw_release(&w);
		return rc;
	}
	f->buf = (char *)w.buf;
	f->len = w.len;
	return 0;
}

void
fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode_info ii;
	struct fs_file *f;
	int rc;

	if ((rc = inode_get(&fs->inodes, ino, &ii))) {
		fuse_reply_err(req, -rc);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY ||
	    (fi->flags & (O_TRUNC | O_APPEND | O_CREAT))) {
		fuse_reply_err(req, EROFS);
		return;
	}
	switch (ii.kind) {
	case IK_DATA: case IK_META: case IK_TYPENAME: case IK_STATUS:
	case IK_CLUSTER:
	case IK_SDATA:
		break;
	case IK_MEMBER: case IK_NAME:
		fuse_reply_err(req, ELOOP);
		return;
	default:
		fuse_reply_err(req, EISDIR);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->refs = 1;
	f->kind = ii.kind;
	if (ii.kind == IK_SDATA) {
		rc = fs_stream_open(fs, ii.id, f, fi);
	} else if (ii.kind == IK_DATA) {
		struct fs_remote r;

		rc = blob_get(fs, ii.id, &f->blob);
		/* a blob another instance holds: copied here, then opened
		 * as the local blob it is now */
		if (rc == -ENOENT && fs_remote_info(fs, ii.id, &r) == 0 &&
		    (rc = fs_remote_may_read(req, fs, &r)) == 0 &&
		    (rc = fs_remote_fetch(fs, ii.id)) == 0)
			rc = blob_get(fs, ii.id, &f->blob);
		if (rc == 0 && f->blob->backing)
			pt_expect_open(fi, f->blob->backing);
		else if (rc == 0)
			fi->keep_cache = 1; /* immutable: keep what was read */
	} else {
		rc = render_text(fs, &ii, f);
		/* meta.json and status.json change with names and figures:
		 * read them afresh, not from pages cached at another size. */
		if (ii.kind == IK_TYPENAME)
			fi->keep_cache = 1;
		else
			fi->direct_io = 1;
	}
	if (rc) {
		free(f);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->noflush = 1;
	fi->fh = (uintptr_t)f;
	file_link(fs, f);
	if (fuse_reply_open(req, fi) == -ENOENT)
		file_free(fs, f); /* interrupted: no release will come */
}

void
fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	   struct fuse_file_info *fi)
{
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct fs *fs = fs_of(req);
	const uint8_t *p;
	uint64_t len;

	(void)ino;
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
	if (f->kind == IK_SDATA) { /* answered now or when the stream grows */
		fs_stream_read(fs, req, f, (uint64_t)off, size);
		return;
	}
	if (f->kind == IK_DATA && f->blob) {
		p = f->blob->bytes;
		len = f->blob->len;
	} else {
		p = (const uint8_t *)f->buf;
		len = f->len;
	}
	if ((uint64_t)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		file_drop(fs, f);
		return;
	}
	if (size > len - (uint64_t)off)
		size = (size_t)(len - (uint64_t)off);
	if (p) {
		fuse_reply_buf(req, (const char *)p + off, size);
	} else {
		/* A passed-through blob: the kernel reads the memfd itself;
		 * answer anyway, from the store's descriptor. */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = f->blob->fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_NO_SPLICE);
	}
	file_drop(fs, f);
}

void
fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;

	(void)ino;
	if (f)
		file_drop(fs_of(req), f);
	fuse_reply_err(req, 0);
}

/* ---- a read-only tree ---- */

void
fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
	      struct fuse_file_info *fi)
{
	(void)ino; (void)attr; (void)to_set; (void)fi;
	fuse_reply_err(req, EROFS);
}

void
fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	    dev_t rdev)
{
	(void)parent; (void)name; (void)mode; (void)rdev;
	fuse_reply_err(req, EROFS);
}

void
fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent; (void)name; (void)mode;
	fuse_reply_err(req, EROFS);
}

void
fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent; (void)name;
	fuse_reply_err(req, EROFS);
}

void
fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent; (void)name;
	fuse_reply_err(req, EROFS);
}

void
fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
	      const char *name)
{
	(void)link; (void)parent; (void)name;
	fuse_reply_err(req, EROFS);
}

void
fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	     fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	(void)parent; (void)name; (void)newparent; (void)newname; (void)flags;
	fuse_reply_err(req, EROFS);
}

void
fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	   const char *newname)
{
	(void)ino; (void)newparent; (void)newname;
	fuse_reply_err(req, EROFS);
}

void
fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	    off_t off, struct fuse_file_info *fi)
{
	(void)ino; (void)buf; (void)size; (void)off; (void)fi;
	fuse_reply_err(req, EROFS);
}

void
fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	     mode_t mode, struct fuse_file_info *fi)
{
	(void)parent; (void)name; (void)mode; (void)fi;
	fuse_reply_err(req, EROFS);
}

void
fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
	       const char *value, size_t size, int flags)
{
	(void)ino; (void)name; (void)value; (void)size; (void)flags;
	fuse_reply_err(req, EROFS);
}

void
fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino; (void)name;
	fuse_reply_err(req, EROFS);
}

void
fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		off_t length, struct fuse_file_info *fi)
{
	(void)ino; (void)mode; (void)offset; (void)length; (void)fi;
	fuse_reply_err(req, EROFS);
}
