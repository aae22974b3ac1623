/*
 * slab: size classes step by 16 bytes up to 128, then by a quarter of the
 * power of two (160, 192, 224, 256, 320, ...), so rounding wastes at most a
 * fifth. Chunk bookkeeping lives in daemon memory, never in the segment,
 * because readers map segments and must not see allocator state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "slab.h"
#include "xmalloc.h"
#include "banned.h"

#define CHUNKS_PER_SEG (SLAB_SEG_SIZE / SLAB_CHUNK)
#define SLOTS_MAX (SLAB_CHUNK / 16)

struct slab_chunk {
	struct slab_chunk *next; /* in slab.partial[cls] while it has room */
	uint32_t seg;
	uint16_t idx;            /* chunk number within the segment */
	int8_t cls;              /* -1: unused */
	uint8_t on_partial;
	uint16_t nfree;
	uint16_t nslots;
	uint64_t *bits;          /* 1 = slot free; xmalloc'd when assigned */
};

static const uint16_t class_size[] = {
	16, 32, 48, 64, 80, 96, 112, 128,
	160, 192, 224, 256, 320, 384, 448, 512,
	640, 768, 896, 1024, 1280, 1536, 1792, 2048,
	2560, 3072, 3584, 4096,
};
#define NCLASSES (sizeof(class_size) / sizeof(class_size[0]))

static int
class_of(size_t len)
{
	int i;

	for (i = 0; i < (int)NCLASSES; i++)
		if (len <= class_size[i])
			return i;
	return -1;
}

size_t
slab_class_size(size_t len)
{
	int c = class_of(len ? len : 1);

	return c < 0 ? 0 : class_size[c];
}

void
slab_init(struct slab *s)
{
	memset(s, 0, sizeof(*s));
	s->limit_segs = (size_t)-1;
}

void
slab_release(struct slab *s)
{
	uint32_t i, j;

	for (i = 0; i < s->nsegs; i++) {
		struct slab_seg *g = &s->segs[i];

		for (j = 0; j < CHUNKS_PER_SEG; j++)
			free(g->chunks[j].bits);
		free(g->chunks);
		munmap(g->base, SLAB_SEG_SIZE);
		close(g->fd);
		close(g->rofd);
	}
	free(s->segs);
	memset(s, 0, sizeof(*s));
}

uint64_t
slab_bytes(const struct slab *s)
{
	return (uint64_t)s->nsegs * SLAB_SEG_SIZE;
}

static int
slab_grow(struct slab *s)
{
	struct slab_seg *g;
	char name[32];
	uint32_t j;
	int fd, rofd, rc;
	void *base;

	if (s->nsegs >= s->limit_segs || s->nsegs >= UINT32_MAX / 2)
		return -ENOSPC;
	snprintf(name, sizeof(name), "vineyard-seg-%u", s->nsegs);
	rc = arena_memfd(name, SLAB_SEG_SIZE, &fd);
	if (rc)
		return rc;
	rofd = arena_reopen_ro(fd);
	if (rofd < 0) {
		close(fd);
		return rofd;
	}
	base = mmap(NULL, SLAB_SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		close(fd);
		close(rofd);
		return rc;
	}
	/* A reader can reopen its read-only descriptor writable through
	 * /proc/self/fd/N. Seal the segment so that only the mapping above
	 * can ever write it (FUTURE_WRITE keeps existing writable mappings)
	 * and nobody can resize it: a shrink would make every reader, and
	 * the daemon's next copy into the segment, die of SIGBUS. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
		rc = -errno;
		munmap(base, SLAB_SEG_SIZE);
		close(fd);
		close(rofd);
		return rc;
	}
	s->segs = xreallocarray(s->segs, s->nsegs + 1, sizeof(*s->segs));
	g = &s->segs[s->nsegs];
	g->fd = fd;
	g->rofd = rofd;
	g->base = base;
	g->nfree_chunks = CHUNKS_PER_SEG;
	g->chunks = xcalloc(CHUNKS_PER_SEG, sizeof(*g->chunks));
	for (j = 0; j < CHUNKS_PER_SEG; j++) {
		g->chunks[j].seg = s->nsegs;
		g->chunks[j].idx = (uint16_t)j;
		g->chunks[j].cls = -1;
	}
	s->nsegs++;
	return 0;
}

/* Assigns a free chunk to class c, growing the segment list if needed. */
static struct slab_chunk *
slab_new_chunk(struct slab *s, int c, int *err)
{
	struct slab_chunk *ch = NULL;
	uint32_t i, j, words;

	for (i = s->nsegs; i-- > 0 && !ch;) {
		struct slab_seg *g = &s->segs[i];

		if (!g->nfree_chunks)
			continue;
		for (j = 0; j < CHUNKS_PER_SEG; j++)
			if (g->chunks[j].cls < 0) {
				ch = &g->chunks[j];
				g->nfree_chunks--;
				break;
			}
	}
	if (!ch) {
		*err = slab_grow(s);
		if (*err)
			return NULL;
		ch = &s->segs[s->nsegs - 1].chunks[0];
		s->segs[s->nsegs - 1].nfree_chunks--;
	}
	ch->cls = (int8_t)c;
	ch->nslots = (uint16_t)(SLAB_CHUNK / class_size[c]);
	ch->nfree = ch->nslots;
	words = (ch->nslots + 63) / 64;
	ch->bits = xcalloc(words, sizeof(uint64_t));
	for (j = 0; j < ch->nslots; j++)
		ch->bits[j / 64] |= 1ull << (j % 64);
	ch->next = s->partial[c];
	ch->on_partial = 1;
	s->partial[c] = ch;
	return ch;
}

int
slab_alloc(struct slab *s, size_t len, uint32_t *seg, uint32_t *off)
{
	struct slab_chunk *ch;
	int c = class_of(len ? len : 1), err = 0;
	uint32_t w, slot;

	if (c < 0)
		return -EINVAL;
	ch = s->partial[c];
	if (!ch) {
		ch = slab_new_chunk(s, c, &err);
		if (!ch)
			return err;
	}
	for (w = 0; !ch->bits[w]; w++)
		;
	slot = w * 64 + (uint32_t)__builtin_ctzll(ch->bits[w]);
	ch->bits[w] &= ~(1ull << (slot % 64));
	if (--ch->nfree == 0) {
		s->partial[c] = ch->next;
		ch->on_partial = 0;
	}
	*seg = ch->seg;
	*off = (uint32_t)ch->idx * SLAB_CHUNK + slot * class_size[c];
	s->used += class_size[c];
	return 0;
}

void
slab_free(struct slab *s, uint32_t seg, uint32_t off, size_t len)
{
	struct slab_seg *g = &s->segs[seg];
	struct slab_chunk *ch = &g->chunks[off / SLAB_CHUNK];
	int c = ch->cls;
	uint32_t slot;

	(void)len;
	slot = (off % SLAB_CHUNK) / class_size[c];
	ch->bits[slot / 64] |= 1ull << (slot % 64);
	ch->nfree++;
	s->used -= class_size[c];
	if (ch->nfree == ch->nslots) {
		/* Whole chunk free: unlink it and hand it back to the segment. */
		struct slab_chunk **pp = &s->partial[c];

		while (ch->on_partial && *pp != ch)
			pp = &(*pp)->next;
		if (ch->on_partial)
			*pp = ch->next;
		free(ch->bits);
		ch->bits = NULL;
		ch->cls = -1;
		ch->on_partial = 0;
		ch->next = NULL;
		g->nfree_chunks++;
	} else if (!ch->on_partial) {
		ch->next = s->partial[c];
		ch->on_partial = 1;
		s->partial[c] = ch;
	}
}

uint8_t *
slab_ptr(struct slab *s, uint32_t seg, uint32_t off)
{
	return s->segs[seg].base + off;
}
