/*
 * t_record: the owner keys of a published object's record (record.h):
 * what a daemon writes reads back the same; a record without them (an
 * older daemon's) has none; every malformed value (wrong types, out of
 * range, partial, bits beyond 0666, odd strings) is refused, not half
 * taken.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cluster/record.h"
#include "store.h"
#include "test.h"
#include "banned.h"

/* record_owner of the JSON text s: 1, 0 or -EINVAL; p filled when 1. */
static int
owner_of(const char *s, struct store_perm *p)
{
	json_error_t jerr;
	json_t *r = json_loads(s, 0, &jerr);
	const char *why = NULL;
	int rc;

	if (!r)
		return -100;
	memset(p, 0xab, sizeof(*p));
	rc = record_owner(r, p, &why);
	if (rc < 0)
		CHECK(why && *why);
	json_decref(r);
	return rc;
}

static void
test_round_trip(void)
{
	static const struct store_perm cases[] = {
		{ 0, 0, 0 }, { 65533, 65533, 0600 }, { 1000, 100, 0640 },
		{ 4294967294u, 4294967294u, 0666 }, { 7, 8, 0004 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *r = json_object();
		struct store_perm p;
		const char *why = NULL;

		json_object_set_new(r, "id", json_string("o0000000000000001"));
		record_set_owner(r, &cases[i]);
		memset(&p, 0, sizeof(p));
		CHECK_EQ(record_owner(r, &p, &why), 1);
		CHECK_EQ(p.uid, cases[i].uid);
		CHECK_EQ(p.gid, cases[i].gid);
		CHECK_EQ(p.mode, cases[i].mode);
		json_decref(r);
	}
}

static void
test_none(void)
{
	struct store_perm p;

	CHECK_EQ(owner_of("{\"id\":\"o1\",\"typename\":\"vineyard::Blob\","
			  "\"nbytes\":5,\"instance\":1}", &p), 0);
	CHECK_EQ(owner_of("{}", &p), 0);
	CHECK_EQ(p.uid, 0xabababab); /* untouched */
	CHECK_EQ(owner_of("{\"uid\":1,\"gid\":1,\"mode\":\"0640\"}", &p), 1);
	CHECK_EQ(p.mode, 0640);
	CHECK_EQ(owner_of("{\"uid\":1,\"gid\":2,\"mode\":\"644\"}", &p), 1);
	CHECK_EQ(p.mode, 0644);
	CHECK_EQ(p.gid, 2);
}

static void
test_malformed(void)
{
	static const char *bad[] = {
		"{\"uid\":1}",
		"{\"uid\":1,\"gid\":1}",
		"{\"mode\":\"0640\"}",
		"{\"uid\":\"1\",\"gid\":1,\"mode\":\"0640\"}",
		"{\"uid\":1,\"gid\":null,\"mode\":\"0640\"}",
		"{\"uid\":-1,\"gid\":1,\"mode\":\"0640\"}",
		"{\"uid\":4294967295,\"gid\":1,\"mode\":\"0640\"}",
		"{\"uid\":1,\"gid\":99999999999999,\"mode\":\"0640\"}",
		"{\"uid\":1.5,\"gid\":1,\"mode\":\"0640\"}",
		"{\"uid\":1,\"gid\":1,\"mode\":416}",
		"{\"uid\":1,\"gid\":1,\"mode\":\"\"}",
		"{\"uid\":1,\"gid\":1,\"mode\":\"0755\"}",
		"{\"uid\":1,\"gid\":1,\"mode\":\"1640\"}",
		"{\"uid\":1,\"gid\":1,\"mode\":\"00640\"}",
		"{\"uid\":1,\"gid\":1,\"mode\":\"0x1a\"}",
		"{\"uid\":1,\"gid\":1,\"mode\":\"-640\"}",
		"{\"uid\":1,\"gid\":1,\"mode\":\"06 4\"}",
		"{\"uid\":1,\"gid\":1,\"mode\":\"0649\"}",
		"{\"uid\":1,\"gid\":1,\"mode\":[\"0640\"]}",
		"{\"uid\":true,\"gid\":1,\"mode\":\"0640\"}",
	};
	struct store_perm p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = owner_of(bad[i], &p);

		if (rc != -EINVAL)
			fprintf(stderr, "  accepted: %s (%d)\n", bad[i], rc);
		CHECK_EQ(rc, -EINVAL);
		CHECK_EQ(p.uid, 0xabababab);
	}
}

TEST_MAIN(RUN(test_round_trip); RUN(test_none); RUN(test_malformed))
