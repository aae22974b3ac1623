/*
 * inode: the FUSE view's inode numbers. A fuse_ino_t stands for one entry
 * of the tree: a fixed directory or file (root, objects/, names/,
 * status.json), an object directory, one file of it (meta.json, typename,
 * data), a member link, or a name link. Objects are immutable and their
 * ids are never reused, so (kind, object id, entry name) identifies an
 * entry for ever and its attributes can be kept here; only an object's
 * owner and mode change (chmod), and the view records them again then.
 *
 * A name link is keyed by its target too: re-pointing a name makes a new
 * inode, so a kernel that still holds the old one reads the old target
 * until the dentry is invalidated, never a mix.
 *
 * Inodes live while the kernel holds lookups on them (counted here, freed
 * on forget); the fixed ones live for ever. Thread-safe: one mutex inside.
 * Knows nothing of the store.
 */
#ifndef VY_FS_INODE_H
#define VY_FS_INODE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "idtab.h"

/* Fixed inode numbers. */
#define INO_ROOT 1
#define INO_OBJECTS 2
#define INO_NAMES 3
#define INO_STATUS 4
#define INO_CLUSTER 5
#define INO_FIRST_DYNAMIC 16

enum inode_kind {
	IK_ROOT = 1,
	IK_OBJECTS,  /* objects/ */
	IK_NAMES,    /* names/ */
	IK_STATUS,   /* status.json */
	IK_OBJDIR,   /* objects/<id>/ */
	IK_META,     /* objects/<id>/meta.json */
	IK_TYPENAME, /* objects/<id>/typename */
	IK_DATA,     /* objects/<id>/data (blobs) */
	IK_MEMBER,   /* objects/<id>/<member> -> ../<target> */
	IK_NAME,     /* names/<name> -> ../objects/<target> */
	IK_CLUSTER,  /* cluster.json */
	IK_SDATA,    /* objects/<id>/data of a byte stream (fs_stream.c) */
};

struct inode {
	uint64_t ino;         /* first: idtab key */
	struct inode *hnext;  /* chain in the key hash */
	uint64_t nlookup;     /* the kernel's references; table lock */
	uint64_t id;          /* the object (MEMBER: the parent) */
	uint64_t target;      /* MEMBER, NAME: the object linked to */
	uint64_t size;        /* bytes of the file or link text, as last
				 reported (META: may change) */
	uint32_t uid, gid;    /* owner, as last known (has_perm) */
	uint16_t mode;        /* the object's read/write bits, as last known */
	uint8_t has_perm;
	uint8_t kind;         /* enum inode_kind */
	uint16_t namelen;     /* MEMBER, NAME */
	char name[];          /* namelen bytes + NUL */
};

/* A copy of an inode's fields, safe to use after the lock is dropped. */
struct inode_info {
	uint64_t ino;
	uint64_t id;
	uint64_t target;
	uint64_t size;
	int kind;
	int has_perm;         /* uid, gid and mode are set */
	uint32_t uid, gid;
	uint16_t mode;
};

struct inode_tab {
	pthread_mutex_t lock;
	struct idtab byino;     /* ino -> inode */
	struct inode **hash;    /* key -> inode, chained; hcap buckets */
	size_t hcap;
	size_t count;           /* dynamic inodes alive */
	uint64_t next_ino;
};

void inode_tab_init(struct inode_tab *t);
/* Frees every inode; the kernel must be gone. */
void inode_tab_release(struct inode_tab *t);

/* Finds or makes the inode for (kind, id, target, name), adds one lookup
 * and records size. Returns its number. name may be NULL for kinds that
 * have none. The fixed kinds return their fixed numbers, uncounted. */
uint64_t inode_ref(struct inode_tab *t, int kind, uint64_t id,
		   uint64_t target, const char *name, size_t namelen,
		   uint64_t size);
/* Drops n lookups; frees the inode at zero. Unknown numbers are ignored. */
void inode_forget(struct inode_tab *t, uint64_t ino, uint64_t n);
/* Copies the fields of ino; 0 or -ENOENT. */
int inode_get(struct inode_tab *t, uint64_t ino, struct inode_info *out);
/* The number of an existing inode for the key, without a reference, or 0. */
uint64_t inode_find(struct inode_tab *t, int kind, uint64_t id,
		    uint64_t target, const char *name, size_t namelen);
/* Records a new size for ino (META files). */
void inode_set_size(struct inode_tab *t, uint64_t ino, uint64_t size);
/* Records the owner and mode of ino's object (or name), so that it can
 * be shown after the object is gone (open files). */
void inode_set_perm(struct inode_tab *t, uint64_t ino, uint32_t uid,
		    uint32_t gid, uint16_t mode);

#endif
