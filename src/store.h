/*
 * store: the facade both fronts (the socket server and the FUSE view) call.
 * Every operation on blobs, objects and names, with its invariants, under the
 * one store lock. Knows nothing of sockets or FUSE.
 *
 * Errors are 0 or -errno. A failing call leaves a sentence for the user in
 * store_errmsg() (per thread), e.g. "object o00..01 is a member of 1 other
 * object; delete that first".
 *
 * Readers pin what they map: every blob handed out by store_get() (unless
 * metadata only) or store_blob_open() stays in memory, even after a delete,
 * until its owner releases it or the owner goes away. Memory of deleted but
 * pinned blobs still counts against the limit until then.
 *
 * Access: every object has an owner, a group and a mode (store_perm), and
 * calls made for an owner with credentials (store_owner_cred: a client
 * connection) check them, -EACCES with a sentence when refused. A NULL
 * owner, or one without credentials (the FUSE view, whose kernel checks
 * the modes itself; tests), may do everything, as root and the daemon's
 * own user may.
 *
 * Callbacks (get, list, watch) run with the store lock held: they must not
 * call back into the store, block, or keep the pointers they are given.
 *
 * Persistence: with a data directory, calls that change what must be on
 * disk (store_persist, store_unpersist, and store_obj_put, store_delete,
 * store_name_put, store_name_drop when persisted objects are involved)
 * change memory at once and queue the disk work. Each takes a uint64_t
 * *ticket (NULL when the caller does not care) and sets it to the ticket to
 * wait for before telling a client it is durable, 0 when nothing was
 * queued.
 */
#ifndef VY_STORE_H
#define VY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cborio.h"

struct store;
struct store_owner;
struct persist;

struct store_cfg {
	uint64_t limit;       /* bytes of blob memory; 0 = no limit */
	int huge_pages;       /* use transparent huge pages if the kernel lets */
	const char *data_dir; /* persisted objects live here; NULL = none */
	struct persist *persist; /* or an open one (persist_open), which the
				  * store then owns; wins over data_dir */
	uint64_t reserve;     /* pre-faulted pool for puts, bytes (at most a
			       * quarter of the limit); 0 = none */
	const char *spill_dir; /* spill cold blobs here; NULL = never */
	struct persist *spill; /* or an open one, which the store owns */
	double spill_lower, spill_upper; /* fractions of limit (0.3, 0.8) */
};

/* With a data directory, restores what it holds (damaged files are moved
 * aside and counted, never fatal) and starts the disk threads; a data_dir
 * that cannot be opened is fatal (open it first with persist_open for a
 * friendlier error). */
struct store *store_new(const struct store_cfg *cfg);
void store_free(struct store *s);
/* In a cluster: new ids carry this instance id (cluster.h), so they are
 * unique cluster-wide; 0 (the default) makes plain random ids. */
void store_set_instance(struct store *s, uint32_t instance);
const char *store_errmsg(void);

/* Owners: a client connection, or the FUSE view. Pins and unsealed blobs
 * belong to one; store_owner_free() releases them all. */
struct store_owner *store_owner_new(struct store *s, const char *label);
void store_owner_free(struct store *s, struct store_owner *o);
/* Gives o the client's credentials (SO_PEERCRED and SO_PEERGROUPS): every
 * later call for o is checked against them, and what o creates is theirs.
 * Call once, before o is used. */
void store_owner_cred(struct store *s, struct store_owner *o, uint32_t uid,
		      uint32_t gid, const uint32_t *groups, size_t ngroups);
/* Makes o anonymous, a client the kernel vouches for in no way (the TCP
 * front without its token): user and group STORE_ANON_ID (nobody and
 * nogroup), always checked, even when the daemon itself runs as nobody. */
#define STORE_ANON_ID 65534u
void store_owner_anon(struct store *s, struct store_owner *o);

/* ---- blobs ---- */

/* A writable blob of len bytes, its pages reserved, that gets mode when
 * store_blob_seal seals it. *fd is the store's read-write descriptor: send
 * it, do not close it. Until sealed only the owner sees the blob. -ENOSPC
 * when the limit or memory is exhausted. */
int store_blob_create(struct store *s, struct store_owner *o, size_t len,
		      unsigned mode, uint64_t *id, int *fd, uint64_t *huge);
/* Makes the owner's blob immutable and visible. -EBUSY if the owner still
 * has it mapped writable. */
int store_blob_seal(struct store *s, struct store_owner *o, uint64_t id);
int store_blob_abort(struct store *s, struct store_owner *o, uint64_t id);
/* A sealed blob of len <= PROTO_SMALL_MAX bytes copied from p, o's, with
 * mode. */
int store_blob_put_small(struct store *s, struct store_owner *o,
			 const void *p, size_t len, unsigned mode,
			 uint64_t *id);

/* Who owns an object, and its mode (PROTO_MODE_BITS). */
struct store_who {
	uint32_t uid, gid;
	unsigned mode;
};

/* ---- copies of other instances' objects (store_adopt.c) ----
 * Entered under the ids their instance gave them (unique cluster-wide),
 * with the owner, group and mode they have there (who), or, from an
 * instance that does not say (who NULL), the daemon user's with
 * PROTO_MODE_DEFAULT.
 * Blobs first: a large one is created writable for o under id (fill *fd,
 * then store_blob_seal or store_blob_abort), a small one (len <=
 * PROTO_SMALL_MAX) copied at once; -EEXIST when id is already here. Then
 * the composite objects, children before parents: all are added or none
 * (ids already here are skipped; a member neither here nor earlier in v is
 * -ENOENT). Counted against the limit like any blob. */
int store_adopt_blob(struct store *s, struct store_owner *o, uint64_t id,
		     size_t len, const struct store_who *who, int *fd);
int store_adopt_small(struct store *s, uint64_t id, const void *p,
		      size_t len, const struct store_who *who);
struct store_adopted {
	uint64_t id;
	const uint8_t *meta; /* its stored document (meta.h) */
	size_t metalen;
	const struct store_who *who; /* or NULL */
};
int store_adopt_objects(struct store *s, const struct store_adopted *v,
			size_t n);

/* ---- objects ---- */

/* Creates the objects of a put tree (meta.h). First seals the owner's blobs
 * in seal[] (they may be members), then binds name if given and persists if
 * asked. Every object created and every blob sealed gets mode.
 * Everything is checked before anything changes (o must be allowed to read
 * every existing member, and to re-point name if it is bound): on an error
 * no blob is sealed and no object or name added (a blob of seal[] still
 * mapped writable fails with -EBUSY; the blobs listed before it stay
 * unsealed, though the kernel already refuses writes to them). *id is the
 * root. The persist itself completes later, as for store_persist
 * (*ticket). */
int store_obj_put(struct store *s, struct store_owner *o, const void *tree,
		  size_t len, const uint64_t *seal, size_t nseal,
		  const char *name, size_t namelen, int persist,
		  unsigned mode, uint64_t *id, uint64_t *ticket);

struct store_blobref {
	uint64_t id;
	uint64_t len;
	int kind;           /* BLOB_KIND_MEMFD or BLOB_KIND_SEGMENT */
	int fd;             /* MEMFD: read-only descriptor (the store's) */
	int held;           /* the owner held a pin on it before this get */
	uint32_t seg, off;  /* SEGMENT: where */
	int seg_fd;         /* SEGMENT: read-only descriptor of the segment */
	uint32_t seg_gen;   /* SEGMENT: which memfd the slot holds (slab.h) */
	const uint8_t *ptr; /* SEGMENT: the bytes, in daemon memory */
	struct store_who who;
};

typedef int (*store_obj_fn)(void *ctx, uint64_t id, const uint8_t *meta,
			    size_t metalen, uint64_t nbytes,
			    const struct store_who *who);
typedef int (*store_blob_fn)(void *ctx, const struct store_blobref *b);

/* Walks the object id and everything it references, each once: composite
 * objects to on_obj (root first), blobs to on_blob. o must be allowed to
 * read every one of them (checked before the walk). Pins every blob for o
 * unless flags has GET_F_META. A callback's nonzero return stops the walk
 * and is returned (pins taken so far are kept; release them). Restored
 * blobs not yet read back are read first, blocking: the event loop calls
 * store_prefetch before, so it never waits here. */
int store_get(struct store *s, struct store_owner *o, uint64_t id,
	      unsigned flags, store_obj_fn on_obj, store_blob_fn on_blob,
	      void *ctx);
/* Drops one pin per id that o holds; unknown ids are ignored. */
void store_release(struct store *s, struct store_owner *o,
		   const uint64_t *ids, size_t n);
/* Pins one sealed blob for o (who must be allowed to read it) and
 * describes it. May block while a restored
 * blob is read back from disk: not for the event loop's thread. */
int store_blob_open(struct store *s, struct store_owner *o, uint64_t id,
		    struct store_blobref *b);

/* Deletes objects. Refused (-EBUSY) for an object that is a member of
 * another, -EACCES for one o may not write; then nothing goes. Unless
 * DELETE_F_SHALLOW, members left unreferenced and unnamed go too, those o
 * may write. *count gets how many objects went; *ticket the removal of
 * their files. */
int store_delete(struct store *s, struct store_owner *o, const uint64_t *ids,
		 size_t n, unsigned flags, size_t *count, uint64_t *ticket);
/* Changes the mode of each object to (mode & ~clear) | set, and with
 * CHMOD_F_TREE that of everything each references. Only the owner (or a
 * privileged o) may: -EACCES, and then nothing changes. Persisted objects
 * get their content files written again (*ticket). *count: how many
 * objects' modes changed. */
int store_chmod(struct store *s, struct store_owner *o, const uint64_t *ids,
		size_t n, unsigned clear, unsigned set, unsigned flags,
		size_t *count, uint64_t *ticket);

/* ---- persistence ---- */

/* Writes a persisted copy of the n objects of ids and all they reference
 * (lz4 files in the data directory) and marks them persisted by request,
 * as one group: all or none, with a few fsyncs for the lot. Queued: 0
 * means the job is on its way and *ticket completes when it is durable
 * (or failed: -EDQUOT when the disk is full or over quota, -EIO... with a
 * sentence; the objects stay in memory).
 * -ENOENT (nothing queued) when an id is unknown, -EACCES when o may
 * not write one; -ENOTSUP without a data
 * directory. */
int store_persist(struct store *s, struct store_owner *o,
		  const uint64_t *ids, size_t n,
		  uint64_t *ticket);
/* Drops id's persisted copy, and those of members no other persisted
 * object holds and that were not persisted by request. 0 also when id was
 * not persisted. -EBUSY when id is a member of a persisted object. Reads
 * lazily restored blobs back first (blocking; the server prefetches). */
int store_unpersist(struct store *s, struct store_owner *o, uint64_t id,
		    uint64_t *ticket);
/* Starts reading the restored blobs id references back into memory on the
 * store's loader thread; *ticket is nonzero when it did, and completes when
 * they are in (or failed; then retrying the get says why). First o must be
 * allowed what the request needs, read on every object of the tree or,
 * with PREFETCH_F_UNPERSIST, write on id: else -EACCES and nothing is
 * read from disk, so a refused client costs no disk reads and no memory.
 * 0 otherwise, also for an unknown id (the request itself says so). */
#define PREFETCH_F_UNPERSIST 0x1u
int store_prefetch(struct store *s, struct store_owner *o, uint64_t id,
		   unsigned flags, uint64_t *ticket);

/* Tickets: what the calls above set *ticket to. Jobs finish in order per
 * thread (writer, loader); store_done_fd() becomes readable when any has,
 * and store_done_next() then hands out each finished ticket once, with its
 * result and sentence (1; 0 when none is left). store_wait() instead
 * blocks until one ticket finishes and returns its result (store_errmsg()
 * says why); a store has one consumer of tickets, the server or a test. */
int store_done_fd(struct store *s); /* -1 without a data directory */
int store_done_next(struct store *s, uint64_t *ticket, int *rc, char *msg,
		    size_t len);
int store_wait(struct store *s, uint64_t ticket);

/* ---- owners and modes ---- */

/* Who owns an object or a name, and (objects) who may use it: read and
 * write bits for the owner, the group and others, as for files. Read:
 * get, meta, use as a member. Write: delete, persist, unpersist, bind a
 * name. vineyardd(8) "Users and access" is the reference. */
#define STORE_MODE_BITS 0666u
#define STORE_MODE_DEFAULT 0640u
struct store_perm {
	uint32_t uid, gid;
	uint16_t mode;      /* STORE_MODE_BITS; names: 0 */
};
/* The owner, group and mode of a sealed object; 0 or -ENOENT. */
int store_perm(struct store *s, uint64_t id, struct store_perm *out);
/* 0 when ow may read object id itself (not its members); -ENOENT, or
 * -EACCES with a sentence saying who may not `what` it. */
int store_may_read(struct store *s, struct store_owner *ow, uint64_t id,
		   const char *what);
/* The same for an object held elsewhere (another instance's), whose owner,
 * group and mode are p: 0, or -EACCES with the same sentence. */
int store_may_read_perm(struct store *s, struct store_owner *ow, uint64_t id,
			const struct store_perm *p, const char *what);
/* What name points at, and who bound it (mode 0); 0 or -ENOENT. */
int store_name_owner(struct store *s, const char *name, size_t len,
		     uint64_t *id, struct store_perm *owner);

/* What the fronts show about one sealed object. */
struct store_info {
	uint64_t id;
	uint64_t nbytes;
	uint32_t flags;     /* OBJ_*; in store_list, OBJ_LAZY also when a
			     * member blob is on disk only */
	uint32_t nmembers;
	uint32_t nnames;
	uint32_t stream;    /* a stream's state (stream.h), else 0 */
	struct store_perm perm;
	char typename[256];
};
int store_info(struct store *s, uint64_t id, struct store_info *out);
/* Appends meta.json of id to out. */
int store_meta_json(struct store *s, struct store_owner *o, uint64_t id,
		    struct cw *out);
/* Calls fn for each member of id, in stored order. */
int store_members(struct store *s, uint64_t id,
		  int (*fn)(void *ctx, const char *name, size_t len,
			    uint64_t member),
		  void *ctx);

/* Objects whose typename matches glob (fnmatch, NULL = all) with id > after,
 * in id order, at most limit (0 = all). *more says whether some were cut. */
typedef int (*store_list_fn)(void *ctx, const struct store_info *info,
			     const char *const *names, size_t nnames);
int store_list(struct store *s, const char *glob, uint64_t after,
	       size_t limit, store_list_fn fn, void *ctx, int *more);
/* Every sealed object id, sorted, in a malloc'd array. */
int store_ids(struct store *s, uint64_t **ids, size_t *n);

/* ---- spilling (store_spill.c) ---- */

/* Each call needs o to be allowed to read every object of each tree, as a
 * get does (else -EACCES, and nothing moves); an unknown id is -ENOENT. */
/* Spills every memfd blob of each object now (those a reader holds stay);
 * clears a hold. -ENOTSUP without a spill directory. With ticket, the
 * files are written on the loader thread and *ticket completes when they
 * are (0: nothing queued); without, it blocks while they are written. */
int store_evict(struct store *s, struct store_owner *o, const uint64_t *ids,
		size_t n, uint64_t *ticket);
/* Before creating blobs of lens: when they do not fit and spilling could
 * make room, queues that spilling on the loader thread and sets *ticket
 * (else 0); the caller waits for it and tries again, so the request loop
 * never writes spill files for a put. Always 0. */
int store_make_room(struct store *s, const uint64_t *lens, size_t n,
		    uint64_t *ticket);
/* hold: the blobs of each object are never spilled until released
 * (hold 0). Read them back first with store_prefetch. */
int store_hold(struct store *s, struct store_owner *o, const uint64_t *ids,
	       size_t n, int hold);
/* 1 when some blob of id is on disk only, 0 when all are in memory. */
int store_spilled(struct store *s, struct store_owner *o, uint64_t id,
		  int *out);

/* ---- names ---- */

/* Binds name to id: o must be allowed to write id, and to own name if it
 * is bound already (a re-pointed name keeps its owner). */
int store_name_put(struct store *s, struct store_owner *o, const char *name,
		   size_t len, uint64_t id, uint64_t *ticket);
int store_name_get(struct store *s, const char *name, size_t len,
		   uint64_t *id);
/* Only name's owner (or a privileged o) may drop it. */
int store_name_drop(struct store *s, struct store_owner *o, const char *name,
		    size_t len, uint64_t *ticket);
/* Names matching glob (NULL = all), sorted, with who bound each. */
int store_name_list(struct store *s, const char *glob,
		    int (*fn)(void *ctx, const char *name, uint64_t id,
			      const struct store_perm *owner),
		    void *ctx);

/* ---- change notification ---- */

enum store_event {
	STORE_EV_ADD,       /* object id became visible */
	STORE_EV_DEL,       /* object id went away */
	STORE_EV_NAME_SET,  /* name now points at id */
	STORE_EV_NAME_DROP, /* name went away (id: what it pointed at) */
	STORE_EV_STREAM,    /* stream id changed (stream.h) */
	STORE_EV_PERM,      /* object id's mode changed */
};
typedef void (*store_watch_fn)(void *ctx, enum store_event ev, uint64_t id,
			       const char *name);
/* Up to 4 watchers; each called with the lock held. Deleting an object
 * sends NAME_DROP for each of its names before its DEL. */
void store_watch(struct store *s, store_watch_fn fn, void *ctx);
/* Added for the FUSE view: removes a watcher (fn and ctx as given to
 * store_watch); when it returns, fn is not running and will not run. */
void store_unwatch(struct store *s, store_watch_fn fn, void *ctx);
/* Added for the FUSE view: 1 if id is a sealed, visible object, else 0.
 * Cheaper than store_info (no metadata parsed, no error message). */
int store_has(struct store *s, uint64_t id);
/* A fresh object id (with this daemon's instance bits) for something the
 * store does not hold: a global object (src/cluster/global.h). */
uint64_t store_new_id(struct store *s);

/* ---- figures ---- */

struct store_status {
	uint64_t objects;    /* sealed, visible, blobs included */
	uint64_t blobs;      /* of which blobs */
	uint64_t unsealed;   /* blobs being written */
	uint64_t zombies;    /* deleted, still mapped by a reader */
	uint64_t names;
	uint64_t owners;
	uint64_t payload;    /* bytes of blob data, sealed and unsealed */
	uint64_t used;       /* bytes of memory held for blobs */
	uint64_t limit;
	uint64_t segments;   /* bytes of slab segments (part of used) */
	uint64_t idle_segments; /* an empty segment kept (not in used) */
	uint64_t reserve;    /* pre-faulted pool for puts (not in used) */
	uint64_t reserve_filled; /* of which faulted in and ready */
	uint64_t reserve_target; /* what it fills towards */
	uint64_t spilled;    /* blob bytes on disk only: spilled, or
			      * restored and not read back yet */
	uint64_t spill_disk; /* bytes of spill files */
	uint64_t spills;     /* blobs spilled since start */
	const char *spill_dir; /* NULL = no spilling */
	const char *huge;    /* huge-page mode */
	/* persistence */
	uint64_t persisted;  /* persisted objects */
	uint64_t disk_bytes; /* bytes of their files */
	uint64_t disk_raw;   /* bytes before compression */
	uint64_t damaged;    /* files found damaged and moved aside */
};
void store_status(struct store *s, struct store_status *st);

#endif
