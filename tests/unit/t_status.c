/*
 * t_status: the daemon's figures (src/wire/status.c): a round trip through
 * the CBOR map, a decoder that skips keys it does not know and leaves
 * missing ones at zero, refusals of mistyped or oversized values, and the
 * JSON text (key order, null for none, escaping).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cborio.h"
#include "status.h"
#include "test.h"
#include "banned.h"

static void
sample(struct status *st)
{
	memset(st, 0, sizeof(*st));
	STATUS_SET(st, version, "9.8.7");
	st->protocol = 1;
	st->pid = 4242;
	STATUS_SET(st, socket, "/tmp/x.sock");
	st->objects = 15;
	st->limit_bytes = UINT64_MAX;
	STATUS_SET(st, huge_pages, "off");
	STATUS_SET(st, mount, "/mnt/a \"quoted\" dir");
	st->damaged_files = 3;
}

static void
test_round_trip(void)
{
	struct status st, back;
	struct cw w;
	struct cr r;

	sample(&st);
	cw_init(&w);
	status_encode(&st, &w);
	CHECK_EQ(cw_finish(&w), 0);
	cr_init(&r, w.buf, w.len);
	memset(&back, 0x55, sizeof(back));
	CHECK_EQ(status_decode(&r, &back), 0);
	CHECK(cr_done(&r));
	CHECK(strcmp(back.version, "9.8.7") == 0);
	CHECK(strcmp(back.socket, "/tmp/x.sock") == 0);
	CHECK(strcmp(back.mount, "/mnt/a \"quoted\" dir") == 0);
	CHECK(back.fs_mode[0] == 0 && back.data_dir[0] == 0); /* none */
	CHECK(back.pid == 4242 && back.objects == 15 && back.damaged_files == 3);
	CHECK(back.limit_bytes == UINT64_MAX);
	CHECK(back.used_bytes == 0);
	cw_release(&w);
}

/* A newer daemon's extra figure is skipped; an older one's missing figure
 * reads as 0 / none. */
static void
test_other_versions(void)
{
	struct status st;
	struct cw w;
	struct cr r;

	cw_init(&w);
	cw_map(&w, 3);
	cw_str(&w, "objects");
	cw_uint(&w, 7);
	cw_str(&w, "from_the_future");
	cw_array(&w, 2);
	cw_str(&w, "x");
	cw_map(&w, 0);
	cw_str(&w, "version");
	cw_str(&w, "0.0.1");
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(status_decode(&r, &st), 0);
	CHECK(st.objects == 7 && strcmp(st.version, "0.0.1") == 0);
	CHECK(st.pid == 0 && st.socket[0] == 0 && st.mount[0] == 0);
	cw_release(&w);
}

static int
decode_one(const char *key, int as_str, const char *s, uint64_t v)
{
	struct status st;
	struct cw w;
	struct cr r;
	int rc;

	cw_init(&w);
	cw_map(&w, 1);
	cw_str(&w, key);
	if (as_str)
		cw_str(&w, s);
	else
		cw_uint(&w, v);
	cr_init(&r, w.buf, w.len);
	rc = status_decode(&r, &st);
	cw_release(&w);
	return rc;
}

static void
test_refusals(void)
{
	char big[200];
	struct status st;
	struct cr r;

	CHECK_EQ(decode_one("objects", 1, "7", 0), -EBADMSG);
	CHECK_EQ(decode_one("version", 0, NULL, 7), -EBADMSG);
	/* a string longer than its figure holds is refused, not cut */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	CHECK_EQ(decode_one("socket", 1, big, 0), -EBADMSG);
	big[107] = 0;
	CHECK_EQ(decode_one("socket", 1, big, 0), 0);
	/* not a map; truncated */
	cr_init(&r, "\x80", 1);
	CHECK_EQ(status_decode(&r, &st), -EBADMSG);
	cr_init(&r, "\xa1\x67objects", 8);
	CHECK_EQ(status_decode(&r, &st), -EBADMSG);
}

static void
test_json(void)
{
	struct status st;
	struct cw w;
	const char *j, *a, *b;

	sample(&st);
	cw_init(&w);
	CHECK_EQ(status_json(&st, &w), 0);
	cw_raw(&w, "", 1);
	j = (const char *)w.buf;
	CHECK(strncmp(j, "{\n  \"version\": \"9.8.7\",\n  \"protocol\": 1,\n",
		      40) == 0);
	CHECK(strstr(j, "\"limit_bytes\": 18446744073709551615,") != NULL);
	CHECK(strstr(j, "\"mount\": \"/mnt/a \\\"quoted\\\" dir\",") != NULL);
	CHECK(strstr(j, "\"fs_mode\": null,") != NULL);
	CHECK(strstr(j, "\"damaged_files\": 3,\n") != NULL);
	CHECK(strstr(j, "\"cluster_instance\": 0,\n") != NULL);
	CHECK(strstr(j, "\"spills\": 0,\n") != NULL);
	CHECK(strstr(j, "\"cluster_objects\": 0\n}\n") != NULL);
	/* every figure, in the list's order */
	a = strstr(j, "\"socket\"");
	b = strstr(j, "\"clients\"");
	CHECK(a && b && a < b);
	CHECK(strstr(j, "\"disk_raw_bytes\": 0,") != NULL);
	cw_release(&w);
}

TEST_MAIN(RUN(test_round_trip); RUN(test_other_versions);
	  RUN(test_refusals); RUN(test_json))
