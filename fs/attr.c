/*
 * attr: what the tree's entries look like to the kernel: their attributes
 * (owner, group and mode come from the object, so default_permissions
 * applies the socket's rule to cat and mmap), how long the kernel may keep
 * them, the content of the generated files (status.json, meta.json,
 * cluster.json), and the entry a lookup or READDIRPLUS hands out.
 *
 * Owners and modes: an object's directory and files carry the object's
 * owner, group and mode (the directory gets x where the mode has r), a
 * name link the user who bound it, the root the socket's group and a
 * mode that lets in whom the socket does.
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

/* Entries that show an object's owner and mode. */
int
fs_kind_has_perm(int kind)
{
	return kind == IK_OBJDIR || kind == IK_META || kind == IK_TYPENAME ||
	       kind == IK_DATA || kind == IK_MEMBER;
}

/* Another instance's object: the owner, group and mode its record says,
 * as on its own instance. A record without them (an older daemon's)
 * shows as an object of the daemon's user with the default mode, as
 * objects of a format-1 data directory load. */
void
fs_remote_perm(const struct fs *fs, const struct fs_remote *r,
	       struct store_perm *p)
{
	if (r && r->has_owner) {
		p->uid = r->uid;
		p->gid = r->gid;
		p->mode = (uint16_t)(r->mode & STORE_MODE_BITS);
		return;
	}
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

/* The size of a generated file: rendered now, 0 when it cannot be. */
static uint64_t
rendered_len(struct fs *fs, int (*render)(struct fs *, struct cw *))
{
	struct cw w;
	uint64_t len = 0;

	cw_init(&w);
	if (render(fs, &w) == 0)
		len = w.len;
	cw_release(&w);
	return len;
}

uint64_t
fs_status_len(struct fs *fs)
{
	return rendered_len(fs, fs_render_status);
}

uint64_t
fs_cluster_len(struct fs *fs)
{
	return rendered_len(fs, fs_render_cluster);
}

int
fs_meta_len(struct fs *fs, uint64_t id, uint64_t *len)
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
void
fs_dent_param(struct fs *fs, const struct dent *d, struct fuse_entry_param *e)
{
	int named = d->kind == IK_MEMBER || d->kind == IK_NAME;

	memset(e, 0, sizeof(*e));
	struct store_perm p;
	int has = d->has_perm;

	struct fs_remote r;

	if (has)
		p = d->perm;
	else if (fs_kind_has_perm(d->kind))
		has = store_perm(fs->store, d->id, &p) == 0;
	/* another instance's object (a directory in a READDIRPLUS of
	 * objects/): its record's owner */
	if (!has && d->remote && fs_kind_has_perm(d->kind) &&
	    fs_remote_info(fs, d->id, &r) == 0) {
		fs_remote_perm(fs, &r, &p);
		has = 1;
	}
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
