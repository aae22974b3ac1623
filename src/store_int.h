/*
 * store_int: what the store_*.c files share and nothing outside them sees
 * (SQLite's sqliteInt.h pattern); the public facade is store.h. Every
 * function here expects the store lock held unless its comment says
 * otherwise.
 *
 * Sealed objects live in `objs`, blobs still being written in `unsealed`,
 * and deleted blobs that a reader still maps in `zombies` until their last
 * pin goes. Composite objects count references on their members, so a
 * member cannot be deleted from under its parent. Persistence: the data
 * directory's files are written by one writer thread and blobs read back by
 * one loader thread, never with the lock held during I/O (store_pjob.c).
 *
 *   store.c          the facade's lifecycle: errors, the lock, ids, the
 *                    memory limit, store_new/store_free, store_status
 *   store_pin.c      owners and the pins they hold; release
 *   store_blob.c     blob create, seal, abort, small puts
 *   store_object.c   object put, get, blob open, delete; walk and lookup
 *   store_list.c     info, metadata JSON, members, listing, names, watches
 *   store_pjob.c     persistence jobs: persist, unpersist, prefetch,
 *                    tickets, wait; the hooks the other files call
 *   store_writer.c   the writer and loader threads
 *   store_loader.c   load_blob: a disk-only blob back into memory
 *   store_restore.c  start-up restore of the data directory
 *   store_reserve.c  the reserve pool of pre-faulted memory for puts
 *   store_spill.c    spilling cold blobs to disk, the spiller thread
 *   stream.c         streams of chunks (stream.h, stream_int.h);
 *                    stream_mount.c the mount's reads of them,
 *                    stream_persist.c persist and restore
 *   store_perm.c     owners' credentials, the access rule, chmod
 *   store_adopt.c    copies of other instances' objects, under their ids
 */
#ifndef VY_STORE_INT_H
#define VY_STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "human.h"
#include "idtab.h"
#include "log.h"
#include "meta.h"
#include "names.h"
#include "object.h"
#include "persist.h"
#include "proto.h"
#include "slab.h"
#include "store.h"
#include "xmalloc.h"

/* The helpers below are internal to libvycore: not exported from a shared
 * object, whatever links it. */
#pragma GCC visibility push(hidden)

#define PERSIST_LEVEL 1 /* LZ4 acceleration: the fastest, as `lz4 -1` */

struct pin {
	uint64_t id;        /* first: idtab key */
	struct object *obj;
	uint32_t n;         /* gets not yet released */
};

struct store_owner {
	struct idtab pins;  /* struct pin; store lock */
	struct store_owner *prev, *next;
	char label[64];
	/* Credentials (store_owner_cred), fixed before the owner is used:
	 * read without the lock. Unchecked owners may do everything. */
	int has_cred;       /* uid, gid and groups are set */
	int checked;        /* has_cred, and neither root nor the daemon */
	uint32_t uid, gid;
	uint32_t *groups;   /* supplementary groups, ngroups */
	size_t ngroups;
};

/* What a request needs of an object (the mode's bits, owner's scale). */
#define PERM_R 4u
#define PERM_W 2u

struct watcher {
	store_watch_fn fn;
	void *ctx;
};

/* ---- persistence: bookkeeping ---- */

/* One per persisted object, keyed by its id. Invariant: when an object has
 * one, every member has one (persisting takes the whole closure). */
struct pobj {
	uint64_t id;        /* first: idtab key */
	uint32_t prefs;     /* member entries of persisted composites naming it */
	uint8_t explicit_;  /* persisted by request, not only as a member */
	uint8_t anchored;   /* its anchor file exists */
	uint8_t rootfile;   /* its content file has DISKFMT_F_ROOT */
	uint8_t pending;    /* its persist job has not finished */
	uint64_t content;   /* bytes of its content file (0 while pending) */
	uint64_t anchor;    /* bytes of its anchor file */
	uint64_t raw;       /* content bytes before compression */
};

/* Work for the writer (persist, anchors, rm, quar: in that order) or the
 * loader (loads). One store call queues at most one job. */
struct pjob {
	struct pjob *next;
	uint64_t ticket;
	uint64_t *persist;  /* objects to persist, as one group */
	size_t npersist;
	uint64_t *anchors;  /* objects whose anchor file to rewrite or drop */
	size_t nanchors;
	uint64_t *rm;       /* objects whose files go */
	size_t nrm;
	uint64_t *quar;     /* objects whose files move to damaged/ */
	size_t nquar;
	uint64_t *loads;    /* lazy blobs to read back */
	size_t nloads;
	int decided;        /* a delete decided on disk (store_decide.c):
			     * files it cannot remove are left to start-up */
	uint64_t *reown;    /* objects whose content file to write again
			     * with their new mode (writer, after rm) */
	size_t nreown;
	uint64_t *evict;    /* objects to spill now (loader) */
	size_t nevict;
	uint64_t room;      /* bytes of memory to spill for (loader) */
	int rc;             /* result, 0 or -errno */
	char msg[320];
};

/* The reserve pool (store_reserve.c); store lock. */
struct reserve {
	int fd;             /* the pool memfd, -1 = none */
	uint64_t id;        /* the blob id it is named after (readers see
			     * the name in their maps), kept from new_id */
	uint64_t have;      /* its bytes filled */
	uint64_t huge;      /* of them, from offset 0, in 2 MiB pages */
	uint64_t claimed;   /* have + the chunk being filled: held room */
	uint64_t cap;       /* the most it holds */
	uint64_t target;    /* what the thread fills to (<= cap) */
	int on, busy, stop;
	int orphan;         /* dropped while busy: the thread closes it */
	int cancel;         /* atomic: cut the fill short (drop, stop) */
	int failed;         /* a fill ran out of memory: wait for a put */
	int short_mem;      /* the machine has too little memory to spare */
	pthread_t thr;
	pthread_cond_t cond;
};

struct store {
	pthread_mutex_t lock;
	struct idtab objs;     /* sealed objects */
	struct idtab unsealed; /* blobs being written */
	struct idtab zombies;  /* deleted, still pinned */
	struct names names;
	struct slab slab;
	uint64_t limit;        /* bytes; UINT64_MAX = none */
	uint64_t big_bytes;    /* footprint of memfd blobs */
	uint64_t payload;      /* blob bytes */
	uint64_t nblobs;       /* sealed blobs in objs */
	uint64_t rng;          /* splitmix64 state for ids */
	uint32_t instance;     /* cluster instance id for new ids, 0 = none */
	struct store_owner owners; /* list head */
	uint64_t nowners;
	struct watcher watch[4];
	int nwatch;
	/* persistence; store lock unless said otherwise */
	struct persist *disk;  /* the data directory; NULL = none */
	struct idtab pobjs;    /* struct pobj */
	uint64_t npersisted;   /* pobjs not pending */
	uint64_t disk_bytes;   /* bytes of files of persisted objects */
	uint64_t disk_raw;     /* their content before compression */
	uint64_t damaged;      /* files found damaged (moved aside) */
	uint64_t seq;          /* next anchor sequence number */
	uint64_t tickets;      /* last ticket handed out */
	struct pjob *wq, **wq_tail;     /* writer queue */
	struct pjob *lq, **lq_tail;     /* loader queue */
	struct pjob *done, **done_tail; /* finished, for store_done_next */
	pthread_cond_t wq_cond, lq_cond, done_cond;
	pthread_cond_t load_cond;       /* an OBJ_LOADING blob finished */
	pthread_t writer, loader;
	int threads;           /* the two threads run */
	int stopping;
	volatile int cancel;   /* read by the writer without the lock */
	int efd;               /* eventfd: a job finished; -1 = none */
	uint32_t uid, gid;     /* the daemon's: own what nobody else does */
	struct reserve res;
	/* spill (store_spill.c); store lock */
	struct persist *spill; /* the spill directory; NULL = no spilling */
	struct idtab sfiles;   /* struct sfile: spill files written */
	uint64_t spill_lower, spill_upper; /* bytes of used memory */
	uint64_t lazy_bytes;   /* blob bytes on disk only (OBJ_LAZY) */
	uint64_t spill_disk;   /* bytes of spill files */
	uint64_t nspills;      /* blobs whose memory spilling freed */
	uint64_t tick;         /* use counter for object used_at */
	int spilling;          /* spill files being written */
	int spill_stop, spill_thread;
	pthread_t spiller;
	pthread_cond_t spill_cond; /* a spill finished, or memory grew */
	/* streams (stream.c) */
	struct idtab streams;  /* struct stream, by the stream object's id */
	uint64_t stream_used;  /* bytes of chunks held by streams */
	uint64_t stream_limit; /* most of them (--stream-threshold) */
	uint64_t stream_rids;  /* last reader id handed out */
};

/* store.c */
void tab_put(struct idtab *t, void *p);
/* Writes the sentence store_errmsg() returns; returns rc. */
int store_fail(int rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Takes the store lock and clears this thread's error. */
void store_lock(struct store *s);
void store_unlock(struct store *s);
void store_notify(struct store *s, enum store_event ev, uint64_t id,
		  const char *name);
uint64_t used_bytes(const struct store *s);
/* Whether fp more bytes fit the limit. The idle segment the slab keeps
 * is memory though not counted in used_bytes: it is given back when fp
 * would not fit beside it. */
int store_fits(struct store *s, uint64_t fp);
/* Lets the slab grow only into what memfd blobs leave under the limit;
 * call before slab_alloc. */
void slab_limit_update(struct store *s);
/* -ENOSPC with a sentence naming the limit and what is used. */
int fail_nospace(struct store *s, uint64_t want);
uint64_t new_id(struct store *s, int blob);
void obj_destroy(struct store *s, struct object *o);

/* store_pin.c */
void obj_unpin(struct store *s, struct object *o, uint32_t n);
void store_pin(struct store_owner *ow, struct object *o);
/* Whether ow holds a pin on id (its client maps the blob). */
int store_holds(struct store_owner *ow, uint64_t id);

/* store_blob.c */
/* Sealing unsealed blob o, in two steps so that a caller sealing several
 * can check them all before changing any: seal_prepare does what can fail
 * (the read-only descriptor, the kernel seals; -EBUSY while a writable
 * mapping remains) and leaves o in the unsealed table; seal_commit, which
 * cannot fail, makes it a sealed blob. A blob prepared but not committed
 * needs no undo beyond closing *rofd: its kernel seals only stop writes
 * the writer had finished, and sealing it again later succeeds. */
int seal_prepare(struct store *s, struct object *o, int *rofd);
void seal_commit(struct store *s, struct object *o, int rofd);
int find_unsealed(struct store *s, struct store_owner *ow, uint64_t id,
		  struct object **out);
/* store_blob_create and store_blob_put_small under a chosen id (want; 0
 * makes a new one), for copies of other instances' blobs (store_adopt.c):
 * -EEXIST when want is in use. They take the lock themselves. blob_create
 * with nowait never waits for the reserve pool (streams). */
int blob_create(struct store *s, struct store_owner *ow, size_t len,
		unsigned mode, int nowait, uint64_t want, uint64_t *id,
		int *fd, uint64_t *huge);
int small_put(struct store *s, struct store_owner *ow, const void *p,
	      size_t len, unsigned mode, uint64_t want, uint64_t *id);
int id_in_use(struct store *s, uint64_t id);

/* store_object.c */
/* Members of o in order: obj_members starts, then while
 * (obj_member_next(&it)) use it.id, it.name; a malformed stored document
 * is fatal (the store checked it when storing it). */
void obj_members(const struct object *o, struct meta_members *it);
int obj_member_next(struct meta_members *it);
/* Calls fn on root and every member below it, each once. */
void store_walk(struct store *s, struct object *root,
		int (*fn)(struct store *s, struct object *o, void *ctx),
		void *ctx);
struct object *store_lookup(struct store *s, uint64_t id);
/* With deep, members left unreferenced go too, those ow may write (NULL:
 * all). */
void obj_delete(struct store *s, struct object *root, int deep, size_t *count,
		struct pjob **jp, int quarantine,
		const struct store_owner *ow);

/* store_decide.c */
/* ow: whose delete (members it may not write stay, as in obj_delete). */
int store_delete_decide(struct store *s, const uint64_t *ids, size_t n,
			int deep, const struct store_owner *ow);

/* store_list.c */
const char **names_of(struct object *o, size_t *n);

/* store_pjob.c */
struct pobj *pobj_of(struct store *s, uint64_t id);
void ids_add(uint64_t **v, size_t *n, uint64_t id);
struct pjob *job_get(struct pjob **jp);
void job_free(struct pjob *j);
uint64_t job_submit(struct store *s, struct pjob *j, int loader);
void pobj_drop(struct store *s, struct pobj *p, struct pjob **jp,
	       int quarantine);
void anchor_dirty(struct store *s, struct object *o, struct pjob **jp);
void jfail(struct pjob *j, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lazy_ids(struct store *s, struct object *root, uint64_t **ids, size_t *n);

/* store_writer.c */
int load_blob(struct store *s, uint64_t id);
void threads_start(struct store *s);
void threads_stop(struct store *s);

/* store_restore.c */
int store_restore(struct store *s);

/* store_spill.c */
/* Opens and empties the spill directory (cfg->spill_dir NULL: no
 * spilling); spill_run() starts the spiller thread once the store is
 * built. */
int spill_start(struct store *s, const struct store_cfg *cfg);
void spill_run(struct store *s);
void spill_stop(struct store *s);   /* the thread; lock not held */
void spill_release(struct store *s); /* removes the files; at the end */
/* Spills least recently used blobs until fp more bytes fit; may let go of
 * the lock. 0 when they fit, else -ENOSPC (or why spilling failed) with
 * a sentence. */
int spill_room(struct store *s, uint64_t fp);
/* Spills the blobs of the objects ids now (their holds cleared; those in
 * use stay); lock held, let go while files are written. 0 or -errno with a
 * sentence. */
int spill_evict(struct store *s, const uint64_t *ids, size_t n);
/* Wakes the spiller when used memory passed the upper threshold. */
void spill_kick(struct store *s);
/* Removes id's spill file, if any (its object goes). */
void spill_forget(struct store *s, uint64_t id);
/* Moves id's damaged spill file aside. */
void spill_damaged(struct store *s, uint64_t id, const char *why);

/* store_reserve.c */
/* cap: the most the pool holds (at most a quarter of the limit), filled
 * from the start. Lock not held for start and stop. */
void reserve_start(struct store *s, uint64_t cap);
void reserve_stop(struct store *s);
/* Room was freed: the pool may grow back to its target. */
void reserve_kick(struct store *s);
/* Gives the pool's room back (a put needs it). */
void reserve_drop(struct store *s);
/* A blob of fp bytes is being created: the pool grows towards it. */
void reserve_note(struct store *s, uint64_t fp, int nowait);
/* 1 and *fd a blob memfd of exactly len bytes made of the pool, *id the
 * id it is named after, *huge how many of its first bytes are 2 MiB pages,
 * when the pool suits len; 0 to make one the usual way. */
int reserve_take(struct store *s, size_t len, int *fd, uint64_t *id,
		 uint64_t *huge);
/* Room the pool holds now (not in used_bytes). */
uint64_t reserve_bytes(struct store *s);
/* Its bytes faulted in and ready, and what it fills towards. */
void reserve_figures(struct store *s, uint64_t *filled, uint64_t *target);
/* stream.c: hooks */
/* Fails the streams ow writes and drops its readers. */
void stream_owner_gone(struct store *s, struct store_owner *ow);
/* The stream object id is being deleted: its chunks go. */
void stream_forget(struct store *s, uint64_t id, struct pjob **jp);
int stream_state_of(struct store *s, uint64_t id);
/* Before a persist of stream o: a finished stream that still holds every
 * chunk becomes an object whose members are its chunks ("0", "1"...),
 * kept (no chunk freed as readers pass) and readable as before; 0, or an
 * error with a sentence (open, failed, chunks freed already). */
int stream_keep(struct store *s, struct object *o);
/* The same refusals without keeping anything: a group persist checks every
 * stream first, so a refusal leaves none of them kept. */
int stream_keep_check(struct store *s, struct object *o);
/* Restoring composite o: one persisted by stream_keep is a finished,
 * kept stream again. */
void stream_restored(struct store *s, struct object *o);
void stream_free_all(struct store *s);

/* store_perm.c */
/* May ow do want (PERM_R, PERM_W) to o? NULL and unchecked owners may. */
int obj_may(const struct store_owner *ow, const struct object *o,
	    unsigned want);
/* -EACCES with a sentence: who owns o, its mode, and that ow may not
 * `what` it ("delete", "read"...). */
int perm_deny(const struct store_owner *ow, const struct object *o,
	      const char *what);
/* The first object of root's tree ow may not read (store_object.c), or
 * NULL: a get checks them all before it pins or loads anything. */
struct object *tree_unreadable(struct store *s, const struct store_owner *ow,
			       struct object *root);
/* 1 when ow may change o's mode or another user's name. */
int owner_is(const struct store_owner *ow, uint32_t uid);
/* Gives a new object ow's user and group (the daemon's for NULL or an
 * unchecked owner) and mode. */
void obj_set_owner(struct store *s, struct object *o,
		   const struct store_owner *ow, unsigned mode);
/* 0, or -EINVAL with a sentence for bits outside STORE_MODE_BITS. */
int mode_check(unsigned mode);
/* The owner and mode of o as the disk format writes them. */
void obj_disk_owner(const struct object *o, struct diskfmt_owner *out);

#pragma GCC visibility pop

#endif
