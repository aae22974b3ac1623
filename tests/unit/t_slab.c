/*
 * t_slab: size classes, placement (inside a chunk, aligned to the class,
 * never overlapping), reuse of freed slots and chunks, the segment budget,
 * the byte accounting, a random alloc/free run whose live allocations
 * each carry a pattern that must survive everything else, and segments
 * given back once empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "slab.h"
#include "test.h"
#include "banned.h"

static void
test_class_sizes(void)
{
	CHECK_EQ(slab_class_size(0), 16);
	CHECK_EQ(slab_class_size(1), 16);
	CHECK_EQ(slab_class_size(16), 16);
	CHECK_EQ(slab_class_size(17), 32);
	CHECK_EQ(slab_class_size(128), 128);
	CHECK_EQ(slab_class_size(129), 160);
	CHECK_EQ(slab_class_size(1000), 1024);
	CHECK_EQ(slab_class_size(1025), 1280);
	CHECK_EQ(slab_class_size(4095), 4096);
	CHECK_EQ(slab_class_size(4096), 4096);
	CHECK_EQ(slab_class_size(4097), 0);
	/* past 128 bytes, rounding never wastes more than a fifth */
	{
		size_t len;
		int bad = 0;

		for (len = 129; len <= SLAB_MAX_ITEM; len++) {
			size_t c = slab_class_size(len);

			if (c < len || (c - len) * 5 > c)
				bad++;
		}
		CHECK_EQ(bad, 0);
	}
}

static void
test_alloc_placement(void)
{
	struct slab s;
	uint32_t seg, off, seg2, off2;

	slab_init(&s);
	CHECK_EQ(slab_bytes(&s), 0);
	CHECK_EQ(slab_alloc(&s, 100, &seg, &off), 0);
	CHECK_EQ(s.nsegs, 1);
	CHECK_EQ(slab_bytes(&s), SLAB_SEG_SIZE);
	CHECK_EQ(s.used, 112);
	CHECK_EQ(off % 112, 0);
	CHECK(off + 112 <= SLAB_SEG_SIZE);
	CHECK_EQ(slab_alloc(&s, 100, &seg2, &off2), 0);
	CHECK_EQ(seg2, seg);
	/* same class: the next slot of the same chunk */
	CHECK_EQ(off2 / SLAB_CHUNK, off / SLAB_CHUNK);
	CHECK(off2 == off + 112 || off2 + 112 == off);
	/* another class: another chunk */
	CHECK_EQ(slab_alloc(&s, 4096, &seg2, &off2), 0);
	CHECK(off2 / SLAB_CHUNK != off / SLAB_CHUNK);
	CHECK_EQ(off2 % 4096, 0);
	CHECK_EQ(s.used, 112 * 2 + 4096);
	CHECK_EQ(slab_alloc(&s, SLAB_MAX_ITEM + 1, &seg2, &off2), -EINVAL);
	/* the daemon writes through slab_ptr; readers map the ro fd */
	memcpy(slab_ptr(&s, seg, off), "hello", 5);
	{
		uint8_t *ro = mmap(NULL, SLAB_SEG_SIZE, PROT_READ, MAP_SHARED,
				   s.segs[seg].rofd, 0);

		CHECK(ro != MAP_FAILED);
		if (ro != MAP_FAILED) {
			CHECK(memcmp(ro + off, "hello", 5) == 0);
			munmap(ro, SLAB_SEG_SIZE);
		}
		/* the reader's descriptor cannot write */
		CHECK(mmap(NULL, SLAB_SEG_SIZE, PROT_READ | PROT_WRITE,
			   MAP_SHARED, s.segs[seg].rofd, 0) == MAP_FAILED);
		CHECK(pwrite(s.segs[seg].rofd, "x", 1, 0) < 0);
	}
	/* nor can a writable reopen of it (any reader could make one via
	 * /proc/self/fd): no writes, no writable mapping, no resize */
	{
		char path[64];
		int rw;

		snprintf(path, sizeof(path), "/proc/self/fd/%d",
			 s.segs[seg].rofd);
		rw = open(path, O_RDWR | O_CLOEXEC);
		if (rw >= 0) {
			CHECK(pwrite(rw, "x", 1, 0) < 0 && errno == EPERM);
			CHECK(ftruncate(rw, 0) < 0 && errno == EPERM);
			CHECK(ftruncate(rw, SLAB_SEG_SIZE * 2) < 0);
			CHECK(mmap(NULL, SLAB_SEG_SIZE, PROT_READ | PROT_WRITE,
				   MAP_SHARED, rw, 0) == MAP_FAILED);
			close(rw);
		}
		/* the daemon's own mapping still writes */
		memcpy(slab_ptr(&s, seg, off), "HELLO", 5);
		CHECK(memcmp(slab_ptr(&s, seg, off), "HELLO", 5) == 0);
	}
	slab_release(&s);
	CHECK(s.nsegs == 0 && s.segs == NULL);
}

static void
test_reuse(void)
{
	struct slab s;
	uint32_t seg, off[3], o;
	int i;

	slab_init(&s);
	for (i = 0; i < 3; i++)
		CHECK_EQ(slab_alloc(&s, 40, &seg, &off[i]), 0);
	slab_free(&s, seg, off[1], 40);
	CHECK_EQ(s.used, 2 * 48);
	/* the freed slot is the lowest free one: it comes back first */
	CHECK_EQ(slab_alloc(&s, 33, &seg, &o), 0);
	CHECK_EQ(o, off[1]);
	slab_release(&s);
}

/* A chunk filled to the last slot moves on; freed completely it goes
 * back to the segment and may serve another class. */
static void
test_chunk_cycle(void)
{
	enum { SLOTS = SLAB_CHUNK / 4096 };
	struct slab s;
	uint32_t seg, off[SLOTS + 1], o;
	uint32_t free0;
	int i;

	slab_init(&s);
	for (i = 0; i < SLOTS; i++)
		CHECK_EQ(slab_alloc(&s, 4000, &seg, &off[i]), 0);
	/* all in one chunk */
	for (i = 1; i < SLOTS; i++)
		CHECK_EQ(off[i] / SLAB_CHUNK, off[0] / SLAB_CHUNK);
	free0 = s.segs[0].nfree_chunks;
	CHECK_EQ(slab_alloc(&s, 4000, &seg, &off[SLOTS]), 0);
	CHECK(off[SLOTS] / SLAB_CHUNK != off[0] / SLAB_CHUNK);
	CHECK_EQ(s.segs[0].nfree_chunks, free0 - 1);
	/* free the first chunk completely */
	for (i = 0; i < SLOTS; i++)
		slab_free(&s, 0, off[i], 4000);
	CHECK_EQ(s.segs[0].nfree_chunks, free0);
	CHECK_EQ(s.used, 4096);
	/* a small class may now take that chunk */
	CHECK_EQ(slab_alloc(&s, 8, &seg, &o), 0);
	CHECK_EQ(o / SLAB_CHUNK, off[0] / SLAB_CHUNK);
	slab_free(&s, 0, o, 8);
	slab_free(&s, 0, off[SLOTS], 4000);
	CHECK_EQ(s.used, 0);
	CHECK_EQ(s.segs[0].nfree_chunks, SLAB_SEG_SIZE / SLAB_CHUNK);
	slab_release(&s);
}

/* The caller's segment budget is a hard limit: -ENOSPC, then room again
 * after a free. */
static void
test_segment_budget(void)
{
	enum { PER_SEG = SLAB_SEG_SIZE / 4096 };
	struct slab s;
	uint32_t seg, off, last_seg = 0, last_off = 0;
	int i, rc = 0;

	slab_init(&s);
	s.limit_segs = 2;
	for (i = 0; i < 2 * PER_SEG && rc == 0; i++) {
		rc = slab_alloc(&s, 4096, &seg, &off);
		last_seg = seg;
		last_off = off;
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(s.nsegs, 2);
	CHECK_EQ(slab_alloc(&s, 4096, &seg, &off), -ENOSPC);
	/* other classes are out of chunks too */
	CHECK_EQ(slab_alloc(&s, 16, &seg, &off), -ENOSPC);
	CHECK_EQ(slab_bytes(&s), 2ull * SLAB_SEG_SIZE);
	slab_free(&s, last_seg, last_off, 4096);
	CHECK_EQ(slab_alloc(&s, 4096, &seg, &off), 0);
	CHECK(seg == last_seg && off == last_off);
	s.limit_segs = 0;
	slab_release(&s);
}

#define NLIVE 6000

struct live {
	uint32_t seg, off;
	uint16_t len;
	uint8_t tag;
	uint8_t used;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int
intact(struct slab *s, const struct live *l)
{
	const uint8_t *p = slab_ptr(s, l->seg, l->off);
	uint16_t i;

	for (i = 0; i < l->len; i++)
		if (p[i] != (uint8_t)(l->tag + i))
			return 0;
	return 1;
}

static void
test_random_patterns(void)
{
	static struct live v[NLIVE];
	struct slab s;
	size_t step, i;
	uint64_t used = 0;
	int bad = 0;

	slab_init(&s);
	memset(v, 0, sizeof(v));
	for (step = 0; step < 200000; step++) {
		struct live *l = &v[rnd() % NLIVE];

		if (l->used) {
			if (!intact(&s, l))
				bad++;
			slab_free(&s, l->seg, l->off, l->len);
			used -= slab_class_size(l->len);
			l->used = 0;
		} else {
			uint16_t len = (uint16_t)(rnd() % (SLAB_MAX_ITEM + 1));
			uint8_t *p;
			uint16_t k;

			if (slab_alloc(&s, len, &l->seg, &l->off)) {
				bad++;
				continue;
			}
			if (l->seg >= s.nsegs ||
			    l->off + slab_class_size(len) > SLAB_SEG_SIZE ||
			    l->off % SLAB_CHUNK % slab_class_size(len) != 0)
				bad++;
			l->len = len;
			l->tag = (uint8_t)rnd();
			l->used = 1;
			p = slab_ptr(&s, l->seg, l->off);
			for (k = 0; k < len; k++)
				p[k] = (uint8_t)(l->tag + k);
			used += slab_class_size(len);
		}
		if (s.used != used)
			bad++;
	}
	for (i = 0; i < NLIVE; i++)
		if (v[i].used && !intact(&s, &v[i]))
			bad++;
	CHECK_EQ(bad, 0);
	/* bounded: never more segments than the peak live bytes need, plus
	 * one partly used chunk per class per segment */
	CHECK(s.nsegs <= 16);
	for (i = 0; i < NLIVE; i++)
		if (v[i].used)
			slab_free(&s, v[i].seg, v[i].off, v[i].len);
	CHECK_EQ(s.used, 0);
	/* everything free: one idle segment at most, nothing counted */
	CHECK(s.nheld <= 1 && s.nidle == s.nheld);
	CHECK_EQ(slab_bytes(&s), 0);
	for (i = 0; i < s.nsegs; i++)
		CHECK(s.segs[i].fd < 0 || s.segs[i].nfree_chunks ==
		      SLAB_SEG_SIZE / SLAB_CHUNK);
	slab_release(&s);
}

/* Segments whose last blob goes are returned, but one stays idle for the
 * next put; trimmed, it goes too, and its slot comes back with the next
 * generation. A reader's mapping of a returned segment still reads. */
static void
test_reclaim(void)
{
	enum { PER_SEG = SLAB_SEG_SIZE / 4096, N = 3 * PER_SEG };
	static uint32_t seg[N], off[N];
	struct slab s;
	uint32_t g0, sg, of;
	uint8_t *ro;
	int i;

	slab_init(&s);
	for (i = 0; i < N; i++)
		CHECK_EQ(slab_alloc(&s, 4000, &seg[i], &off[i]), 0);
	CHECK_EQ(s.nheld, 3);
	CHECK_EQ(slab_bytes(&s), 3ull * SLAB_SEG_SIZE);
	memcpy(slab_ptr(&s, seg[0], off[0]), "kept", 4);
	ro = mmap(NULL, SLAB_SEG_SIZE, PROT_READ, MAP_SHARED,
		  s.segs[seg[0]].rofd, 0);
	CHECK(ro != MAP_FAILED);
	g0 = s.segs[seg[0]].gen;
	CHECK_EQ(g0, 1);
	for (i = 0; i < N; i++)
		slab_free(&s, seg[i], off[i], 4000);
	CHECK_EQ(s.used, 0);
	CHECK_EQ(s.nheld, 1);
	CHECK_EQ(s.nidle, 1);
	CHECK_EQ(slab_bytes(&s), 0);
	CHECK_EQ(slab_idle_bytes(&s), SLAB_SEG_SIZE);
	/* the idle one serves the next put: no new memfd */
	CHECK_EQ(slab_alloc(&s, 10, &sg, &of), 0);
	CHECK_EQ(s.nheld, 1);
	CHECK_EQ(s.nidle, 0);
	CHECK_EQ(slab_bytes(&s), SLAB_SEG_SIZE);
	slab_free(&s, sg, of, 10);
	CHECK_EQ(slab_trim(&s), SLAB_SEG_SIZE);
	CHECK_EQ(s.nheld, 0);
	CHECK_EQ(slab_idle_bytes(&s), 0);
	CHECK_EQ(slab_trim(&s), 0);
	/* slots come back, each with a new generation */
	CHECK_EQ(slab_alloc(&s, 10, &sg, &of), 0);
	CHECK(sg < 3);
	CHECK_EQ(s.segs[sg].gen, 2);
	CHECK_EQ(s.nsegs, 3);
	/* a reader's old mapping is its own memory now, still readable */
	if (ro != MAP_FAILED) {
		CHECK(memcmp(ro + off[0], "kept", 4) == 0);
		munmap(ro, SLAB_SEG_SIZE);
	}
	/* the budget counts segments in use, not the idle one */
	slab_free(&s, sg, of, 10);
	s.limit_segs = 1;
	for (i = 0; i < PER_SEG; i++)
		CHECK_EQ(slab_alloc(&s, 4000, &seg[i], &off[i]), 0);
	CHECK_EQ(slab_alloc(&s, 4000, &sg, &of), -ENOSPC);
	slab_release(&s);
}

TEST_MAIN(arena_init(0); RUN(test_class_sizes); RUN(test_alloc_placement);
	  RUN(test_reuse); RUN(test_chunk_cycle); RUN(test_segment_budget);
	  RUN(test_random_patterns); RUN(test_reclaim))
