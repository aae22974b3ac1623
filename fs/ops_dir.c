/*
 * ops_dir: the shape of the tree. Which entries each directory has, their
 * attributes, lookup, readdir(plus), readlink, getattr and statfs.
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
 *
 * A directory listing is a snapshot taken when it is read from offset 0,
 * so a listing that runs while objects come and go names each object that
 * existed at its start exactly once. Every entry handed to the kernel in
 * a READDIRPLUS reply counts as a lookup (except "." and ".."); an entry
 * that does not fit in the reply buffer is taken back at once.
 *
 * Owners and modes: an object's directory and files carry the object's
 * owner, group and mode (the directory gets x where the mode has r), a
 * name link the user who bound it, the root the socket's group and a
 * mode that lets in whom the socket does. With default_permissions the
 * kernel checks them, so cat and mmap follow the socket's rules.
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

#define LINK_NAME_LEN (3 + META_ID_LEN - 1)     /* ../<id> */
#define LINK_OBJ_LEN (11 + META_ID_LEN - 1)     /* ../objects/<id> */
/* The unknown-inode convention for plain readdir entries. */
#define INO_UNKNOWN 0xffffffffu

/* Seconds the kernel may keep what another instance published: it can be
 * withdrawn without any event reaching the fs. */
#define FS_REMOTE_TTL 1.0

/* One directory entry as the tree defines it. */
struct dent {
	int kind;
	int remote;       /* of an object another instance published */
	int chunk;        /* MEMBER: a stream's chunk (goes as readers pass) */
	uint64_t id;      /* the object (MEMBER: the parent; NAME: target) */
	uint64_t target;  /* MEMBER, NAME: the object linked to */
	uint64_t size;
	const char *name; /* file name, or NULL for an object directory */
	size_t namelen;
	int has_perm;     /* perm is set: the object's (NAME: the name's) */
	struct store_perm perm;
};

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

/* Entries that show an object's owner and mode. */
static int
kind_has_perm(int kind)
{
	return kind == IK_OBJDIR || kind == IK_META || kind == IK_TYPENAME ||
	       kind == IK_DATA || kind == IK_MEMBER;
}

/* Another instance's object: none of its owner is published, so it shows
 * as an object of the daemon's user with the default mode, as objects of
 * a format-1 data directory load. */
static void
remote_perm(const struct fs *fs, struct store_perm *p)
{
	p->uid = fs->uid;
	p->gid = fs->gid;
	p->mode = STORE_MODE_DEFAULT;
}

void
fs_attr(struct fs *fs, int kind, uint64_t ino, uint64_t size,
	const struct store_perm *perm, struct stat *st)
{
	/* An object's entries without a known owner (it went meanwhile)
	 * are the daemon's and closed. */
	uint16_t mode = perm ? perm->mode : 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = perm ? perm->uid : fs->uid;
	st->st_gid = perm ? perm->gid : fs->gid;
	st->st_atim = st->st_mtim = st->st_ctim = fs->t0;
	st->st_blksize = 4096;
	switch (kind) {
	case IK_ROOT:
		st->st_mode = S_IFDIR | fs->root_mode;
		st->st_gid = fs->root_gid;
		st->st_nlink = 4;
		break;
	case IK_OBJECTS:
		/* 1: "count unknown", so nobody trusts a number that changes
		 * with every put while the kernel caches it. */
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 1;
		break;
	case IK_NAMES:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		break;
	case IK_OBJDIR:
		/* x (enter) where r; w as the socket reads it. */
		st->st_mode = S_IFDIR | (mode & STORE_MODE_BITS) |
			      ((mode & 0444u) >> 2);
		st->st_nlink = 2;
		break;
	case IK_MEMBER:
	case IK_NAME:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = (off_t)size;
		break;
	case IK_STATUS:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)size;
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
		break;
	default:
		st->st_mode = S_IFREG | (mode & 0444u);
		st->st_nlink = 1;
		st->st_size = (off_t)size;
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
		break;
	}
}

double
fs_attr_ttl(int kind)
{
	/* meta.json lists the object's names and status.json changes all
	 * the time: their sizes are asked for every time. */
	return kind == IK_META || kind == IK_STATUS || kind == IK_CLUSTER ||
		kind == IK_SDATA ? 0.0 : FS_TTL;
}

int
fs_remote_info(struct fs *fs, uint64_t id, struct fs_remote *r)
{
	if (!fs->cluster)
		return -ENOENT;
	return fs->cluster->info(fs->cluster_ctx, id, r) ? -ENOENT : 0;
}

int
fs_render_cluster(struct fs *fs, struct cw *out)
{
	int rc;

	if (!fs->cluster)
		return -ENOENT;
	if ((rc = fs->cluster->json(fs->cluster_ctx, out)))
		return rc;
	return cw_finish(out);
}

static uint64_t
cluster_len(struct fs *fs)
{
	struct cw w;
	uint64_t len = 0;

	cw_init(&w);
	if (fs_render_cluster(fs, &w) == 0)
		len = w.len;
	cw_release(&w);
	return len;
}

int
fs_render_status(struct fs *fs, struct cw *out)
{
	struct store_status st;
	char buf[512];
	int n;

	if (fs->status_json)
		return fs->status_json(fs->status_ctx, out);
	store_status(fs->store, &st);
	n = snprintf(buf, sizeof(buf), "{\n  \"objects\": %" PRIu64 ",\n"
		     "  \"blobs\": %" PRIu64 ",\n  \"names\": %" PRIu64 ",\n"
		     "  \"used_bytes\": %" PRIu64 ",\n  \"limit_bytes\": %"
		     PRIu64 ",\n  \"fs_mode\": \"%s\"\n}\n", st.objects,
		     st.blobs, st.names, st.used, st.limit, fs_mode(fs));
	cw_raw(out, buf, (size_t)n);
	return cw_finish(out);
}

int
fs_render_meta(struct fs *fs, uint64_t id, struct cw *out)
{
	int rc = store_meta_json(fs->store, NULL, id, out);

	if (rc == -ENOENT && fs->cluster) {
		cw_reset(out);
		if (fs->cluster->meta(fs->cluster_ctx, id, out) == 0)
			rc = cw_finish(out);
	}
	return rc;
}

static uint64_t
status_len(struct fs *fs)
{
	struct cw w;
	uint64_t len = 0;

	cw_init(&w);
	if (fs_render_status(fs, &w) == 0)
		len = w.len;
	cw_release(&w);
	return len;
}

static int
meta_len(struct fs *fs, uint64_t id, uint64_t *len)
{
	struct cw w;
	int rc;

	cw_init(&w);
	rc = fs_render_meta(fs, id, &w);
	*len = w.len;
	cw_release(&w);
	return rc;
}

/* Makes the inode of d (one more lookup) and fills e for the kernel. */
static void
dent_param(struct fs *fs, const struct dent *d, struct fuse_entry_param *e)
{
	int named = d->kind == IK_MEMBER || d->kind == IK_NAME;

	memset(e, 0, sizeof(*e));
	struct store_perm p;
	int has = d->has_perm;

	if (has)
		p = d->perm;
	else if (kind_has_perm(d->kind))
		has = store_perm(fs->store, d->id, &p) == 0;
	e->ino = inode_ref(&fs->inodes, d->kind, d->id, d->target,
			   named ? d->name : NULL, named ? d->namelen : 0,
			   d->size);
	if (has)
		inode_set_perm(&fs->inodes, e->ino, p.uid, p.gid, p.mode);
	fs_attr(fs, d->kind, e->ino, d->size, has ? &p : NULL, &e->attr);
	e->attr_timeout = fs_attr_ttl(d->kind);
	e->entry_timeout = FS_TTL;
	if (d->chunk) /* not cached: freed once every reader passed it */
		e->entry_timeout = e->attr_timeout = 0;
	if (d->remote) {
		e->entry_timeout = FS_REMOTE_TTL;
		if (e->attr_timeout > FS_REMOTE_TTL)
			e->attr_timeout = FS_REMOTE_TTL;
	}
}

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
		d->size = status_len(fs);
	} else if (fs->cluster && strcmp(name, "cluster.json") == 0) {
		d->kind = IK_CLUSTER;
		d->size = cluster_len(fs);
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
		remote_perm(fs, &d->perm);
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
		remote_perm(fs, &info.perm);
	}
	d->perm = info.perm;
	d->has_perm = 1;
	if (strcmp(name, "meta.json") == 0) {
		d->kind = IK_META;
		return meta_len(fs, id, &d->size);
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
	dent_param(fs, &d, &e);
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
	struct stat st;
	uint64_t len;
	int rc, has;

	if ((rc = inode_get(&fs->inodes, ino, &ii))) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* The owner and mode as they are now (a chmod invalidates the
	 * kernel's copy); as last known for an object that is gone. */
	has = kind_has_perm(ii.kind) && store_perm(fs->store, ii.id, &p) == 0;
	if (has && (!ii.has_perm || ii.uid != p.uid || ii.gid != p.gid ||
		    ii.mode != p.mode))
		inode_set_perm(&fs->inodes, ino, p.uid, p.gid, p.mode);
	if (!has && ii.has_perm) {
		p.uid = ii.uid;
		p.gid = ii.gid;
		p.mode = ii.mode;
		has = 1;
	}
	if (!has && kind_has_perm(ii.kind)) {
		remote_perm(fs, &p);
		has = 1;
	}
	/* The kernel gives a handle for fstat of a regular file: then the
	 * size is that of the text this open file reads. */
	if ((ii.kind == IK_META || ii.kind == IK_STATUS ||
	     ii.kind == IK_CLUSTER) && fi && fi->fh) {
		ii.size = ((struct fs_file *)(uintptr_t)fi->fh)->len;
	} else if (ii.kind == IK_STATUS) {
		ii.size = status_len(fs);
	} else if (ii.kind == IK_CLUSTER) {
		ii.size = cluster_len(fs);
	} else if (ii.kind == IK_META && meta_len(fs, ii.id, &len) == 0) {
		ii.size = len;
		inode_set_size(&fs->inodes, ino, len);
	} else if (ii.kind == IK_SDATA && fs_stream_is(fs, ii.id, &len)) {
		ii.size = len; /* grows as chunks seal */
	}
	fs_attr(fs, ii.kind, ino, ii.size, has ? &p : NULL, &st);
	fuse_reply_attr(req, &st, fs_attr_ttl(ii.kind));
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
	if ((rc = meta_len(fs, dh->id, &len)))
		return rc;
	d = dirh_add(dh, IK_META, "meta.json", 9);
	d->id = dh->id;
	d->size = len;
	d->remote = 1;
	remote_perm(fs, &d->perm);
	d->has_perm = 1;
	d = dirh_add(dh, IK_TYPENAME, "typename", 8);
	d->id = dh->id;
	d->size = strlen(r.typename) + 1;
	d->remote = 1;
	remote_perm(fs, &d->perm);
	d->has_perm = 1;
	if (meta_id_is_blob(dh->id)) {
		d = dirh_add(dh, IK_DATA, "data", 4);
		d->id = dh->id;
		d->size = r.nbytes;
		d->remote = 1;
		remote_perm(fs, &d->perm);
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
		d->size = status_len(fs);
		if (fs->cluster) {
			d = dirh_add(dh, IK_CLUSTER, "cluster.json", 12);
			d->size = cluster_len(fs);
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
		if ((rc = meta_len(fs, dh->id, &len)))
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
				dent_param(fs, &d, &e);
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
