/*
 * stream_int: the state of a stream, shared by stream.c (the requests),
 * stream_mount.c (the mount's reads) and stream_persist.c (persist and
 * restore). Everything here runs with the store lock held.
 */
#ifndef VY_STREAM_INT_H
#define VY_STREAM_INT_H

#include <stdint.h>

#include "meta.h"
#include "store_int.h"

struct schunk {
	uint64_t id;
	uint64_t start;       /* byte offset in the stream */
	uint64_t len;
};

struct sreader {
	uint64_t rid;
	struct store_owner *ow;
	uint64_t pos;         /* index of the next chunk to hand out */
	uint64_t keep;        /* chunks from here on are still needed */
	struct sreader *next;
};

struct stream {
	uint64_t id;          /* first: idtab key (the stream object's) */
	int state;            /* enum stream_state */
	int objects;
	struct store_owner *writer;
	uint64_t pending;     /* byte streams: the blob being written, 0 */
	uint64_t pending_len;
	struct schunk *chunks; /* held, in order: chunks[head..n) */
	size_t head, n, cap;
	uint64_t first;       /* stream index of chunks[head] */
	uint64_t held_bytes;  /* of chunks held, plus pending_len */
	uint64_t bytes;       /* ever appended */
	struct sreader *readers;
	int kept;             /* persisted: its chunks are members, kept */
	char why[240];
};

/* The id as text in buf, for messages. */
const char *stream_sid_str(uint64_t id, char buf[META_ID_LEN]);
/* Tells watchers (the mount, parked readers) the stream changed. */
void stream_changed(struct store *s, struct stream *st);
/* The stream id names, or NULL with the error set in *rc. */
struct stream *stream_find(struct store *s, uint64_t id, int *rc);
/* Frees the chunks every reader has passed. */
void stream_trim(struct store *s, struct stream *st);
/* ow's reader of st (rid 0: its only one), or NULL with the error set. */
struct sreader *stream_reader_of(struct store *s, struct stream *st,
				 struct store_owner *ow, uint64_t rid, int *rc);

#endif
