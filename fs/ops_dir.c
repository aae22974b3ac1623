/*
 * ops_dir: the shape of the tree. Which entries each directory has
 * (lookup), getattr, readlink, forget and statfs; listings are in
 * ops_readdir.c, attributes and generated files in attr.c.
 *
 *   /                  objects/  names/  status.json  [cluster.json]
 *   objects/           one directory per sealed object, named by its id,
 *                      and in a cluster one per object another instance
 *                      published (meta.json, typename, [data]; no member
 *                      links: meta.json lists them)
 *   objects/<id>/      meta.json  typename  [data]  [<member> links]
 *                      (an object stream: one link per chunk it holds,
 *                      named by its index, 0, 1, ...; not cached, since
 *                      a chunk goes once every reader passed it)
 *   names/             one link per name
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

/* ---- what each directory holds ---- */

static int
lookup_root(struct fs *fs, const char *name, struct dent *d)
{
	memset(d, 0, sizeof(*d));
	if (strcmp(name, "objects") == 0)
		d->kind = IK_OBJECTS;
	else if (strcmp(name, "names") == 0)
		d->kind = IK_NAMES;
	else if (strcmp(name, "status.json") == 0) {
		d->kind = IK_STATUS;
		d->size = fs_status_len(fs);
	} else if (fs->cluster && strcmp(name, "cluster.json") == 0) {
		d->kind = IK_CLUSTER;
		d->size = fs_cluster_len(fs);
	} else
		return -ENOENT;
	return 0;
}

static int
lookup_objects(struct fs *fs, const char *name, struct dent *d)
{
	struct store_info info;
	struct fs_remote r;
	uint64_t id;
	int remote = 0;

	if (meta_id_parse(name, &id))
		return -ENOENT;
	if (store_info(fs->store, id, &info)) {
		if (fs_remote_info(fs, id, &r))
			return -ENOENT;
		remote = 1;
	}
	memset(d, 0, sizeof(*d));
	d->kind = IK_OBJDIR;
	d->id = id;
	d->remote = remote;
	/* another instance's object has no owner here (none is published):
	 * the view's default attributes */
	if (remote)
		fs_remote_perm(fs, &r, &d->perm);
	else
		d->perm = info.perm;
	d->has_perm = 1;
	return 0;
}

static int
lookup_names(struct fs *fs, const char *name, struct dent *d)
{
	struct store_perm owner;
	uint64_t id;
	int remote = 0;

	if (store_name_owner(fs->store, name, strlen(name), &id, &owner)) {
		/* a cluster name of an object not here: no event tells
		 * the kernel when it moves, so it is kept briefly (and
		 * shows as the daemon user's, as remote objects do) */
		if (!fs->cluster || fs->cluster->name(fs->cluster_ctx, name,
						      &id))
			return -ENOENT;
		remote = 1;
	}
	memset(d, 0, sizeof(*d));
	d->remote = remote;
	if (!remote) {
		d->perm = owner;
		d->has_perm = 1;
	}
	d->kind = IK_NAME;
	d->target = id;
	d->id = id;
	d->name = name;
	d->namelen = strlen(name);
	d->size = LINK_OBJ_LEN;
	return 0;
}

struct member_find {
	const char *name;
	size_t len;
	uint64_t id;
	int found;
};

static int
member_find_cb(void *ctx, const char *name, size_t len, uint64_t member)
{
	struct member_find *m = ctx;

	if (len == m->len && memcmp(name, m->name, len) == 0) {
		m->id = member;
		m->found = 1;
		return 1;
	}
	return 0;
}

static int
lookup_objdir(struct fs *fs, uint64_t id, const char *name, struct dent *d)
{
	struct store_info info;
	struct member_find mf;
	struct fs_remote r;
	int rc;

	memset(d, 0, sizeof(*d));
	d->id = id;
	if ((rc = store_info(fs->store, id, &info))) {
		/* published by another instance: its files, no links */
		if (fs_remote_info(fs, id, &r))
			return rc;
		d->remote = 1;
		snprintf(info.typename, sizeof(info.typename), "%s",
			 r.typename);
		info.nbytes = r.nbytes;
		if (strcmp(name, "meta.json") && strcmp(name, "typename") &&
		    strcmp(name, "data"))
			return -ENOENT;
		fs_remote_perm(fs, &r, &info.perm);
	}
	d->perm = info.perm;
	d->has_perm = 1;
	if (strcmp(name, "meta.json") == 0) {
		d->kind = IK_META;
		return fs_meta_len(fs, id, &d->size);
	}
	if (strcmp(name, "typename") == 0) {
		d->kind = IK_TYPENAME;
		d->size = strlen(info.typename) + 1;
		return 0;
	}
	if (strcmp(name, "data") == 0) {
		if (fs_stream_is(fs, id, &d->size)) {
			d->kind = IK_SDATA;
			return 0;
		}
		if (!meta_id_is_blob(id))
			return -ENOENT;
		d->kind = IK_DATA;
		d->size = info.nbytes;
		return 0;
	}
	memset(&mf, 0, sizeof(mf));
	mf.name = name;
	mf.len = strlen(name);
	rc = store_members(fs->store, id, member_find_cb, &mf);
	if (rc < 0)
		return rc;
	if (!mf.found) { /* an object stream's chunk, by its index */
		store_stream_chunks(fs->store, id, member_find_cb, &mf);
		d->chunk = mf.found;
	}
	if (!mf.found)
		return -ENOENT;
	d->kind = IK_MEMBER;
	d->target = mf.id;
	d->name = name;
	d->namelen = mf.len;
	d->size = LINK_NAME_LEN;
	return 0;
}

void
fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct inode_info pi;
	struct dent d;
	int rc;

	if ((rc = inode_get(&fs->inodes, parent, &pi))) {
		fuse_reply_err(req, -rc);
		return;
	}
	switch (pi.kind) {
	case IK_ROOT: rc = lookup_root(fs, name, &d); break;
	case IK_OBJECTS: rc = lookup_objects(fs, name, &d); break;
	case IK_NAMES: rc = lookup_names(fs, name, &d); break;
	case IK_OBJDIR: rc = lookup_objdir(fs, pi.id, name, &d); break;
	default: rc = -ENOTDIR; break;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fs_dent_param(fs, &d, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		/* The lookup was interrupted: the kernel holds no count. */
		inode_forget(&fs->inodes, e.ino, 1);
}

void
fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(&fs_of(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

void
fs_op_forget_multi(fuse_req_t req, size_t count,
		   struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);
	size_t i;

	for (i = 0; i < count; i++)
		inode_forget(&fs->inodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

void
fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct store_perm p;
	struct inode_info ii;
	struct fs_remote r;
	struct stat st;
	uint64_t len;
	double ttl;
	int rc, has, remote = 0;

	if ((rc = inode_get(&fs->inodes, ino, &ii))) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* The owner and mode as they are now (a chmod invalidates the
	 * kernel's copy); as last known for an object that is gone. */
	has = fs_kind_has_perm(ii.kind) && store_perm(fs->store, ii.id, &p) == 0;
	/* another instance's object: as its record says now (a chmod
	 * there is published again; no event reaches the kernel, so its
	 * copy is kept FS_REMOTE_TTL only) */
	if (!has && fs_kind_has_perm(ii.kind) &&
	    fs_remote_info(fs, ii.id, &r) == 0) {
		fs_remote_perm(fs, &r, &p);
		has = remote = 1;
	}
	if (has && (!ii.has_perm || ii.uid != p.uid || ii.gid != p.gid ||
		    ii.mode != p.mode))
		inode_set_perm(&fs->inodes, ino, p.uid, p.gid, p.mode);
	if (!has && ii.has_perm) {
		p.uid = ii.uid;
		p.gid = ii.gid;
		p.mode = ii.mode;
		has = 1;
	}
	if (!has && fs_kind_has_perm(ii.kind)) {
		fs_remote_perm(fs, NULL, &p);
		has = 1;
	}
	/* The kernel gives a handle for fstat of a regular file: then the
	 * size is that of the text this open file reads. */
	if ((ii.kind == IK_META || ii.kind == IK_STATUS ||
	     ii.kind == IK_CLUSTER) && fi && fi->fh) {
		ii.size = ((struct fs_file *)(uintptr_t)fi->fh)->len;
	} else if (ii.kind == IK_STATUS) {
		ii.size = fs_status_len(fs);
	} else if (ii.kind == IK_CLUSTER) {
		ii.size = fs_cluster_len(fs);
	} else if (ii.kind == IK_META && fs_meta_len(fs, ii.id, &len) == 0) {
		ii.size = len;
		inode_set_size(&fs->inodes, ino, len);
	} else if (ii.kind == IK_SDATA && fs_stream_is(fs, ii.id, &len)) {
		ii.size = len; /* grows as chunks seal */
	}
	fs_attr(fs, ii.kind, ino, ii.size, has ? &p : NULL, &st);
	ttl = fs_attr_ttl(ii.kind);
	if (remote && ttl > FS_REMOTE_TTL)
		ttl = FS_REMOTE_TTL;
	fuse_reply_attr(req, &st, ttl);
}

void
fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct inode_info ii;
	char id[META_ID_LEN], buf[64];

	if (inode_get(&fs->inodes, ino, &ii)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	meta_id_format(ii.target, id);
	if (ii.kind == IK_NAME)
		snprintf(buf, sizeof(buf), "../objects/%s", id);
	else if (ii.kind == IK_MEMBER)
		snprintf(buf, sizeof(buf), "../%s", id);
	else {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_readlink(req, buf);
}

void
fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct store_status st;
	struct statvfs sv;
	uint64_t total;

	(void)ino;
	store_status(fs->store, &st);
	total = st.limit ? st.limit : st.used;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = total / 4096;
	sv.f_bfree = sv.f_bavail = total > st.used ?
		(total - st.used) / 4096 : 0;
	sv.f_files = st.objects;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}
