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

/* Returns slot i's memory: its memfd, descriptors and mapping. Its
 * chunks are all free (their bitmaps freed already). */
static void
seg_drop(struct slab *s, uint32_t i)
{
	struct slab_seg *g = &s->segs[i];

	free(g->chunks);
	munmap(g->base, SLAB_SEG_SIZE);
	close(g->fd);
	close(g->rofd);
	g->chunks = NULL;
	g->base = NULL;
	g->fd = g->rofd = -1;
	g->nfree_chunks = 0;
	s->nheld--;
}

void
slab_release(struct slab *s)
{
	uint32_t i, j;

	for (i = 0; i < s->nsegs; i++) {
		struct slab_seg *g = &s->segs[i];

		if (g->fd < 0)
			continue;
		for (j = 0; j < CHUNKS_PER_SEG; j++)
			free(g->chunks[j].bits);
		seg_drop(s, i);
	}
	free(s->segs);
	memset(s, 0, sizeof(*s));
}

uint64_t
slab_bytes(const struct slab *s)
{
	return (uint64_t)(s->nheld - s->nidle) * SLAB_SEG_SIZE;
}

uint64_t
slab_idle_bytes(const struct slab *s)
{
	return (uint64_t)s->nidle * SLAB_SEG_SIZE;
}

uint64_t
slab_trim(struct slab *s)
{
	uint64_t freed = 0;
	uint32_t i;

	for (i = 0; i < s->nsegs && s->nidle; i++)
		if (s->segs[i].fd >= 0 &&
		    s->segs[i].nfree_chunks == CHUNKS_PER_SEG) {
			seg_drop(s, i);
			s->nidle--;
			freed += SLAB_SEG_SIZE;
		}
	return freed;
}

/* A new segment in the first empty slot (or a new one); its slot in *out. */
static int
slab_grow(struct slab *s, uint32_t *out)
{
	struct slab_seg *g;
	char name[32];
	uint32_t i, j;
	int fd, rofd, rc;
	void *base;

	if (s->nheld - s->nidle >= s->limit_segs || s->nheld >= UINT32_MAX / 2)
		return -ENOSPC;
	for (i = 0; i < s->nsegs && s->segs[i].fd >= 0; i++)
		;
	snprintf(name, sizeof(name), "vineyard-seg-%u", i);
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
	if (i == s->nsegs) {
		s->segs = xreallocarray(s->segs, s->nsegs + 1,
					sizeof(*s->segs));
		s->segs[i].gen = 0;
		s->nsegs++;
	}
	g = &s->segs[i];
	g->fd = fd;
	g->rofd = rofd;
	g->base = base;
	g->gen++;
	g->nfree_chunks = CHUNKS_PER_SEG;
	g->chunks = xcalloc(CHUNKS_PER_SEG, sizeof(*g->chunks));
	for (j = 0; j < CHUNKS_PER_SEG; j++) {
		g->chunks[j].seg = i;
		g->chunks[j].idx = (uint16_t)j;
		g->chunks[j].cls = -1;
	}
	s->nheld++;
	*out = i;
	return 0;
}

/* Assigns a free chunk to class c, growing the segment list if needed. */
static struct slab_chunk *
slab_new_chunk(struct slab *s, int c, int *err)
{
	struct slab_chunk *ch = NULL;
	uint32_t i, j, words, seg = 0;
	int found = 0, idle = -1;

	/* A segment in use first: the idle one stays free to be trimmed. */
	for (i = s->nsegs; i-- > 0 && !found;) {
		struct slab_seg *g = &s->segs[i];

		if (g->fd < 0 || !g->nfree_chunks)
			continue;
		if (g->nfree_chunks == CHUNKS_PER_SEG) {
			idle = (int)i;
			continue;
		}
		seg = i;
		found = 1;
	}
	if (!found && idle >= 0) {
		seg = (uint32_t)idle;
		s->nidle--;
		found = 1;
	}
	if (!found) {
		*err = slab_grow(s, &seg);
		if (*err)
			return NULL;
	}
	for (j = 0; j < CHUNKS_PER_SEG; j++)
		if (s->segs[seg].chunks[j].cls < 0) {
			ch = &s->segs[seg].chunks[j];
			break;
		}
	s->segs[seg].nfree_chunks--;
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
		/* Whole segment free: keep one idle, return the others. */
		if (++g->nfree_chunks == CHUNKS_PER_SEG) {
			if (s->nidle == 0)
				s->nidle = 1;
			else
				seg_drop(s, seg);
		}
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
