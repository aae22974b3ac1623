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

struct store;
struct cw;
struct fs;

struct fs_cfg {
	const char *mount;     /* an existing, empty directory */
	int allow_other;       /* let other users in (mount option) */
	int force_cached;      /* never use passthrough */
	/* Appends status.json (the same JSON as `vineyardctl --json status`)
	 * to out; 0 or -errno. Called from fs threads. NULL: a short form
	 * made from store_status(). */
	int (*status_json)(void *ctx, struct cw *out);
	void *status_ctx;
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
