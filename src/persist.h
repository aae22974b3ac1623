/*
 * persist: the data directory, as files. Lays it out, writes files
 * atomically (temp file, fsync, rename, then one fsync of the directory
 * for a batch), scans it at start-up (removing temp files a crash left and
 * moving damaged files aside), loads blob bytes back, and removes files of
 * objects that went. Knows files and bytes, never the store: diskfmt.c says
 * what is in a file, the store (store_pjob.c, store_writer.c) decides what
 * to write and when.
 *
 *   DIR/format        "vineyard data directory" and the format number
 *   DIR/lock          flock'ed by the daemon using DIR; holds its pid
 *   DIR/objects/      o<16 hex>.blob, o<16 hex>.obj, o<16 hex>.anchor,
 *                     group-<16 hex>.log (persist_log.c)
 *   DIR/damaged/      files that failed their checks, kept for inspection
 *
 * Errors are 0 or -errno with a sentence in persist_errmsg() (per thread).
 * Not locked: callers serialise writes (one writer thread); loads may run
 * beside them, because files only ever appear whole (rename).
 */
#ifndef VY_PERSIST_H
#define VY_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "diskfmt.h"

struct persist;

/* Opens DIR for one daemon: creates what is missing (mode 0700), checks
 * the format and that DIR is writable, and takes the lock. On failure
 * returns -errno and writes a sentence for the user into err. */
int persist_open(const char *dir, struct persist **out, char *err,
		 size_t errlen);
/* Releases the lock. NULL is a no-op. */
void persist_close(struct persist *p);
const char *persist_dir(const struct persist *p);
/* Records the calling process's pid in the lock file (after a fork). */
void persist_note_pid(struct persist *p);
const char *persist_errmsg(void);

/* ---- writing ---- */

/* A file being written: invisible under a temp name until committed. */
struct persist_file {
	int fd;            /* open until persist_sync */
	uint8_t kind;      /* DISKFMT_* */
	uint64_t id;
	uint64_t len;      /* bytes of the file */
	char name[40];     /* its final name in objects/ */
	char tmp[80];      /* its name in objects/ meanwhile */
};

/* Writes a blob file for id (header flags DISKFMT_F_*, owner) from len
 * bytes read from srcfd (at offset 0), or when srcfd < 0 at src; LZ4 at
 * level. Stops with -ECANCELED when *cancel becomes nonzero. On error
 * nothing is left on disk. */
int persist_write_blob(struct persist *p, uint64_t id, uint16_t flags,
		       const struct diskfmt_owner *owner, int srcfd,
		       const void *src, size_t len, int level,
		       const volatile int *cancel, struct persist_file *f);
/* Writes a whole record file (diskfmt_object_file, diskfmt_anchor_file). */
int persist_write_record(struct persist *p, uint8_t kind, uint64_t id,
			 const void *buf, size_t len, struct persist_file *f);
/* Writes the committed content file of id (kind DISKFMT_BLOB or
 * DISKFMT_OBJECT) again, in the current format with a header that names
 * owner: the body is copied as it is. Commit f like a new file; until
 * then the old one stands. -EBADMSG when the old file is damaged. */
int persist_rewrite_owner(struct persist *p, uint8_t kind, uint64_t id,
			  const struct diskfmt_owner *owner,
			  struct persist_file *f);
/* ---- group logs (persist_log.c) ----
 * A group of small content files made durable as one file, with one
 * fsync of it and one of the directory. The files themselves are written
 * from it only when one of them is removed, rewritten, quarantined or
 * read (the functions below that take an id do it), and at start-up
 * (persist_scan). The objects must stay in memory meanwhile: only slab
 * blobs and records go into a log. */
struct persist_item {
	uint8_t kind;          /* DISKFMT_BLOB or DISKFMT_OBJECT */
	uint64_t id;
	const void *buf;       /* the content file's bytes */
	size_t len;
};
/* Writes the group's log and makes it durable; *seq names it. */
int persist_log_commit(struct persist *p, const struct persist_item *v,
		       size_t n, uint64_t *seq);
/* Removes a committed log that was not applied (its persist failed
 * after all); durable on return. */
int persist_log_drop(struct persist *p, uint64_t seq);
/* Logs committed and not applied yet. */
size_t persist_log_pending(struct persist *p);
/* The bytes of a blob's content file for a group log (persist_write_blob
 * into memory): *out is malloc'ed, *outlen its length. 0 or -errno. */
int persist_blob_image(uint64_t id, uint16_t flags,
			const struct diskfmt_owner *owner, const void *src,
			size_t len, int level, uint8_t **out, size_t *outlen);

/* Makes every file written so far durable at once (syncfs of the data
 * directory's file system): cheaper than persist_sync of each from a few
 * files on. Then persist_sync_done() closes each. */
int persist_sync_group(struct persist *p);
int persist_sync_done(struct persist *p, struct persist_file *f);
/* Flushes f to disk and closes it. */
int persist_sync(struct persist *p, struct persist_file *f);
/* Closes f without flushing it: for files that need not survive a crash
 * (spill files), still renamed into place whole by persist_commit. */
int persist_close_file(struct persist *p, struct persist_file *f);
/* Gives f its final name, replacing any older file of the same object. */
int persist_commit(struct persist *p, struct persist_file *f);
/* Drops an uncommitted file. */
void persist_discard(struct persist *p, struct persist_file *f);
/* Makes renames and removals in objects/ durable. */
int persist_sync_dir(struct persist *p);
/* Removes a committed file; 0 when it was not there. */
int persist_remove(struct persist *p, uint8_t kind, uint64_t id);
/* Renames a committed file to its trash name (back: and back again), so
 * that a delete can be undone until it is decided; -ENOENT when there is
 * no such file, or when a group log holds it (persist_remove then applies
 * the log first). Start-up removes trash files like temp files. */
int persist_trash(struct persist *p, uint8_t kind, uint64_t id, int back);
/* Removes a file's trash name; 0 when it was not there. */
int persist_remove_trash(struct persist *p, uint8_t kind, uint64_t id);
/* Removes every file of objects/ (a spill directory at start-up: its
 * files belong to a daemon that is gone); *n gets how many. */
int persist_clear(struct persist *p, uint64_t *n);
/* Moves a file into damaged/ and logs why. */
void persist_quarantine(struct persist *p, uint8_t kind, uint64_t id,
			const char *why);

/* ---- reading ---- */

/* Blob files up to this size are read whole by the scan (small blobs,
 * which come back into memory at once); records always are. */
#define PERSIST_READ_WHOLE (8u << 10)

struct persist_entry {
	struct diskfmt_hdr hdr;  /* checked: kind and id match the name */
	uint64_t file_len;
	const uint8_t *body;     /* record, or small blob: the whole body;
				  * big blob: NULL (see persist_load_blob) */
};

struct persist_scan_stats {
	uint64_t files;     /* accepted */
	uint64_t temps;     /* temp files removed */
	uint64_t damaged;   /* moved to damaged/ */
	uint64_t newer;     /* of which written by a newer format */
	uint64_t strays;    /* names that are not ours, left alone */
	uint64_t logs;      /* group logs read (in place) */
	uint64_t logfiles;  /* content files accepted from them */
};

/* Calls fn for each content file in a group log (persist_log.c), then for
 * each file of objects/ that passes the format's checks; fn
 * returns NULL to accept it or a reason to have it moved to damaged/.
 * The entry is valid during the call only. */
typedef const char *(*persist_scan_fn)(void *ctx,
				       const struct persist_entry *e);
int persist_scan(struct persist *p, persist_scan_fn fn, void *ctx,
		 struct persist_scan_stats *st);

/* Reads and decodes blob id (exactly len bytes, the header's) into dstfd
 * from offset 0, or when dstfd < 0 into dst. -EBADMSG when the file is
 * damaged (why says how; what was written is garbage then), -ENOENT when
 * it is gone, or another -errno for I/O errors. */
int persist_load_blob(struct persist *p, uint64_t id, int dstfd, void *dst,
		      uint64_t len, const char **why);

/* The file name of an object's file of a kind: o<hex>.blob etc. */
void persist_name(uint8_t kind, uint64_t id, char *out, size_t len);

#endif
