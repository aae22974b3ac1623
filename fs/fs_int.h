/*
 * fs_int: what the files of fs/ share and nothing outside does: the state
 * of one mount (struct fs), open files and open blobs, and the ops each
 * file implements for the table in fs.c.
 *
 * Locks, never nested except blob_lock -> the store's lock:
 *   inodes.lock  the inode table (inode.c)
 *   blob_lock    the open-blob table, every blob's refs, the open files
 *   qlock        the queue of store events waiting for the notifier
 * No fs lock is held while a FUSE reply or notification is written.
 */
#ifndef VY_FS_INT_H
#define VY_FS_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "cborio.h"
#include "fs.h"
#include "fuse_ll.h"
#include "idtab.h"
#include "inode.h"
#include "meta.h"
#include "passthrough.h"
#include "store.h"

struct store_perm;

#define FS_WORKERS 4
/* Seconds the kernel may keep entries and attributes. Objects never
 * change; names and deletions are invalidated as they happen. */
#define FS_TTL 86400.0

/* A store event for the notifier; name is "" unless a name event. */
struct fs_event {
	struct fs_event *next;
	uint64_t seq;       /* 1, 2, ... in queue order */
	int ev;             /* enum store_event */
	uint64_t id;
	char name[];
};

/* One blob with open files. Its mode is fixed at the first open and kept
 * until the last release, so concurrent opens never mix modes. */
struct fs_blob {
	uint64_t id;          /* first: idtab key */
	uint64_t len;         /* bytes */
	uint32_t refs;        /* open files; blob_lock */
	int backing;          /* passthrough: the backing id; else 0 */
	int fd;               /* the store's read-only fd (memfd blobs); valid
				 while pinned, not ours to close */
	const uint8_t *bytes; /* cached mode: the bytes (map or segment) */
	void *map;            /* our mapping of a memfd blob, or NULL */
};

/* fi->fh of an open file. Listed so that files still open when the fs
 * stops (no RELEASE comes then) are freed. */
struct fs_file {
	struct fs_file *prev, *next; /* fs->files; blob_lock */
	/* The open, and each read reply being written from our memory: the
	 * RELEASE can be handled by another thread before writev returns. */
	int refs;             /* atomic */
	int kind;             /* IK_DATA, IK_META, IK_TYPENAME, IK_STATUS,
				 IK_CLUSTER */
	struct fs_blob *blob; /* IK_DATA */
	char *buf;            /* the others: the text, rendered at open */
	size_t len;
	uint64_t sid, rid;    /* IK_SDATA: the stream, this file's reader */
};

struct fs {
	struct pt pt;             /* data mode and session I/O */
	struct store *store;
	struct store_owner *owner; /* pins of open blob files */
	struct fuse_session *se;
	char *mount;              /* absolute path */
	int allow_other;
	int (*status_json)(void *ctx, struct cw *out);
	void *status_ctx;
	const struct fs_cluster *cluster; /* NULL: not in a cluster */
	void *cluster_ctx;
	struct inode_tab inodes;
	pthread_mutex_t blob_lock;
	struct idtab blobs;       /* struct fs_blob by id; blob_lock */
	struct fs_file files;     /* list head of open files; blob_lock */
	uid_t uid;
	gid_t gid;
	mode_t root_mode;         /* who may enter the root (the socket's) */
	gid_t root_gid;
	struct timespec t0;       /* every entry's times */
	int stopfd;               /* eventfd: readable once stopping */
	int stopping;             /* fs_stop began (atomic) */
	int gone_logged;          /* said the mount went away (atomic) */
	pthread_t workers[FS_WORKERS];
	int nworkers;
	pthread_t notifier;
	int notifier_on;
	pthread_mutex_t qlock;
	pthread_cond_t qcond;     /* events queued, or stop */
	pthread_cond_t qdone_cond; /* events applied */
	struct fs_event *qhead;   /* qlock */
	struct fs_event **qtail;  /* qlock */
	uint64_t qseq;            /* events queued so far; qlock */
	uint64_t qdone;           /* events applied so far; qlock */
	int qstop;                /* qlock */
	int watching;
	struct fs_streams *streams; /* parked reads of streams (fs_stream.c) */
};

/* The tree's shared pieces (attr.c, ops_dir.c, ops_readdir.c). */
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

/* attr.c: attributes, generated files, entries. */
/* Entries that show an object's owner and mode. */
int fs_kind_has_perm(int kind);
/* Another instance's object (r from fs_remote_info): the owner its record
 * says, else (r NULL, or an older daemon's record) the daemon's user with
 * the default mode. */
void fs_remote_perm(const struct fs *fs, const struct fs_remote *r,
		    struct store_perm *p);
/* Sizes of the generated files, rendered now. */
uint64_t fs_cluster_len(struct fs *fs);
uint64_t fs_status_len(struct fs *fs);
int fs_meta_len(struct fs *fs, uint64_t id, uint64_t *len);
/* Makes the inode of d (one more lookup) and fills e for the kernel. */
void fs_dent_param(struct fs *fs, const struct dent *d,
		   struct fuse_entry_param *e);
/* perm: the object's (or name's) owner and mode, for the kinds that show
 * them; NULL for the rest, or for an object that is gone. */
void fs_attr(struct fs *fs, int kind, uint64_t ino, uint64_t size,
	     const struct store_perm *perm, struct stat *st);
double fs_attr_ttl(int kind);
/* Renders status.json / meta.json of id (local, else published by
 * another instance) / cluster.json into out; 0 or -errno. */
int fs_render_status(struct fs *fs, struct cw *out);
int fs_render_meta(struct fs *fs, uint64_t id, struct cw *out);
int fs_render_cluster(struct fs *fs, struct cw *out);
/* What another instance published as id; -ENOENT when nothing (or not in
 * a cluster). */
int fs_remote_info(struct fs *fs, uint64_t id, struct fs_remote *r);

/* remote.c: copies here the blob id another instance holds, for an open
 * of its data file (blocks a worker); 0 or -errno. */
int fs_remote_fetch(struct fs *fs, uint64_t id);
/* 0 when the caller of req may read the object of r (another instance's)
 * by the owner, group and mode its record says, else -EACCES. */
int fs_remote_may_read(fuse_req_t req, struct fs *fs,
		       const struct fs_remote *r);
/* ops_dir.c, ops_readdir.c: the tree. */
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi);
void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);

/* ops_file.c: files, and the refusals of a read-only tree. */
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_files_init(struct fs *fs);
/* Frees every open file and blob (at stop, after the kernel is gone). */
void fs_files_release(struct fs *fs);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname,
		  unsigned int flags);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		const char *newname);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		 size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi);
void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags);
void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		     off_t length, struct fuse_file_info *fi);

/* ops_file.c: drops one reference on an open file (the last frees it). */
void fs_file_drop(struct fs *fs, struct fs_file *f);

/* fs_stream.c: a byte stream's data file. */
void fs_stream_init(struct fs *fs);
/* 1 when id is a byte stream (*size: bytes sealed so far), else 0. */
int fs_stream_is(struct fs *fs, uint64_t id, uint64_t *size);
int fs_stream_open(struct fs *fs, uint64_t id, struct fs_file *f,
		   struct fuse_file_info *fi);
void fs_stream_close(struct fs *fs, struct fs_file *f);
/* Answers now or parks the read until the stream changes; owns one
 * reference on f, dropped once answered. */
void fs_stream_read(struct fs *fs, fuse_req_t req, struct fs_file *f,
		    uint64_t off, size_t size);
/* The notifier: a stream changed or went; retries parked reads. */
void fs_stream_wake(struct fs *fs);
/* Answers every parked read EIO (the workers have stopped). */
void fs_stream_stop(struct fs *fs);
void fs_stream_free(struct fs *fs);

static inline struct fs *
fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

#endif
