/*
 * t_idtab: the id table under long random runs of insert, delete and get
 * against a reference, with dense runs of sequential ids (long probe
 * chains that wrap around the end of the table) and random 64-bit ids.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idtab.h"
#include "test.h"
#include "banned.h"

struct ent {
	uint64_t id; /* first: the key */
	int live;
};

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
test_empty(void)
{
	struct idtab t;
	size_t pos = 0;

	idtab_init(&t);
	CHECK(idtab_get(&t, 1) == NULL);
	CHECK(idtab_del(&t, 1) == NULL);
	CHECK(idtab_next(&t, &pos) == NULL);
	idtab_release(&t);
	idtab_release(&t);
}

static void
test_basic(void)
{
	struct ent e[3] = { { 5, 0 }, { 0x8000000000000005ull, 0 },
			    { UINT64_MAX, 0 } };
	struct idtab t;
	size_t pos = 0, n = 0;

	idtab_init(&t);
	CHECK_EQ(idtab_put(&t, &e[0]), 0);
	CHECK_EQ(idtab_put(&t, &e[1]), 0);
	CHECK_EQ(idtab_put(&t, &e[2]), 0);
	CHECK_EQ(t.count, 3);
	CHECK(idtab_get(&t, 5) == &e[0]);
	CHECK(idtab_get(&t, 0x8000000000000005ull) == &e[1]);
	CHECK(idtab_get(&t, UINT64_MAX) == &e[2]);
	CHECK(idtab_get(&t, 6) == NULL);
	while (idtab_next(&t, &pos))
		n++;
	CHECK_EQ(n, 3);
	CHECK(idtab_del(&t, 5) == &e[0]);
	CHECK(idtab_del(&t, 5) == NULL);
	CHECK(idtab_get(&t, 0x8000000000000005ull) == &e[1]);
	CHECK_EQ(t.count, 2);
	idtab_release(&t);
}

/* Runs ops random operations over a key space; ids come from idfn. */
static void
run_random(size_t nkeys, size_t ops, uint64_t (*idfn)(size_t))
{
	struct ent *ref = calloc(nkeys, sizeof(*ref));
	struct idtab t;
	size_t i, step, live = 0, pos;
	struct ent *p;
	int bad = 0;

	for (i = 0; i < nkeys; i++)
		ref[i].id = idfn(i);
	idtab_init(&t);
	for (step = 0; step < ops; step++) {
		size_t k = rnd() % nkeys;
		uint64_t op = rnd() % 8;

		if (op < 4) {
			if (!ref[k].live) {
				if (idtab_put(&t, &ref[k]))
					bad++;
				ref[k].live = 1;
				live++;
			}
		} else if (op < 7) {
			p = idtab_del(&t, ref[k].id);
			if (p != (ref[k].live ? &ref[k] : NULL))
				bad++;
			if (ref[k].live) {
				ref[k].live = 0;
				live--;
			}
		} else {
			p = idtab_get(&t, ref[k].id);
			if (p != (ref[k].live ? &ref[k] : NULL))
				bad++;
		}
		if (t.count != live || (t.cap && t.count * 2 > t.cap))
			bad++;
		/* every so often, check every key */
		if (step % 5000 == 0)
			for (i = 0; i < nkeys; i++)
				if (idtab_get(&t, ref[i].id) !=
				    (ref[i].live ? &ref[i] : NULL))
					bad++;
	}
	CHECK_EQ(bad, 0);
	for (i = 0; i < nkeys; i++)
		if (idtab_get(&t, ref[i].id) != (ref[i].live ? &ref[i] : NULL))
			bad++;
	CHECK_EQ(bad, 0);
	/* iteration visits each live entry once */
	pos = 0;
	i = 0;
	while ((p = idtab_next(&t, &pos))) {
		if (!p->live)
			bad++;
		p->live = 2;
		i++;
	}
	CHECK_EQ(i, live);
	for (i = 0; i < nkeys; i++)
		if (ref[i].live == 1)
			bad++;
	CHECK_EQ(bad, 0);
	idtab_release(&t);
	free(ref);
}

static uint64_t
seq_id(size_t i)
{
	return i + 1;
}

static uint64_t
rand_id(size_t i)
{
	(void)i;
	/* never 0; collisions in 64 bits are out of the question */
	return rnd() | 1;
}

/* Ids that differ only in high bits: a weak hash would pile them up. */
static uint64_t
high_id(size_t i)
{
	return ((uint64_t)(i + 1) << 40) | 0x8000000000000000ull;
}

static void
test_random_sequential_ids(void)
{
	run_random(64, 100000, seq_id);   /* a small, very dense table */
	run_random(5000, 300000, seq_id);
}

static void
test_random_random_ids(void)
{
	run_random(20000, 300000, rand_id);
}

static void
test_random_high_bit_ids(void)
{
	run_random(4000, 200000, high_id);
}

/* Filling and emptying again leaves a table that still works. */
static void
test_fill_and_empty(void)
{
	enum { N = 10000 };
	struct ent *e = calloc(N, sizeof(*e));
	struct idtab t;
	size_t i;
	int bad = 0;

	idtab_init(&t);
	for (i = 0; i < N; i++) {
		e[i].id = i * 7919 + 1;
		CHECK_EQ(idtab_put(&t, &e[i]), 0);
	}
	CHECK_EQ(t.count, N);
	for (i = 0; i < N; i += 2)
		if (idtab_del(&t, e[i].id) != &e[i])
			bad++;
	for (i = 0; i < N; i++)
		if (idtab_get(&t, e[i].id) != (i % 2 ? &e[i] : NULL))
			bad++;
	for (i = 1; i < N; i += 2)
		if (idtab_del(&t, e[i].id) != &e[i])
			bad++;
	CHECK_EQ(bad, 0);
	CHECK_EQ(t.count, 0);
	for (i = 0; i < t.cap; i++)
		if (t.slots[i])
			bad++;
	CHECK_EQ(bad, 0);
	CHECK_EQ(idtab_put(&t, &e[3]), 0);
	CHECK(idtab_get(&t, e[3].id) == &e[3]);
	idtab_release(&t);
	free(e);
}

TEST_MAIN(RUN(test_empty); RUN(test_basic);
	  RUN(test_random_sequential_ids); RUN(test_random_random_ids);
	  RUN(test_random_high_bit_ids); RUN(test_fill_and_empty))
