/*
 * slab: packs small blobs (up to PROTO_SMALL_MAX bytes) into shared 2 MiB
 * segments, so a 64-byte blob costs neither a memfd nor a page. Segments are
 * memfds written only by the daemon; readers map a read-only descriptor of
 * a whole segment once and then find blobs by (segment, offset).
 *
 * Segments are carved into 64 KiB chunks, each serving one size class with a
 * free-slot bitmap. A segment whose last chunk is freed is returned (its
 * memfd closed; a reader that still maps it keeps only its own mapping):
 * except one, kept idle so that a put/delete cycle does not create and
 * destroy a memfd each time; slab_trim() returns that one too. A slot whose
 * memfd went is reused by a later segment with the next generation number,
 * so a front can tell readers that their mapping of that slot is stale.
 * Caller holds the store lock. No accounting beyond bytes of segments.
 */
#ifndef VY_SLAB_H
#define VY_SLAB_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define SLAB_SEG_SIZE PROTO_SEG_SIZE
#define SLAB_CHUNK (64u << 10)
#define SLAB_MAX_ITEM 4096u

struct slab_chunk;
struct slab_seg {
	int fd;         /* read-write memfd, daemon only; -1: slot empty */
	int rofd;       /* read-only reopen, handed to readers */
	uint8_t *base;  /* daemon's read-write mapping */
	uint32_t gen;   /* bumped each time the slot gets a new memfd */
	uint32_t nfree_chunks;
	struct slab_chunk *chunks; /* SLAB_SEG_SIZE / SLAB_CHUNK entries */
};

struct slab {
	struct slab_seg *segs; /* nsegs slots, some may be empty */
	uint32_t nsegs;
	uint32_t nheld;        /* slots holding a memfd */
	uint32_t nidle;        /* of which wholly free (at most one) */
	uint64_t used;         /* bytes handed out, by size class */
	struct slab_chunk *partial[32]; /* per class: chunks with a free slot */
	size_t limit_segs;     /* most segments in use the caller allows */
};

void slab_init(struct slab *s);
void slab_release(struct slab *s);
/* Finds room for len bytes (0..SLAB_MAX_ITEM). Returns 0, -ENOSPC when the
 * segment budget or memory is exhausted, or -errno. */
int slab_alloc(struct slab *s, size_t len, uint32_t *seg, uint32_t *off);
void slab_free(struct slab *s, uint32_t seg, uint32_t off, size_t len);
uint8_t *slab_ptr(struct slab *s, uint32_t seg, uint32_t off);
/* Bytes a blob of len bytes occupies (its size class). */
size_t slab_class_size(size_t len);
/* Bytes of the segments in use (holding at least one blob). */
uint64_t slab_bytes(const struct slab *s);
/* Bytes of the idle segment kept for reuse (0 or SLAB_SEG_SIZE): held,
 * but given back by slab_trim whenever the memory is wanted. */
uint64_t slab_idle_bytes(const struct slab *s);
/* Returns the idle segment's memory; how many bytes that freed. */
uint64_t slab_trim(struct slab *s);

#endif
