/*
 * ops_readdir: directory listings (opendir, readdir, readdirplus,
 * releasedir) of the tree ops_dir.c describes.
 *
 * A directory listing is a snapshot taken when it is read from offset 0,
 * so a listing that runs while objects come and go names each object that
 * existed at its start exactly once. Every entry handed to the kernel in
 * a READDIRPLUS reply counts as a lookup (except "." and ".."); an entry
 * that does not fit in the reply buffer is taken back at once.
 *
 * An entry of the snapshot that has gone since (object deleted, name
 * dropped or re-pointed) is still listed but sent without attributes, so
 * the kernel makes no dentry for it: a dentry made now would outlive the
 * invalidation the notifier already sent. One made while we answer is
 * safe: the notifier's invalidation waits for the directory's lock, which
 * the kernel holds until it has taken our reply in.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_int.h"
#include "meta.h"
#include "store.h"
#include "stream.h"
#include "xmalloc.h"
#include "banned.h"

/* An open directory: its snapshot. */
struct dirh {
	int kind;
	uint64_t id;         /* IK_OBJDIR */
	int filled;
	uint64_t *ids;       /* IK_OBJECTS: sorted object ids */
	size_t nids;
	struct dent *ents;   /* the other kinds; names are malloc'd */
	size_t nents;
};

/* ---- directories ---- */

void
fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode_info ii;
	struct dirh *dh;
	int rc;

	if ((rc = inode_get(&fs->inodes, ino, &ii))) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (ii.kind != IK_ROOT && ii.kind != IK_OBJECTS &&
	    ii.kind != IK_NAMES && ii.kind != IK_OBJDIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	dh = xcalloc(1, sizeof(*dh));
	dh->kind = ii.kind;
	dh->id = ii.id;
	fi->fh = (uintptr_t)dh;
	if (fuse_reply_open(req, fi) == -ENOENT)
		free(dh);
}

static void
dirh_clear(struct dirh *dh)
{
	size_t i;

	for (i = 0; i < dh->nents; i++)
		free((char *)(uintptr_t)dh->ents[i].name);
	free(dh->ents);
	free(dh->ids);
	dh->ents = NULL;
	dh->ids = NULL;
	dh->nents = dh->nids = 0;
	dh->filled = 0;
}

static struct dent *
dirh_add(struct dirh *dh, int kind, const char *name, size_t namelen)
{
	struct dent *d;

	dh->ents = xreallocarray(dh->ents, dh->nents + 1, sizeof(*dh->ents));
	d = &dh->ents[dh->nents++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	if (name) {
		char *copy = xmalloc(namelen + 1);

		memcpy(copy, name, namelen);
		copy[namelen] = 0;
		d->name = copy;
		d->namelen = namelen;
	}
	return d;
}

static int
names_cb(void *ctx, const char *name, uint64_t id,
	 const struct store_perm *owner)
{
	struct dent *d = dirh_add(ctx, IK_NAME, name, strlen(name));

	d->perm = *owner;
	d->has_perm = 1;
	d->id = d->target = id;
	d->size = LINK_OBJ_LEN;
	return 0;
}

struct members_ctx {
	struct dirh *dh;
	uint64_t parent;
	int chunks;       /* a stream's chunks */
	struct store_perm perm; /* the parent's */
};

static int
members_cb(void *ctx, const char *name, size_t len, uint64_t member)
{
	struct members_ctx *m = ctx;
	struct dent *d = dirh_add(m->dh, IK_MEMBER, name, len);

	d->id = m->parent;
	d->target = member;
	d->size = LINK_NAME_LEN;
	d->chunk = m->chunks;
	d->perm = m->perm;
	d->has_perm = 1;
	return 0;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* objects/ in a cluster: the local ids, then what other instances
 * published, in one sorted list. */
static void
add_remote_ids(struct fs *fs, struct dirh *dh)
{
	uint64_t *more = NULL;
	size_t n = 0;

	if (!fs->cluster || fs->cluster->ids(fs->cluster_ctx, &more, &n) ||
	    !n) {
		free(more);
		return;
	}
	dh->ids = xreallocarray(dh->ids, dh->nids + n, sizeof(*dh->ids));
	memcpy(dh->ids + dh->nids, more, n * sizeof(*more));
	dh->nids += n;
	free(more);
	qsort(dh->ids, dh->nids, sizeof(*dh->ids), u64_cmp);
}

/* The directory of an object another instance published. */
static int
remote_dir(struct fs *fs, struct dirh *dh)
{
	struct fs_remote r;
	struct dent *d;
	uint64_t len;
	int rc;

	if (fs_remote_info(fs, dh->id, &r))
		return -ENOENT;
	if ((rc = fs_meta_len(fs, dh->id, &len)))
		return rc;
	d = dirh_add(dh, IK_META, "meta.json", 9);
	d->id = dh->id;
	d->size = len;
	d->remote = 1;
	fs_remote_perm(fs, &r, &d->perm);
	d->has_perm = 1;
	d = dirh_add(dh, IK_TYPENAME, "typename", 8);
	d->id = dh->id;
	d->size = strlen(r.typename) + 1;
	d->remote = 1;
	fs_remote_perm(fs, &r, &d->perm);
	d->has_perm = 1;
	if (meta_id_is_blob(dh->id)) {
		d = dirh_add(dh, IK_DATA, "data", 4);
		d->id = dh->id;
		d->size = r.nbytes;
		d->remote = 1;
		fs_remote_perm(fs, &r, &d->perm);
		d->has_perm = 1;
	}
	return 0;
}

static int
dirh_fill(struct fs *fs, struct dirh *dh)
{
	struct store_info info;
	struct members_ctx mc;
	struct dent *d;
	uint64_t len;
	int rc = 0;

	dirh_clear(dh);
	switch (dh->kind) {
	case IK_ROOT:
		dirh_add(dh, IK_OBJECTS, "objects", 7);
		dirh_add(dh, IK_NAMES, "names", 5);
		d = dirh_add(dh, IK_STATUS, "status.json", 11);
		d->size = fs_status_len(fs);
		if (fs->cluster) {
			d = dirh_add(dh, IK_CLUSTER, "cluster.json", 12);
			d->size = fs_cluster_len(fs);
		}
		break;
	case IK_OBJECTS:
		rc = store_ids(fs->store, &dh->ids, &dh->nids);
		if (rc == 0)
			add_remote_ids(fs, dh);
		break;
	case IK_NAMES:
		rc = store_name_list(fs->store, NULL, names_cb, dh);
		break;
	case IK_OBJDIR:
		if ((rc = store_info(fs->store, dh->id, &info))) {
			rc = remote_dir(fs, dh);
			break;
		}
		if ((rc = fs_meta_len(fs, dh->id, &len)))
			break;
		d = dirh_add(dh, IK_META, "meta.json", 9);
		d->id = dh->id;
		d->size = len;
		d->perm = info.perm;
		d->has_perm = 1;
		d = dirh_add(dh, IK_TYPENAME, "typename", 8);
		d->id = dh->id;
		d->size = strlen(info.typename) + 1;
		d->perm = info.perm;
		d->has_perm = 1;
		if (meta_id_is_blob(dh->id)) {
			d = dirh_add(dh, IK_DATA, "data", 4);
			d->id = dh->id;
			d->size = info.nbytes;
			d->perm = info.perm;
			d->has_perm = 1;
		} else if (fs_stream_is(fs, dh->id, &len)) {
			d = dirh_add(dh, IK_SDATA, "data", 4);
			d->id = dh->id;
			d->size = len;
			d->perm = info.perm;
			d->has_perm = 1;
		}
		mc.dh = dh;
		mc.parent = dh->id;
		mc.perm = info.perm;
		mc.chunks = 0;
		rc = store_members(fs->store, dh->id, members_cb, &mc);
		/* an object stream: its chunks held, numbered */
		mc.chunks = 1;
		if (rc == 0)
			rc = store_stream_chunks(fs->store, dh->id, members_cb,
						 &mc);
		break;
	}
	if (rc)
		dirh_clear(dh);
	else
		dh->filled = 1;
	return rc;
}

static size_t
dirh_count(const struct dirh *dh)
{
	return 2 + (dh->kind == IK_OBJECTS ? dh->nids : dh->nents);
}

static uint64_t
parent_ino(const struct dirh *dh, uint64_t self)
{
	switch (dh->kind) {
	case IK_OBJDIR: return INO_OBJECTS;
	case IK_ROOT: return self;
	default: return INO_ROOT;
	}
}

/* Is the snapshot's entry d still what the store has? */
static int
dent_current(struct fs *fs, const struct dent *d)
{
	uint64_t id;

	struct fs_remote r;

	switch (d->kind) {
	case IK_OBJDIR:
		return store_has(fs->store, d->id) ||
		       fs_remote_info(fs, d->id, &r) == 0;
	case IK_NAME:
		return store_name_get(fs->store, d->name, d->namelen,
				      &id) == 0 && id == d->target;
	case IK_MEMBER: /* a stream's chunk goes once readers passed it */
		return !d->chunk || store_has(fs->store, d->target);
	default:
		return 1; /* the rest never change while the object lives */
	}
}

/* Entry i of the listing (i >= 2) into d; name into idbuf for objects. */
static void
dirh_entry(const struct dirh *dh, size_t i, struct dent *d,
	   char idbuf[META_ID_LEN])
{
	if (dh->kind == IK_OBJECTS) {
		memset(d, 0, sizeof(*d));
		d->kind = IK_OBJDIR;
		d->id = dh->ids[i - 2];
		meta_id_format(d->id, idbuf);
		d->name = idbuf;
		d->namelen = META_ID_LEN - 1;
	} else {
		*d = dh->ents[i - 2];
	}
}

static void
readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	       struct fuse_file_info *fi, int plus)
{
	struct fs *fs = fs_of(req);
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;
	char *buf, idbuf[META_ID_LEN];
	size_t pos = 0, i, n;
	int rc;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((off == 0 || !dh->filled) && (rc = dirh_fill(fs, dh))) {
		fuse_reply_err(req, -rc);
		return;
	}
	buf = xmalloc(size);
	for (i = (size_t)off; i < dirh_count(dh); i++) {
		struct fuse_entry_param e;
		struct dent d;
		const char *name;
		int counted = 0;

		if (i < 2) {
			name = i == 0 ? "." : "..";
			memset(&e, 0, sizeof(e));
			e.ino = i == 0 ? ino : parent_ino(dh, ino);
			fs_attr(fs, IK_OBJDIR, e.ino, 0, NULL, &e.attr);
		} else {
			dirh_entry(dh, i, &d, idbuf);
			name = d.name;
			if (d.kind == IK_OBJDIR && fs->cluster)
				d.remote = !store_has(fs->store, d.id);
			if (plus && dent_current(fs, &d)) {
				fs_dent_param(fs, &d, &e);
				counted = 1;
			} else {
				int named = d.kind == IK_MEMBER ||
					    d.kind == IK_NAME;
				uint64_t have = inode_find(&fs->inodes, d.kind,
					d.id, d.target, named ? d.name : NULL,
					named ? d.namelen : 0);

				memset(&e, 0, sizeof(e));
				fs_attr(fs, d.kind, have ? have : INO_UNKNOWN,
					d.size, d.has_perm ? &d.perm : NULL,
					&e.attr);
			}
		}
		if (plus)
			n = fuse_add_direntry_plus(req, buf + pos, size - pos,
						   name, &e, (off_t)(i + 1));
		else
			n = fuse_add_direntry(req, buf + pos, size - pos, name,
					      &e.attr, (off_t)(i + 1));
		if (n > size - pos) {
			if (counted)
				inode_forget(&fs->inodes, e.ino, 1);
			break;
		}
		pos += n;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

void
fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 0);
}

void
fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 1);
}

void
fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;

	(void)ino;
	if (dh) {
		dirh_clear(dh);
		free(dh);
	}
	fuse_reply_err(req, 0);
}

