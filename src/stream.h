/*
 * stream: streams of sealed chunks, a part of the store's facade (store.h)
 * in a header of its own.
 *
 * A stream is a composite object (typename e.g. vineyard::ByteStream,
 * vineyard::DataframeStream; no members) plus state the store keeps beside
 * it: open, then finished or failed, and the list of chunks still held.
 * One writer appends chunks, each an ordinary sealed object (byte streams:
 * blobs only). Any number of readers, each with its own position, take
 * chunks in order; a new reader starts at the first chunk still held. A
 * chunk goes (deleted, its memory given back once readers release their
 * pins) when every reader open on the stream has moved past it; with no
 * reader at all, chunks are held for the one to come.
 *
 * Backpressure: the bytes of chunks held (and being written) by all streams
 * stay under a threshold (a fraction of the memory limit); a call that
 * would pass it returns -EAGAIN and the caller waits. A stream holding
 * nothing may always take one chunk, so a chunk bigger than the threshold
 * cannot deadlock.
 *
 * A writer's owner going away (a client disconnecting or dying) fails the
 * stream; readers still get the chunks sealed before, then the failure.
 * Deleting the stream object frees its chunks. Every change (append, end,
 * a chunk freed, a reader gone) sends STORE_EV_STREAM to the watchers.
 *
 * Calls return 0 or -errno with a sentence in store_errmsg(), like store.h.
 */
#ifndef VY_STREAM_H
#define VY_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

enum stream_state {
	STREAM_NONE = 0,     /* not a stream */
	STREAM_OPEN = 1,
	STREAM_FINISHED = 2,
	STREAM_FAILED = 3,
};

/* Default of vineyardd --stream-threshold: this fraction of --size. */
#define STREAM_DEFAULT_THRESHOLD 0.8

/* Sets the threshold to fraction (0 < f <= 1) of the memory limit. */
void store_stream_threshold(struct store *s, double fraction);

/* Creates a stream object of typename (byte stream unless objects), named
 * name if not NULL, of mode (its chunks get it too). Opening it for
 * writing takes write permission, for reading read permission. */
int store_stream_create(struct store *s, struct store_owner *ow,
			const char *typename, size_t typelen, int objects,
			const char *name, size_t namelen, unsigned mode,
			uint64_t *id);
/* Makes ow the stream's one writer: -EBUSY when another is, -EIO when
 * the stream failed, -EINVAL when it finished, -ENOENT / -EINVAL when id is no stream. */
int store_stream_open_writer(struct store *s, struct store_owner *ow,
			     uint64_t id);
/* A new reader of ow on the stream, at the first chunk held; *rid names
 * it in the calls below. */
int store_stream_open_reader(struct store *s, struct store_owner *ow,
			     uint64_t id, uint64_t *rid);
/* Byte streams: a writable blob of len bytes for the writer to fill (*fd
 * as store_blob_create), counted against the threshold from now on; one
 * at a time: a chunk asked for and not appended is replaced (freed).
 * -EAGAIN: no room yet. */
int store_stream_chunk(struct store *s, struct store_owner *ow, uint64_t id,
		       size_t len, uint64_t *chunk, int *fd);
/* Appends chunk: the blob from store_stream_chunk (sealed here), or for
 * object streams any sealed object not already in a stream. -EAGAIN: no
 * room yet. */
int store_stream_append(struct store *s, struct store_owner *ow, uint64_t id,
			uint64_t chunk);
/* The writer ends the stream: finished, or failed with why. */
int store_stream_end(struct store *s, struct store_owner *ow, uint64_t id,
		     int failed, const char *why);
/* Reader rid moves past the chunk it had and takes the next: 0 with
 * *chunk; 1 at the end of a finished stream; -EAGAIN when the writer has
 * not sealed the next yet; -EIO when the stream failed (after every
 * chunk sealed before). */
int store_stream_next(struct store *s, struct store_owner *ow, uint64_t id,
		      uint64_t rid, uint64_t *chunk);
/* Closes reader rid, or with rid 0 the writer role (an open stream whose
 * writer closes without finishing fails). */
int store_stream_close(struct store *s, struct store_owner *ow, uint64_t id,
		       uint64_t rid);

struct store_stream_info {
	int state;            /* enum stream_state */
	int objects;          /* an object stream (else bytes) */
	int writer;           /* a writer has it open */
	uint64_t readers;     /* readers open */
	uint64_t appended;    /* chunks ever appended */
	uint64_t first;       /* index of the first chunk held */
	uint64_t held;        /* chunks held */
	uint64_t held_bytes;  /* their bytes (and a chunk being written) */
	uint64_t bytes;       /* bytes ever appended */
	char why[240];        /* failed: why */
};
int store_stream_info(struct store *s, uint64_t id,
		      struct store_stream_info *out);

/* Calls fn for each chunk an object stream holds, named by its index in
 * the stream ("0", "1", ...), in order, under the store lock (as
 * store_members; fn's non-zero stops). 0 with no call for anything else
 * (a byte stream, any other object). */
int store_stream_chunks(struct store *s, uint64_t id,
			int (*fn)(void *ctx, const char *name, size_t len,
				  uint64_t chunk),
			void *ctx);

/* Figures for status. */
struct store_stream_totals {
	uint64_t streams, open;
	uint64_t held_bytes, threshold;
};
void store_stream_totals(struct store *s, struct store_stream_totals *t);

/* For the mount: a byte stream read as one file by reader rid of ow (an
 * open file), which moves past the chunks wholly before off - back. Copies up to len
 * bytes at off into buf, never waiting: *n bytes (0 at the end of a
 * finished stream); -EAGAIN when they are not sealed yet; -EIO when the
 * stream failed and off is past what was sealed; -ENODATA when off is
 * before the first chunk still held. *size gets the bytes appended. */
int store_stream_pread(struct store *s, struct store_owner *ow, uint64_t id,
		       uint64_t rid, uint64_t off, uint64_t back, void *buf,
		       size_t len, size_t *n, uint64_t *size);
/* The bytes appended to byte stream id so far; -ENOENT / -EINVAL. */
int store_stream_size(struct store *s, uint64_t id, uint64_t *size);

#endif
