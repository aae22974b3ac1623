/*
 * t_meta: put trees (parsing, nesting, limits, member names, duplicate
 * keys), stored documents (encode, view parsing, member and field lookup),
 * JSON rendering (escaping, numbers, NaN), ids and UTF-8 checks.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "test.h"
#include "banned.h"

/* Starts {"typename": tn, "fields": {nfields pairs follow}; with
 * members, a "members" key must follow the fields. */
static void
node_head(struct cw *w, const char *tn, size_t nfields, int members)
{
	cw_map(w, members ? 3 : 2);
	cw_str(w, "typename");
	cw_str(w, tn);
	cw_str(w, "fields");
	cw_map(w, nfields);
}

static int
parse(const struct cw *w, struct meta_tree *t)
{
	return meta_tree_parse(w->buf, w->len, t);
}

static void
test_tree_simple(void)
{
	struct meta_tree t;
	struct cw w;
	const struct meta_node *n;

	cw_init(&w);
	node_head(&w, "vineyard::Tensor<double>", 4, 1);
	cw_str(&w, "shape_");
	cw_array(&w, 2);
	cw_uint(&w, 3);
	cw_uint(&w, 4);
	cw_str(&w, "order_");
	cw_str(&w, "C");
	cw_str(&w, "ok");
	cw_bool(&w, 1);
	cw_str(&w, "m");
	cw_map(&w, 1);
	cw_str(&w, "k");
	cw_null(&w);
	cw_str(&w, "members");
	cw_map(&w, 1);
	cw_str(&w, "buffer_");
	cw_uint(&w, 0x8000000000000001ull);
	CHECK_EQ(parse(&w, &t), 0);
	CHECK_EQ(t.nnodes, 1);
	CHECK_EQ(t.nmembers, 1);
	n = &t.nodes[0];
	CHECK(n->typelen == 24 &&
	      memcmp(n->typename, "vineyard::Tensor<double>", 24) == 0);
	CHECK_EQ(n->nfields, 4);
	CHECK_EQ(n->nmembers, 1);
	CHECK(t.members[0].child == -1);
	CHECK(t.members[0].id == 0x8000000000000001ull);
	CHECK(t.members[0].namelen == 7);
	meta_tree_release(&t);
	CHECK(t.nodes == NULL && t.nnodes == 0);
	cw_release(&w);
}

/* A typename-only node is enough; fields and members are optional. */
static void
test_tree_minimal_and_key_order(void)
{
	struct meta_tree t;
	struct cw w;

	cw_init(&w);
	cw_map(&w, 1);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	CHECK_EQ(parse(&w, &t), 0);
	CHECK_EQ(t.nnodes, 1);
	CHECK_EQ(t.nodes[0].nfields, 0);
	CHECK(t.nodes[0].fields == NULL);
	meta_tree_release(&t);

	/* keys in any order */
	cw_reset(&w);
	cw_map(&w, 3);
	cw_str(&w, "members");
	cw_map(&w, 0);
	cw_str(&w, "fields");
	cw_map(&w, 1);
	cw_str(&w, "a");
	cw_int(&w, -5);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	CHECK_EQ(parse(&w, &t), 0);
	CHECK_EQ(t.nodes[0].nfields, 1);
	meta_tree_release(&t);
	cw_release(&w);
}

/* Writes a chain of depth+1 nodes, each the only member "c" of its
 * parent. */
static void
chain(struct cw *w, int depth)
{
	cw_map(w, 2);
	cw_str(w, "typename");
	cw_str(w, "Chain");
	cw_str(w, "members");
	if (depth == 0) {
		cw_map(w, 0);
		return;
	}
	cw_map(w, 1);
	cw_str(w, "c");
	chain(w, depth - 1);
}

static void
test_tree_nesting(void)
{
	struct meta_tree t;
	struct cw w;
	size_t i;

	cw_init(&w);
	chain(&w, META_MAX_DEPTH);
	CHECK_EQ(parse(&w, &t), 0);
	CHECK_EQ(t.nnodes, META_MAX_DEPTH + 1);
	/* children first, root last; each member points at the node before */
	for (i = 1; i < t.nnodes; i++) {
		const struct meta_node *n = &t.nodes[i];

		CHECK_EQ(n->nmembers, 1);
		CHECK_EQ(t.members[n->first_member].child, (int32_t)(i - 1));
	}
	CHECK_EQ(t.nodes[0].nmembers, 0);
	meta_tree_release(&t);

	cw_reset(&w);
	chain(&w, META_MAX_DEPTH + 1);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	CHECK(strstr(t.err, "nested") != NULL);
	CHECK(t.nodes == NULL);
	cw_release(&w);
}

/* Field values may nest META_MAX_DEPTH levels of arrays/maps. */
static void
test_field_nesting(void)
{
	struct meta_tree t;
	struct cw w;
	int levels, i;

	for (levels = META_MAX_DEPTH - 1; levels <= META_MAX_DEPTH + 1;
	     levels++) {
		cw_init(&w);
		node_head(&w, "T", 1, 0);
		cw_str(&w, "deep");
		for (i = 0; i < levels; i++)
			cw_array(&w, 1);
		cw_uint(&w, 1);
		if (levels < META_MAX_DEPTH) {
			CHECK_EQ(parse(&w, &t), 0);
		} else {
			CHECK_EQ(parse(&w, &t), -EBADMSG);
			CHECK(strstr(t.err, "field deep") != NULL);
		}
		meta_tree_release(&t);
		cw_release(&w);
	}
}

static void
test_typename_rules(void)
{
	char long_tn[META_MAX_TYPENAME + 2];
	struct meta_tree t;
	struct cw w;

	memset(long_tn, 'T', sizeof(long_tn));
	long_tn[META_MAX_TYPENAME] = 0;
	cw_init(&w);
	cw_map(&w, 1);
	cw_str(&w, "typename");
	cw_str(&w, long_tn);
	CHECK_EQ(parse(&w, &t), 0);
	meta_tree_release(&t);

	long_tn[META_MAX_TYPENAME] = 'T';
	long_tn[META_MAX_TYPENAME + 1] = 0;
	cw_reset(&w);
	cw_map(&w, 1);
	cw_str(&w, "typename");
	cw_str(&w, long_tn);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	CHECK(strstr(t.err, "typename") != NULL);

	cw_reset(&w);
	cw_map(&w, 1);
	cw_str(&w, "typename");
	cw_str(&w, "");
	CHECK_EQ(parse(&w, &t), -EBADMSG);

	cw_reset(&w);
	cw_map(&w, 1);
	cw_str(&w, "typename");
	cw_str(&w, "bad\ntype");
	CHECK_EQ(parse(&w, &t), -EBADMSG);

	cw_reset(&w);
	cw_map(&w, 1);
	cw_str(&w, "typename");
	cw_uint(&w, 5);
	CHECK_EQ(parse(&w, &t), -EBADMSG);

	/* no typename at all */
	cw_reset(&w);
	cw_map(&w, 1);
	cw_str(&w, "fields");
	cw_map(&w, 0);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	CHECK(strstr(t.err, "no typename") != NULL);
	cw_release(&w);
}

static void
test_bad_structure(void)
{
	struct meta_tree t;
	struct cw w;

	cw_init(&w);
	/* unknown key */
	cw_map(&w, 2);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "extra");
	cw_uint(&w, 1);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	CHECK(strstr(t.err, "unknown or repeated") != NULL);
	/* repeated key */
	cw_reset(&w);
	cw_map(&w, 2);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "typename");
	cw_str(&w, "U");
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	/* not a map */
	cw_reset(&w);
	cw_array(&w, 0);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	/* trailing bytes */
	cw_reset(&w);
	cw_map(&w, 1);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_null(&w);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	CHECK(strstr(t.err, "trailing") != NULL);
	/* empty input */
	CHECK_EQ(meta_tree_parse(w.buf, 0, &t), -EBADMSG);
	CHECK(t.err[0] != 0);
	/* fields not a map, members not a map */
	cw_reset(&w);
	cw_map(&w, 2);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "fields");
	cw_array(&w, 0);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	cw_reset(&w);
	cw_map(&w, 2);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "members");
	cw_str(&w, "x");
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	/* a member that is neither an id nor a tree */
	cw_reset(&w);
	cw_map(&w, 2);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "members");
	cw_map(&w, 1);
	cw_str(&w, "m");
	cw_str(&w, "o0000000000000001");
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	CHECK(strstr(t.err, "member m") != NULL);
	cw_release(&w);
}

/* A failure after the members map was parsed must not leak it (ASan's
 * leak checker sees it when this runs under make asan). */
static void
test_failure_after_members_frees(void)
{
	struct meta_tree t;
	struct cw w;
	int k;

	cw_init(&w);
	for (k = 0; k < 4; k++) {
		cw_reset(&w);
		cw_map(&w, 3);
		cw_str(&w, "members");
		cw_map(&w, 2);
		cw_str(&w, "a");
		cw_uint(&w, 1);
		cw_str(&w, "b");
		cw_uint(&w, 2);
		switch (k) {
		case 0: /* bad typename */
			cw_str(&w, "typename");
			cw_str(&w, "");
			break;
		case 1: /* bad fields */
			cw_str(&w, "typename");
			cw_str(&w, "T");
			cw_str(&w, "fields");
			cw_uint(&w, 1);
			break;
		case 2: /* truncated key */
			cw_str(&w, "typename");
			cw_str(&w, "T");
			cw_raw(&w, "\x61", 1);
			break;
		case 3: /* typename not text */
			cw_str(&w, "typename");
			cw_bool(&w, 0);
			break;
		}
		CHECK_EQ(parse(&w, &t), -EBADMSG);
		CHECK(t.nodes == NULL && t.members == NULL);
	}
	cw_release(&w);
}

/* One tree with one member named name; returns the parse result. */
static int
parse_member_name(const char *name, size_t len)
{
	struct meta_tree t;
	struct cw w;
	int rc;

	cw_init(&w);
	cw_map(&w, 2);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "members");
	cw_map(&w, 1);
	cw_strn(&w, name, len);
	cw_uint(&w, 1);
	rc = parse(&w, &t);
	if (rc && !strstr(t.err, "member")) {
		fprintf(stderr, "  no clear error: %s\n", t.err);
		rc = -9999;
	}
	meta_tree_release(&t);
	cw_release(&w);
	return rc;
}

static void
test_member_names(void)
{
	char big[META_MAX_KEY + 1];

	CHECK_EQ(parse_member_name("buffer_", 7), 0);
	CHECK_EQ(parse_member_name("...", 3), 0);
	CHECK_EQ(parse_member_name("caf\xc3\xa9", 5), 0);
	CHECK_EQ(parse_member_name("a b", 3), 0);
	CHECK_EQ(parse_member_name("a/b", 3), -EINVAL);
	CHECK_EQ(parse_member_name("/", 1), -EINVAL);
	CHECK_EQ(parse_member_name(".", 1), -EINVAL);
	CHECK_EQ(parse_member_name("..", 2), -EINVAL);
	CHECK_EQ(parse_member_name("", 0), -EINVAL);
	CHECK_EQ(parse_member_name("data", 4), -EINVAL);
	CHECK_EQ(parse_member_name("meta.json", 9), -EINVAL);
	CHECK_EQ(parse_member_name("typename", 8), -EINVAL);
	CHECK_EQ(parse_member_name("a\nb", 3), -EINVAL);
	CHECK_EQ(parse_member_name("a\tb", 3), -EINVAL);
	CHECK_EQ(parse_member_name("a\x7f", 2), -EINVAL);
	CHECK_EQ(parse_member_name("a\0b", 3), -EINVAL);
	CHECK_EQ(parse_member_name("\xc2\x85", 2), -EINVAL); /* C1 NEL */
	CHECK_EQ(parse_member_name("\xff", 1), -EINVAL);
	memset(big, 'm', sizeof(big));
	CHECK_EQ(parse_member_name(big, META_MAX_KEY), 0);
	CHECK_EQ(parse_member_name(big, META_MAX_KEY + 1), -EINVAL);
	/* the same rules, directly */
	CHECK_EQ(meta_check_member_name("ok", 2), 0);
	CHECK_EQ(meta_check_member_name("dat", 3), 0);
	CHECK_EQ(meta_check_member_name("data", 4), -EINVAL);
}

static void
test_duplicate_keys(void)
{
	struct meta_tree t;
	struct cw w;

	cw_init(&w);
	node_head(&w, "T", 3, 0);
	cw_str(&w, "a");
	cw_uint(&w, 1);
	cw_str(&w, "b");
	cw_uint(&w, 2);
	cw_str(&w, "a");
	cw_uint(&w, 3);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	CHECK(strstr(t.err, "duplicate field") != NULL);

	/* keys that share a prefix are different keys */
	cw_reset(&w);
	node_head(&w, "T", 2, 0);
	cw_str(&w, "ab");
	cw_uint(&w, 1);
	cw_str(&w, "a");
	cw_uint(&w, 2);
	CHECK_EQ(parse(&w, &t), 0);
	meta_tree_release(&t);

	cw_reset(&w);
	cw_map(&w, 2);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "members");
	cw_map(&w, 2);
	cw_str(&w, "x");
	cw_uint(&w, 1);
	cw_str(&w, "x");
	cw_uint(&w, 2);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	CHECK(strstr(t.err, "duplicate member") != NULL);
	cw_release(&w);
}

static void
test_field_values(void)
{
	struct meta_tree t;
	struct cw w;

	cw_init(&w);
	/* control characters are fine inside string values */
	node_head(&w, "T", 1, 0);
	cw_str(&w, "s");
	cw_str(&w, "line1\nline2\t\x01");
	CHECK_EQ(parse(&w, &t), 0);
	meta_tree_release(&t);
	/* byte strings are not field values */
	cw_reset(&w);
	node_head(&w, "T", 1, 0);
	cw_str(&w, "b");
	cw_bytes(&w, "xy", 2);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	CHECK(strstr(t.err, "field b") != NULL);
	/* invalid UTF-8 in a value */
	cw_reset(&w);
	node_head(&w, "T", 1, 0);
	cw_str(&w, "s");
	cw_str(&w, "\xc0\x80");
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	/* map keys inside values must be text */
	cw_reset(&w);
	node_head(&w, "T", 1, 0);
	cw_str(&w, "m");
	cw_map(&w, 1);
	cw_uint(&w, 1);
	cw_uint(&w, 2);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	/* empty and control-character keys */
	cw_reset(&w);
	node_head(&w, "T", 1, 0);
	cw_str(&w, "");
	cw_uint(&w, 1);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	cw_reset(&w);
	node_head(&w, "T", 1, 0);
	cw_str(&w, "k\n");
	cw_uint(&w, 1);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	/* a tag */
	cw_reset(&w);
	node_head(&w, "T", 1, 0);
	cw_str(&w, "t");
	cw_raw(&w, "\xc1\x01", 2);
	CHECK_EQ(parse(&w, &t), -EBADMSG);
	cw_release(&w);
}

static void
test_too_long(void)
{
	struct meta_tree t;
	uint8_t *buf = calloc(1, META_MAX_LEN + 1);

	CHECK(buf != NULL);
	CHECK_EQ(meta_tree_parse(buf, META_MAX_LEN + 1, &t), -EBADMSG);
	CHECK(strstr(t.err, "larger") != NULL);
	free(buf);
}

/* Parse a nested tree, encode each node with ids, read it back. */
static void
test_encode_and_view(void)
{
	struct meta_tree t;
	struct meta_view v;
	struct cw w, doc;
	uint64_t ids[2] = { 0x1111, 0x2222 }, id;
	struct cr r;
	int64_t x;
	size_t n;

	cw_init(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_str(&w, "Frame");
	cw_str(&w, "fields");
	cw_map(&w, 2);
	cw_str(&w, "rows");
	cw_int(&w, -3);
	cw_str(&w, "cols");
	cw_array(&w, 1);
	cw_str(&w, "a");
	cw_str(&w, "members");
	cw_map(&w, 2);
	cw_str(&w, "blob");
	cw_uint(&w, 0x8000000000000abcull);
	cw_str(&w, "child");
	cw_map(&w, 1);
	cw_str(&w, "typename");
	cw_str(&w, "Leaf");
	CHECK_EQ(parse(&w, &t), 0);
	CHECK_EQ(t.nnodes, 2);

	cw_init(&doc);
	meta_node_encode(&t, 1, ids, &doc);
	CHECK_EQ(cw_finish(&doc), 0);
	CHECK_EQ(meta_view_parse(doc.buf, doc.len, &v), 0);
	CHECK(v.typelen == 5 && memcmp(v.typename, "Frame", 5) == 0);
	CHECK_EQ(v.nfields, 2);
	CHECK_EQ(v.nmembers, 2);
	CHECK_EQ(meta_member_find(&v, "blob", &id), 1);
	CHECK(id == 0x8000000000000abcull);
	CHECK_EQ(meta_member_find(&v, "child", &id), 1);
	CHECK(id == 0x1111);
	CHECK_EQ(meta_member_find(&v, "chil", &id), 0);
	CHECK_EQ(meta_field_find(&v, "rows", &r), 1);
	CHECK_EQ(cr_int(&r, &x), 0);
	CHECK_EQ(x, -3);
	CHECK_EQ(meta_field_find(&v, "cols", &r), 1);
	CHECK_EQ(cr_array(&r, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(meta_field_find(&v, "nope", &r), 0);
	/* member iteration: in order, then 0 for good */
	{
		struct meta_members it;

		meta_members_init(&it, &v);
		CHECK_EQ(meta_members_next(&it), 1);
		CHECK(it.namelen == 4 && memcmp(it.name, "blob", 4) == 0);
		CHECK(it.id == 0x8000000000000abcull);
		CHECK_EQ(meta_members_next(&it), 1);
		CHECK(it.namelen == 5 && memcmp(it.name, "child", 5) == 0);
		CHECK(it.id == 0x1111);
		CHECK_EQ(meta_members_next(&it), 0);
		CHECK_EQ(meta_members_next(&it), 0);
		/* no view: a blob, no members */
		meta_members_init(&it, NULL);
		CHECK_EQ(meta_members_next(&it), 0);
	}

	/* the leaf: no fields, no members, still a full document */
	cw_reset(&doc);
	meta_node_encode(&t, 0, ids, &doc);
	CHECK_EQ(meta_view_parse(doc.buf, doc.len, &v), 0);
	CHECK_EQ(v.nfields, 0);
	CHECK_EQ(v.nmembers, 0);
	cw_release(&doc);
	meta_tree_release(&t);
	cw_release(&w);
}

/* meta_view_parse only skips the member map; the iterator checks each
 * entry, and once one is bad every later call fails too. */
static void
test_members_malformed(void)
{
	struct meta_members it;
	struct meta_view v;
	uint64_t id;
	struct cw w;

	cw_init(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "fields");
	cw_map(&w, 0);
	cw_str(&w, "members");
	cw_map(&w, 3);
	cw_str(&w, "a");
	cw_uint(&w, 7);
	cw_str(&w, "b");
	cw_str(&w, "not an id");
	cw_str(&w, "c");
	cw_uint(&w, 9);
	CHECK_EQ(cw_finish(&w), 0);
	CHECK_EQ(meta_view_parse(w.buf, w.len, &v), 0);
	meta_members_init(&it, &v);
	CHECK_EQ(meta_members_next(&it), 1);
	CHECK(it.id == 7);
	CHECK_EQ(meta_members_next(&it), -EBADMSG);
	CHECK_EQ(meta_members_next(&it), -EBADMSG);
	/* a search stops at the bad entry, never reads past it */
	CHECK_EQ(meta_member_find(&v, "a", &id), 1);
	CHECK_EQ(meta_member_find(&v, "c", &id), -EBADMSG);
	/* an id that is not an unsigned integer */
	cw_reset(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "fields");
	cw_map(&w, 0);
	cw_str(&w, "members");
	cw_map(&w, 1);
	cw_str(&w, "a");
	cw_int(&w, -1);
	CHECK_EQ(cw_finish(&w), 0);
	CHECK_EQ(meta_view_parse(w.buf, w.len, &v), 0);
	meta_members_init(&it, &v);
	CHECK_EQ(meta_members_next(&it), -EBADMSG);
	cw_release(&w);
}

static void
test_view_rejects(void)
{
	struct meta_view v;
	struct cw w;

	cw_init(&w);
	/* two keys only */
	cw_map(&w, 2);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "fields");
	cw_map(&w, 0);
	CHECK_EQ(meta_view_parse(w.buf, w.len, &v), -EBADMSG);
	/* a repeated key instead of members */
	cw_reset(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "fields");
	cw_map(&w, 0);
	cw_str(&w, "fields");
	cw_map(&w, 0);
	CHECK_EQ(meta_view_parse(w.buf, w.len, &v), -EBADMSG);
	/* unknown key */
	cw_reset(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "fields");
	cw_map(&w, 0);
	cw_str(&w, "other");
	cw_map(&w, 0);
	CHECK_EQ(meta_view_parse(w.buf, w.len, &v), -EBADMSG);
	/* trailing bytes */
	cw_reset(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "fields");
	cw_map(&w, 0);
	cw_str(&w, "members");
	cw_map(&w, 0);
	CHECK_EQ(meta_view_parse(w.buf, w.len, &v), 0);
	cw_uint(&w, 0);
	CHECK_EQ(meta_view_parse(w.buf, w.len, &v), -EBADMSG);
	/* members not a map */
	cw_reset(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "fields");
	cw_map(&w, 0);
	cw_str(&w, "members");
	cw_array(&w, 0);
	CHECK_EQ(meta_view_parse(w.buf, w.len, &v), -EBADMSG);
	CHECK_EQ(meta_view_parse(w.buf, 0, &v), -EBADMSG);
	cw_release(&w);
}

/* Renders one CBOR value and compares the JSON text. */
static void
json_is(const struct cw *in, const char *want)
{
	struct cw out;
	struct cr r;

	cw_init(&out);
	cr_init(&r, in->buf, in->len);
	CHECK_EQ(meta_json_value(&out, &r, 0, 0), 0);
	cw_raw(&out, "", 1);
	if (strcmp((const char *)out.buf, want) != 0) {
		fprintf(stderr, "  json: got  [%s]\n        want [%s]\n",
			(const char *)out.buf, want);
		CHECK(0);
	}
	cw_release(&out);
}

static void
test_json_values(void)
{
	struct cw w;

	cw_init(&w);
	cw_str(&w, "q\"b\\n\nt\tr\rc\x01" "d\x7f" "caf\xc3\xa9");
	json_is(&w, "\"q\\\"b\\\\n\\nt\\tr\\rc\\u0001d\\u007fcaf\xc3\xa9\"");
	cw_reset(&w);
	cw_double(&w, NAN);
	json_is(&w, "null");
	cw_reset(&w);
	cw_double(&w, -INFINITY);
	json_is(&w, "null");
	cw_reset(&w);
	cw_double(&w, 1.0);
	json_is(&w, "1.0");
	cw_reset(&w);
	cw_double(&w, 0.1);
	json_is(&w, "0.10000000000000001");
	cw_reset(&w);
	cw_double(&w, 1e300);
	json_is(&w, "1.0000000000000001e+300");
	cw_reset(&w);
	cw_int(&w, INT64_MIN);
	json_is(&w, "-9223372036854775808");
	cw_reset(&w);
	cw_raw(&w, "\x3b\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	json_is(&w, "-18446744073709551616");
	cw_reset(&w);
	cw_uint(&w, UINT64_MAX);
	json_is(&w, "18446744073709551615");
	cw_reset(&w);
	cw_array(&w, 0);
	json_is(&w, "[]");
	cw_reset(&w);
	cw_map(&w, 0);
	json_is(&w, "{}");
	cw_reset(&w);
	cw_array(&w, 3);
	cw_bool(&w, 1);
	cw_bool(&w, 0);
	cw_null(&w);
	json_is(&w, "[true, false, null]");
	cw_reset(&w);
	cw_map(&w, 2);
	cw_str(&w, "a");
	cw_uint(&w, 1);
	cw_str(&w, "m");
	cw_map(&w, 1);
	cw_str(&w, "k\"");
	cw_array(&w, 1);
	cw_str(&w, "v");
	json_is(&w, "{\n  \"a\": 1,\n  \"m\": {\n    \"k\\\"\": [\"v\"]\n  }\n}");
	cw_release(&w);
}

static void
test_json_rejects(void)
{
	struct cw w, out;
	struct cr r;
	int i;

	cw_init(&w);
	cw_init(&out);
	cw_bytes(&w, "x", 1);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(meta_json_value(&out, &r, 0, 0), -EBADMSG);
	/* map keys must be text */
	cw_reset(&w);
	cw_map(&w, 1);
	cw_uint(&w, 1);
	cw_uint(&w, 1);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(meta_json_value(&out, &r, 0, 0), -EBADMSG);
	/* depth is bounded */
	cw_reset(&w);
	for (i = 0; i < 100; i++)
		cw_array(&w, 1);
	cw_uint(&w, 0);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(meta_json_value(&out, &r, 0, 0), -EBADMSG);
	/* truncated */
	cw_reset(&w);
	cw_array(&w, 2);
	cw_uint(&w, 0);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(meta_json_value(&out, &r, 0, 0), -EBADMSG);
	cw_release(&out);
	cw_release(&w);
}

static void
test_json_document(void)
{
	static const char *const names[] = { "alpha", "b\"q" };
	struct meta_tree t;
	struct meta_view v;
	struct meta_json j;
	struct cw w, doc, out;
	uint64_t ids[1] = { 0 };
	const char *want;

	/* a blob */
	cw_init(&out);
	memset(&j, 0, sizeof(j));
	j.id = 0x8000000000000001ull;
	j.typename = META_BLOB_TYPENAME;
	j.nbytes = 4097;
	j.names = names;
	j.nnames = 1;
	meta_json(&out, &j);
	cw_raw(&out, "", 1);
	want = "{\n  \"id\": \"o8000000000000001\",\n"
	       "  \"typename\": \"vineyard::Blob\",\n  \"nbytes\": 4097,\n"
	       "  \"persisted\": false,\n  \"names\": [\"alpha\"],\n"
	       "  \"fields\": {},\n  \"members\": {}\n}\n";
	if (strcmp((const char *)out.buf, want)) {
		fprintf(stderr, "  got [%s]\n", (const char *)out.buf);
		CHECK(0);
	}

	/* an object with fields and members */
	cw_init(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	cw_str(&w, "fields");
	cw_map(&w, 1);
	cw_str(&w, "x");
	cw_double(&w, NAN);
	cw_str(&w, "members");
	cw_map(&w, 1);
	cw_str(&w, "m");
	cw_uint(&w, 0xabcull);
	CHECK_EQ(parse(&w, &t), 0);
	cw_init(&doc);
	meta_node_encode(&t, 0, ids, &doc);
	CHECK_EQ(meta_view_parse(doc.buf, doc.len, &v), 0);
	cw_reset(&out);
	j.id = 0x42;
	j.typename = "T";
	j.nbytes = 0;
	j.persisted = 1;
	j.names = names;
	j.nnames = 2;
	j.view = &v;
	meta_json(&out, &j);
	cw_raw(&out, "", 1);
	want = "{\n  \"id\": \"o0000000000000042\",\n  \"typename\": \"T\",\n"
	       "  \"nbytes\": 0,\n  \"persisted\": true,\n"
	       "  \"names\": [\"alpha\", \"b\\\"q\"],\n"
	       "  \"fields\": {\n    \"x\": null\n  },\n"
	       "  \"members\": {\n    \"m\": \"o0000000000000abc\"\n  }\n}\n";
	if (strcmp((const char *)out.buf, want)) {
		fprintf(stderr, "  got [%s]\n", (const char *)out.buf);
		CHECK(0);
	}
	cw_release(&doc);
	cw_release(&out);
	cw_release(&w);
	meta_tree_release(&t);
}

static void
test_ids(void)
{
	char buf[META_ID_LEN];
	uint64_t id;

	meta_id_format(0x0015c78883eddf1cull, buf);
	CHECK(strcmp(buf, "o0015c78883eddf1c") == 0);
	CHECK_EQ(meta_id_parse(buf, &id), 0);
	CHECK(id == 0x0015c78883eddf1cull);
	meta_id_format(UINT64_MAX, buf);
	CHECK(strcmp(buf, "offffffffffffffff") == 0);
	CHECK_EQ(meta_id_parse("oFFFFFFFFFFFFFFFF", &id), 0);
	CHECK(id == UINT64_MAX);
	CHECK_EQ(meta_id_parse("o0015c78883eddf1", &id), -EINVAL);
	CHECK_EQ(meta_id_parse("o0015c78883eddf1c0", &id), -EINVAL);
	CHECK_EQ(meta_id_parse("x0015c78883eddf1c", &id), -EINVAL);
	CHECK_EQ(meta_id_parse("o0015c78883eddf1g", &id), -EINVAL);
	CHECK_EQ(meta_id_parse("o 015c78883eddf1c", &id), -EINVAL);
	CHECK_EQ(meta_id_parse("", &id), -EINVAL);
	CHECK_EQ(meta_id_parse(NULL, &id), -EINVAL);
	CHECK(meta_id_is_blob(0x8000000000000000ull));
	CHECK(!meta_id_is_blob(0x7fffffffffffffffull));
}

static void
test_utf8(void)
{
	CHECK(meta_utf8_ok("", 0, 0));
	CHECK(meta_utf8_ok("plain", 5, 0));
	CHECK(meta_utf8_ok("\xc3\xa9", 2, 0));             /* é */
	CHECK(meta_utf8_ok("\xe2\x82\xac", 3, 0));         /* € */
	CHECK(meta_utf8_ok("\xf0\x9f\x98\x80", 4, 0));     /* emoji */
	CHECK(meta_utf8_ok("\xf4\x8f\xbf\xbf", 4, 0));     /* U+10FFFF */
	CHECK(!meta_utf8_ok("\xf4\x90\x80\x80", 4, 0));    /* > U+10FFFF */
	CHECK(!meta_utf8_ok("\xc0\x80", 2, 1));            /* overlong NUL */
	CHECK(!meta_utf8_ok("\xe0\x80\xaf", 3, 1));        /* overlong '/' */
	CHECK(!meta_utf8_ok("\xf0\x80\x80\xaf", 4, 1));
	CHECK(!meta_utf8_ok("\xed\xa0\x80", 3, 1));        /* surrogate */
	CHECK(!meta_utf8_ok("\xc3", 1, 1));                /* truncated */
	CHECK(!meta_utf8_ok("\xe2\x82", 2, 1));
	CHECK(!meta_utf8_ok("\x80", 1, 1));                /* stray */
	CHECK(!meta_utf8_ok("\xf8\x88\x80\x80\x80", 5, 1));
	CHECK(!meta_utf8_ok("\xc3\x28", 2, 1));
	CHECK(!meta_utf8_ok("a\nb", 3, 0));
	CHECK(meta_utf8_ok("a\nb", 3, 1));
	CHECK(!meta_utf8_ok("\xc2\x9f", 2, 0));            /* C1 control */
	CHECK(meta_utf8_ok("\xc2\x9f", 2, 1));
	CHECK(meta_utf8_ok("\xc2\xa0", 2, 0));             /* NBSP */
	CHECK(!meta_utf8_ok("\x7f", 1, 0));
}

TEST_MAIN(RUN(test_tree_simple); RUN(test_tree_minimal_and_key_order);
	  RUN(test_tree_nesting); RUN(test_field_nesting);
	  RUN(test_typename_rules); RUN(test_bad_structure);
	  RUN(test_failure_after_members_frees); RUN(test_member_names);
	  RUN(test_duplicate_keys); RUN(test_field_values);
	  RUN(test_too_long); RUN(test_encode_and_view);
	  RUN(test_members_malformed); RUN(test_view_rejects); RUN(test_json_values);
	  RUN(test_json_rejects); RUN(test_json_document); RUN(test_ids);
	  RUN(test_utf8))
