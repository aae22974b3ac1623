/*
 * t_names: the validation rules for names, and the table: bind, re-point,
 * drop, drop-all-of-an-object, and a long random run against a reference
 * that exercises probe chains and backward-shift deletion.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "object.h"
#include "test.h"
#include "banned.h"

static int
check(const char *s, size_t len)
{
	const char *why = "unset";
	int rc = names_check(s, len, &why);

	/* A refusal always says why; an acceptance leaves why NULL. */
	if (rc)
		CHECK(why != NULL && *why);
	else
		CHECK(why == NULL);
	return rc;
}

static void
test_check_rules(void)
{
	char big[NAMES_MAX_LEN + 2];

	CHECK_EQ(check("dataset", 7), 0);
	CHECK_EQ(check("a", 1), 0);
	CHECK_EQ(check("...", 3), 0);
	CHECK_EQ(check(".hidden", 7), 0);
	CHECK_EQ(check("with space", 10), 0);
	CHECK_EQ(check("caf\xc3\xa9-\xe2\x82\xac", 9), 0);
	CHECK_EQ(check("data", 4), 0);            /* only members reserve it */
	CHECK_EQ(check("0123456789abcdef", 16), 0); /* no leading o */
	CHECK_EQ(check("o0123456789abcdeg", 17), 0); /* not hex */
	CHECK_EQ(check("", 0), -EINVAL);
	CHECK_EQ(check("a/b", 3), -EINVAL);
	CHECK_EQ(check("/", 1), -EINVAL);
	CHECK_EQ(check(".", 1), -EINVAL);
	CHECK_EQ(check("..", 2), -EINVAL);
	CHECK_EQ(check("a\0b", 3), -EINVAL);
	CHECK_EQ(check("a\nb", 3), -EINVAL);
	CHECK_EQ(check("tab\t", 4), -EINVAL);
	CHECK_EQ(check("\x1b[31m", 5), -EINVAL);
	CHECK_EQ(check("del\x7f", 4), -EINVAL);
	CHECK_EQ(check("\xc2\x85", 2), -EINVAL);   /* C1 control */
	CHECK_EQ(check("\xff\xfe", 2), -EINVAL);   /* not UTF-8 */
	CHECK_EQ(check("\xc0\xaf", 2), -EINVAL);   /* overlong '/' */
	CHECK_EQ(check("o0123456789abcdef", 17), -EINVAL);
	CHECK_EQ(check("oFFFFFFFFFFFFFFFF", 17), -EINVAL);
	memset(big, 'n', sizeof(big));
	CHECK_EQ(check(big, NAMES_MAX_LEN), 0);
	CHECK_EQ(check(big, NAMES_MAX_LEN + 1), -EINVAL);
	CHECK_EQ(check(big, 4096), -EINVAL);
}

static void
test_check_messages(void)
{
	const char *why;

	names_check("a/b", 3, &why);
	CHECK(strstr(why, "'/'") != NULL);
	names_check("", 0, &why);
	CHECK(strstr(why, "empty") != NULL);
	names_check("..", 2, &why);
	CHECK(strstr(why, "'..'") != NULL);
	names_check("a\nb", 3, &why);
	CHECK(strstr(why, "control") != NULL);
	names_check("o0123456789abcdef", 17, &why);
	CHECK(strstr(why, "object id") != NULL);
}

static struct object *
obj(uint64_t id)
{
	struct object *o = calloc(1, sizeof(*o));

	o->id = id;
	return o;
}

static size_t
count_names(const struct object *o)
{
	const struct name *n;
	size_t k = 0;

	for (n = o->names; n; n = n->next_of_obj)
		k++;
	return k;
}

static void
test_bind_repoint_drop(void)
{
	struct names t;
	struct object *a = obj(1), *b = obj(2), *old = (void *)1;
	struct name *n;

	names_init(&t);
	CHECK(names_get(&t, "x", 1) == NULL); /* empty table */
	n = names_bind(&t, "x", 1, a, &old);
	CHECK(n != NULL && old == NULL);
	CHECK(strcmp(n->str, "x") == 0 && n->len == 1 && n->obj == a);
	CHECK(names_get(&t, "x", 1) == n);
	CHECK(names_get(&t, "xy", 2) == NULL);
	CHECK_EQ(t.count, 1);
	CHECK_EQ(count_names(a), 1);

	/* re-point: the same name struct moves to b */
	CHECK(names_bind(&t, "x", 1, b, &old) == n);
	CHECK(old == a);
	CHECK(n->obj == b);
	CHECK_EQ(count_names(a), 0);
	CHECK_EQ(count_names(b), 1);
	CHECK_EQ(t.count, 1);

	/* re-binding to the object it already names is harmless */
	CHECK(names_bind(&t, "x", 1, b, &old) == n);
	CHECK(old == b);
	CHECK_EQ(count_names(b), 1);

	names_bind(&t, "y", 1, b, &old);
	names_bind(&t, "z", 1, a, &old);
	CHECK_EQ(count_names(b), 2);
	CHECK_EQ(t.count, 3);

	names_drop(&t, names_get(&t, "x", 1));
	CHECK(names_get(&t, "x", 1) == NULL);
	CHECK(names_get(&t, "y", 1) != NULL);
	CHECK_EQ(count_names(b), 1);
	CHECK_EQ(t.count, 2);

	/* deleting an object drops all its names */
	names_bind(&t, "w", 1, b, &old);
	names_drop_object(&t, b);
	CHECK(b->names == NULL);
	CHECK(names_get(&t, "y", 1) == NULL);
	CHECK(names_get(&t, "w", 1) == NULL);
	CHECK(names_get(&t, "z", 1) != NULL);
	CHECK_EQ(t.count, 1);
	names_drop_object(&t, b); /* nothing left: no-op */

	names_release(&t);
	CHECK(t.cap == 0 && t.count == 0);
	names_release(&t);
	free(a);
	free(b);
}

/* Random binds, re-points and drops against a plain array reference. */
#define NKEYS 3000
#define NOBJS 17

static uint64_t rng = 88172645463325252ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
test_random_against_reference(void)
{
	static int ref[NKEYS]; /* -1 unbound, else object index */
	struct object *objs[NOBJS];
	struct names t;
	char key[32];
	size_t i, step, live = 0, pos;
	struct name *n;
	int k, bad = 0;

	names_init(&t);
	for (i = 0; i < NOBJS; i++)
		objs[i] = obj(i + 1);
	for (i = 0; i < NKEYS; i++)
		ref[i] = -1;
	for (step = 0; step < 200000; step++) {
		size_t kk = rnd() % NKEYS;
		int len = snprintf(key, sizeof(key), "name-%zu", kk);
		uint64_t op = rnd() % 10;

		if (op < 6) {
			int o = (int)(rnd() % NOBJS);
			struct object *old;

			names_bind(&t, key, (size_t)len, objs[o], &old);
			if ((ref[kk] < 0 && old) ||
			    (ref[kk] >= 0 && old != objs[ref[kk]]))
				bad++;
			if (ref[kk] < 0)
				live++;
			ref[kk] = o;
		} else if (op < 9) {
			n = names_get(&t, key, (size_t)len);
			if ((n != NULL) != (ref[kk] >= 0))
				bad++;
			if (n) {
				names_drop(&t, n);
				ref[kk] = -1;
				live--;
			}
		} else {
			/* drop every name of one object */
			int o = (int)(rnd() % NOBJS);

			names_drop_object(&t, objs[o]);
			for (i = 0; i < NKEYS; i++)
				if (ref[i] == o) {
					ref[i] = -1;
					live--;
				}
		}
		if (t.count != live)
			bad++;
		if (t.cap && t.count * 2 > t.cap)
			bad++;
	}
	CHECK_EQ(bad, 0);
	/* every key resolves exactly as the reference says */
	for (i = 0; i < NKEYS; i++) {
		int len = snprintf(key, sizeof(key), "name-%zu", i);

		n = names_get(&t, key, (size_t)len);
		if (ref[i] < 0 ? n != NULL : (!n || n->obj != objs[ref[i]]))
			bad++;
	}
	CHECK_EQ(bad, 0);
	/* iteration visits each live name once; objects' lists add up */
	pos = 0;
	i = 0;
	while ((n = names_next(&t, &pos)))
		i++;
	CHECK_EQ(i, live);
	i = 0;
	for (k = 0; k < NOBJS; k++)
		i += count_names(objs[k]);
	CHECK_EQ(i, live);
	names_release(&t);
	for (k = 0; k < NOBJS; k++)
		free(objs[k]);
}

/* Names that differ only in their last byte or length stay distinct. */
static void
test_similar_names(void)
{
	struct names t;
	struct object *a = obj(1), *b = obj(2), *c = obj(3), *old;

	names_init(&t);
	names_bind(&t, "ab", 2, a, &old);
	names_bind(&t, "ac", 2, b, &old);
	names_bind(&t, "abc", 3, c, &old);
	CHECK(names_get(&t, "ab", 2)->obj == a);
	CHECK(names_get(&t, "ac", 2)->obj == b);
	CHECK(names_get(&t, "abc", 3)->obj == c);
	CHECK(names_get(&t, "a", 1) == NULL);
	/* a lookup by a prefix of a stored name (len shorter) misses */
	CHECK(names_get(&t, "abcd", 2)->obj == a);
	names_release(&t);
	free(a);
	free(b);
	free(c);
}

TEST_MAIN(RUN(test_check_rules); RUN(test_check_messages);
	  RUN(test_bind_repoint_drop); RUN(test_random_against_reference);
	  RUN(test_similar_names))
