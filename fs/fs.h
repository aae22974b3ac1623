/*
 * fs: the FUSE view of the store, in the daemon's process. A read-only
 * tree (documented in vineyard-fs(7)):
 *
 *   MNT/objects/<id>/meta.json   metadata as JSON
 *   MNT/objects/<id>/typename    one line
 *   MNT/objects/<id>/data        blobs: the bytes
 *   MNT/objects/<id>/<member>    symbolic link to ../<member id>
 *   MNT/names/<name>             symbolic link to ../objects/<id>
 *   MNT/status.json              the daemon's figures
 *   MNT/cluster.json             the cluster (vineyardd --etcd)
 *
 * In a cluster, objects/ also shows the objects other instances
 * published (meta.json, typename), and names/ resolves their names. The
 * first open of such a blob's data copies it here (remote.c), after which
 * it is a local blob like any other.
 *
 * Blob files are passed through to the blob's memfd where the kernel and
 * our privileges allow (mode "passthrough"), else served from store memory
 * with the kernel's page cache kept (mode "cached"). The mode is decided
 * once, when the kernel starts the mount.
 *
 * The fs runs its own threads and reads the store only through store.h.
 * fs_start and fs_stop are called from the daemon's main thread.
 */
#ifndef VY_FS_H
#define VY_FS_H

#include <stddef.h>
#include <sys/types.h>

struct store;
struct cw;
struct fs;

/* What another instance published, for its directory in objects/. */
struct fs_remote {
	char typename[256];
	uint64_t nbytes;
	uint32_t instance;
	int alive;
	/* whose it is, from its record: shown and checked as a local
	 * object's; has_owner 0 for a record without one (an older daemon) */
	int has_owner;
	uint32_t uid, gid;
	unsigned mode;
};

/* The daemon's cluster, read from its cache (never waits on etcd); called
 * from fs threads. Each returns -ENOENT (-EAGAIN before the cluster is
 * attached) when it has nothing. */
struct fs_cluster {
	int (*json)(void *ctx, struct cw *out);          /* cluster.json */
	int (*info)(void *ctx, uint64_t id, struct fs_remote *r);
	int (*meta)(void *ctx, uint64_t id, struct cw *out); /* meta.json */
	/* published ids this daemon does not hold; *ids malloc'd */
	int (*ids)(void *ctx, uint64_t **ids, size_t *n);
	/* Copies the object id another instance holds into this store
	 * (one transfer however many ask) and returns once it is here:
	 * blocks, so only a worker thread calls it; -ECANCELED soon after
	 * *stop is set. -EREMOTE when the bytes cannot be fetched at all
	 * (their instance is gone or has no --rpc); the reason in msg. */
	int (*fetch)(void *ctx, uint64_t id, const int *stop, char *msg,
		     size_t len);
	/* the id a cluster name stands for (names of objects not here) */
	int (*name)(void *ctx, const char *name, uint64_t *id);
};

struct fs_cfg {
	const char *mount;     /* an existing, empty directory */
	int allow_other;       /* let other users in (mount option) */
	int force_cached;      /* never use passthrough */
	/* With gate, the socket file's mode and group: the root directory
	 * gets that group and lets in (r-x) the owner and whichever of
	 * group and others the socket lets connect. Without: open to all
	 * (0555), as for tests that have no socket. */
	int gate;
	unsigned socket_mode;
	gid_t socket_gid;
	/* Appends status.json (the same JSON as `vineyardctl --json status`)
	 * to out; 0 or -errno. Called from fs threads. NULL: a short form
	 * made from store_status(). */
	int (*status_json)(void *ctx, struct cw *out);
	void *status_ctx;
	/* NULL without --etcd: no cluster.json, no remote objects */
	const struct fs_cluster *cluster;
	void *cluster_ctx;
};

/* Checks the mountpoint (taking over a stale mount left by a killed
 * daemon), mounts, starts the threads and waits for the kernel's INIT.
 * On success *out is the running fs. On failure returns -errno, writes a
 * sentence for the user into err, and nothing is left mounted. */
int fs_start(struct store *s, const struct fs_cfg *cfg, struct fs **out,
	     char *err, size_t errlen);
/* "passthrough" or "cached"; for server_cfg.fs_mode. ctx is a struct fs. */
const char *fs_mode(void *ctx);
/* Returns once every store change made before the call is visible in the
 * mount: the kernel's cached entries for deleted objects and dropped or
 * re-pointed names are gone. For server_cfg.fs_sync; ctx is a struct fs.
 * Must not be called with the store lock held. */
void fs_sync(void *ctx);
/* The absolute mount path. */
const char *fs_mountpoint(struct fs *fs);
/* Stops the threads, unmounts and releases every pin. NULL is a no-op.
 * Must come before store_free(). */
void fs_stop(struct fs *fs);

#endif
