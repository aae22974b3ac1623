/*
 * t_cborio: the allocation-free CBOR reader and the growable writer.
 * Round trips of every kind, truncation at every byte, counts and lengths
 * that lie about the bytes present, and the kinds the reader must refuse
 * (tags, undefined, indefinite lengths, reserved heads).
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cborio.h"
#include "test.h"
#include "banned.h"

static void
test_uint_round_trip(void)
{
	static const uint64_t v[] = {
		0, 1, 23, 24, 255, 256, 65535, 65536, 0xffffffffull,
		0x100000000ull, UINT64_MAX,
	};
	struct cw w;
	struct cr r;
	size_t i;

	cw_init(&w);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		cw_uint(&w, v[i]);
	CHECK_EQ(cw_finish(&w), 0);
	/* heads: 1,1,1,2,2,3,3,5,5,9,9 bytes */
	CHECK_EQ(w.len, 1 + 1 + 1 + 2 + 2 + 3 + 3 + 5 + 5 + 9 + 9);
	cr_init(&r, w.buf, w.len);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t x = 12345;

		CHECK_EQ(cr_uint(&r, &x), 0);
		CHECK(x == v[i]);
	}
	CHECK(cr_done(&r));
	cw_release(&w);
}

static void
test_int_round_trip(void)
{
	static const int64_t v[] = {
		0, -1, -24, -25, -256, -257, -65537, INT32_MIN, INT64_MIN,
		INT64_MAX, 42,
	};
	struct cw w;
	struct cr r;
	size_t i;

	cw_init(&w);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		cw_int(&w, v[i]);
	CHECK_EQ(cw_finish(&w), 0);
	cr_init(&r, w.buf, w.len);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int64_t x = 7;

		CHECK_EQ(cr_int(&r, &x), 0);
		CHECK(x == v[i]);
	}
	CHECK(cr_done(&r));
	cw_release(&w);
}

/* Integers that do not fit int64_t are refused, not wrapped. */
static void
test_int_out_of_range(void)
{
	static const uint8_t big_uint[] = { 0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t big_neg[] = { 0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t min_neg[] = { 0x3b, 0x7f, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0xff };
	struct cr r;
	int64_t x;
	double d;

	cr_init(&r, big_uint, sizeof(big_uint));
	CHECK_EQ(cr_int(&r, &x), -EBADMSG);
	cr_init(&r, big_neg, sizeof(big_neg));
	CHECK_EQ(cr_int(&r, &x), -EBADMSG);
	cr_init(&r, min_neg, sizeof(min_neg));
	CHECK_EQ(cr_int(&r, &x), 0);
	CHECK(x == INT64_MIN);
	/* cr_double takes any integer. */
	cr_init(&r, big_neg, sizeof(big_neg));
	CHECK_EQ(cr_double(&r, &d), 0);
	CHECK(d == -1.0 - 9223372036854775808.0);
}

static void
test_scalars_round_trip(void)
{
	struct cw w;
	struct cr r;
	struct cr_item it;
	double d;
	int b;
	const char *s;
	const void *p;
	size_t len;
	uint8_t *dst;

	cw_init(&w);
	cw_double(&w, 0.5);
	cw_double(&w, -1e300);
	cw_double(&w, NAN);
	cw_double(&w, INFINITY);
	cw_bool(&w, 1);
	cw_bool(&w, 0);
	cw_null(&w);
	cw_str(&w, "hello");
	cw_strn(&w, "a\0b", 3);
	cw_str(&w, "");
	cw_bytes(&w, "\x00\xff\x10", 3);
	cw_bytes(&w, NULL, 0);
	dst = cw_bytes_start(&w, 4);
	CHECK(dst != NULL);
	if (dst)
		memcpy(dst, "wxyz", 4);
	cw_uint(&w, 7);
	CHECK_EQ(cw_finish(&w), 0);

	cr_init(&r, w.buf, w.len);
	CHECK_EQ(cr_double(&r, &d), 0);
	CHECK(d == 0.5);
	CHECK_EQ(cr_double(&r, &d), 0);
	CHECK(d == -1e300);
	CHECK_EQ(cr_double(&r, &d), 0);
	CHECK(isnan(d));
	CHECK_EQ(cr_double(&r, &d), 0);
	CHECK(isinf(d) && d > 0);
	CHECK_EQ(cr_bool(&r, &b), 0);
	CHECK_EQ(b, 1);
	CHECK_EQ(cr_bool(&r, &b), 0);
	CHECK_EQ(b, 0);
	CHECK_EQ(cr_null(&r), 1);
	CHECK_EQ(cr_str(&r, &s, &len), 0);
	CHECK(len == 5 && memcmp(s, "hello", 5) == 0);
	CHECK_EQ(cr_str(&r, &s, &len), 0);
	CHECK(len == 3 && memcmp(s, "a\0b", 3) == 0);
	CHECK_EQ(cr_peek(&r, &it), 0);
	CHECK(cr_streq(&it, ""));
	CHECK(!cr_streq(&it, "x"));
	CHECK_EQ(cr_str(&r, &s, &len), 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(cr_bytes(&r, &p, &len), 0);
	CHECK(len == 3 && memcmp(p, "\x00\xff\x10", 3) == 0);
	CHECK_EQ(cr_bytes(&r, &p, &len), 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(cr_bytes(&r, &p, &len), 0);
	CHECK(len == 4 && memcmp(p, "wxyz", 4) == 0);
	/* cr_double takes integers too */
	CHECK_EQ(cr_double(&r, &d), 0);
	CHECK(d == 7.0);
	CHECK(cr_done(&r));
	/* reading past the end is an error, not a crash */
	CHECK_EQ(cr_next(&r, &it), -EBADMSG);
	cw_release(&w);
}

/* Half and single precision floats from other encoders are read too. */
static void
test_small_floats(void)
{
	static const uint8_t half_one[] = { 0xf9, 0x3c, 0x00 };
	static const uint8_t half_nan[] = { 0xf9, 0x7e, 0x00 };
	static const uint8_t single[] = { 0xfa, 0x3f, 0xc0, 0x00, 0x00 };
	struct cr r;
	double d;

	cr_init(&r, half_one, sizeof(half_one));
	CHECK_EQ(cr_double(&r, &d), 0);
	CHECK(d == 1.0);
	cr_init(&r, half_nan, sizeof(half_nan));
	CHECK_EQ(cr_double(&r, &d), 0);
	CHECK(isnan(d));
	cr_init(&r, single, sizeof(single));
	CHECK_EQ(cr_double(&r, &d), 0);
	CHECK(d == 1.5);
}

/* A document of every kind, nested, for the truncation tests. */
static void
build_doc(struct cw *w)
{
	cw_map(w, 4);
	cw_str(w, "typename");
	cw_str(w, "vineyard::Tensor<double>");
	cw_str(w, "shape");
	cw_array(w, 3);
	cw_uint(w, 300);
	cw_int(w, -70000);
	cw_uint(w, 1ull << 40);
	cw_str(w, "nested");
	cw_map(w, 2);
	cw_str(w, "f");
	cw_double(w, 3.25);
	cw_str(w, "list");
	cw_array(w, 4);
	cw_bool(w, 1);
	cw_null(w);
	cw_bytes(w, "0123456789abcdef0123456789", 26);
	cw_array(w, 0);
	cw_str(w, "tail");
	cw_str(w, "a string long enough to need a one-byte length head");
}

static void
test_truncation_every_byte(void)
{
	struct cw w;
	struct cr r;
	size_t cut;

	cw_init(&w);
	build_doc(&w);
	CHECK_EQ(cw_finish(&w), 0);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(cr_skip(&r, 8), 0);
	CHECK(cr_done(&r));
	for (cut = 0; cut < w.len; cut++) {
		/* Copy so ASan sees any read past the cut. */
		uint8_t *copy = malloc(cut ? cut : 1);

		memcpy(copy, w.buf, cut);
		cr_init(&r, copy, cut);
		if (cr_skip(&r, 8) != -EBADMSG) {
			fprintf(stderr, "  truncated at %zu of %zu: accepted\n",
				cut, w.len);
			CHECK(0);
		}
		free(copy);
	}
	cw_release(&w);
}

/* Every collection count and string length beyond the bytes left is
 * refused at the head, before anyone could size an allocation by it. */
static void
test_lying_counts(void)
{
	static const struct {
		uint8_t b[12];
		size_t len;
	} lies[] = {
		{ { 0x9a, 0x08, 0x00, 0x00, 0x00 }, 5 },         /* array 2^27 */
		{ { 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		  9 },                                            /* array 2^64-1 */
		{ { 0xbb, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 9 },      /* map 2^63 */
		{ { 0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		  9 },                                            /* map 2^63-1 */
		{ { 0xa2, 0x01, 0x02, 0x03 }, 4 },               /* map 2: 3 left */
		{ { 0x83, 0x01, 0x02 }, 3 },                     /* array 3: 2 left */
		{ { 0x5b, 0x10, 0, 0, 0, 0, 0, 0, 0 }, 9 },      /* bytes 2^60 */
		{ { 0x7a, 0xff, 0xff, 0xff, 0xff, 'a' }, 6 },    /* text 4G */
		{ { 0x45, 'a', 'b' }, 3 },                       /* bytes 5: 2 left */
		{ { 0x18 }, 1 },                                 /* uint8, no byte */
		{ { 0x19, 0x01 }, 2 },                           /* uint16, 1 byte */
		{ { 0xfb, 0x00, 0x00 }, 3 },                     /* double, 2 bytes */
	};
	struct mallinfo2 before, after;
	size_t i;
	int round;

	before = mallinfo2();
	for (round = 0; round < 1000; round++)
		for (i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
			struct cr r;
			struct cr_item it;
			size_t n;

			cr_init(&r, lies[i].b, lies[i].len);
			if (cr_next(&r, &it) != -EBADMSG) {
				fprintf(stderr, "  lie %zu accepted\n", i);
				CHECK(0);
			}
			/* the cursor did not move */
			CHECK(r.p == lies[i].b);
			cr_init(&r, lies[i].b, lies[i].len);
			CHECK_EQ(cr_skip(&r, 4), -EBADMSG);
			cr_init(&r, lies[i].b, lies[i].len);
			CHECK(cr_array(&r, &n) == -EBADMSG);
		}
	after = mallinfo2();
	/* Nothing is allocated by reading, whatever the input claims. */
	CHECK(after.uordblks == before.uordblks);
	CHECK(after.hblkhd == before.hblkhd);
}

/* Kinds the format never uses are refused. */
static void
test_refused_kinds(void)
{
	static const struct {
		uint8_t b[4];
		size_t len;
	} bad[] = {
		{ { 0xc1, 0x00 }, 2 },       /* tag 1 */
		{ { 0xd8, 0x20, 0x60 }, 3 }, /* tag 32 */
		{ { 0xf7 }, 1 },             /* undefined */
		{ { 0x9f, 0xff }, 2 },       /* indefinite array */
		{ { 0xbf, 0xff }, 2 },       /* indefinite map */
		{ { 0x5f, 0xff }, 2 },       /* indefinite bytes */
		{ { 0x7f, 0xff }, 2 },       /* indefinite text */
		{ { 0xff }, 1 },             /* break */
		{ { 0x1c }, 1 },             /* reserved additional info */
		{ { 0x3e }, 1 },
		{ { 0xfc }, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cr r;
		struct cr_item it;

		cr_init(&r, bad[i].b, bad[i].len);
		if (cr_next(&r, &it) != -EBADMSG) {
			fprintf(stderr, "  kind %zu (0x%02x) accepted\n", i,
				bad[i].b[0]);
			CHECK(0);
		}
	}
}

static void
test_type_mismatch(void)
{
	struct cw w;
	struct cr r;
	uint64_t u;
	size_t n;
	const char *s;
	int b;

	cw_init(&w);
	cw_str(&w, "x");
	cw_uint(&w, 3);
	cw_array(&w, 0);
	cw_null(&w);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(cr_uint(&r, &u), -EBADMSG);  /* consumed the string */
	CHECK_EQ(cr_str(&r, &s, &n), -EBADMSG);
	CHECK_EQ(cr_map(&r, &n), -EBADMSG);
	CHECK_EQ(cr_bool(&r, &b), -EBADMSG);
	cw_release(&w);

	/* cr_null neither consumes nor fails on a non-null item */
	cw_init(&w);
	cw_uint(&w, 9);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(cr_null(&r), 0);
	CHECK_EQ(cr_uint(&r, &u), 0);
	CHECK_EQ(u, 9);
	CHECK(cr_null(&r) < 0); /* at the end */
	cw_release(&w);
}

static void
test_peek_and_skip_depth(void)
{
	struct cw w;
	struct cr r;
	struct cr_item it;
	int i;

	cw_init(&w);
	for (i = 0; i < 10; i++)
		cw_array(&w, 1);
	cw_uint(&w, 1);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(cr_peek(&r, &it), 0);
	CHECK_EQ(it.kind, CR_ARRAY);
	CHECK(r.p == w.buf);
	/* ten arrays around a scalar: depth 10 passes, 9 does not */
	CHECK_EQ(cr_skip(&r, 9), -EBADMSG);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(cr_skip(&r, 10), 0);
	CHECK(cr_done(&r));
	CHECK_EQ(cr_skip(&r, -1), -EBADMSG);
	cw_release(&w);
}

static void
test_writer_growth_and_reset(void)
{
	struct cw w;
	struct cr r;
	size_t i, n;
	static char big[100000];

	memset(big, 'z', sizeof(big));
	cw_init(&w);
	cw_array(&w, 1000);
	for (i = 0; i < 1000; i++)
		cw_str(&w, "some text to grow the buffer");
	cw_strn(&w, big, sizeof(big));
	CHECK_EQ(cw_finish(&w), 0);
	CHECK(w.cap >= w.len);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(cr_array(&r, &n), 0);
	CHECK_EQ(n, 1000);
	cr_init(&r, w.buf, w.len);
	CHECK_EQ(cr_skip(&r, 2), 0);
	{
		const char *s;
		size_t len;

		CHECK_EQ(cr_str(&r, &s, &len), 0);
		CHECK(len == sizeof(big) && s[0] == 'z' && s[len - 1] == 'z');
	}
	CHECK(cr_done(&r));
	cw_reset(&w);
	CHECK_EQ(w.len, 0);
	cw_raw(&w, "\xf6", 1);
	cw_raw(&w, NULL, 0);
	CHECK_EQ(w.len, 1);
	cw_release(&w);
	CHECK(w.buf == NULL && w.len == 0 && w.cap == 0);
	cw_release(&w); /* releasing twice is harmless */
}

/* Writer output is canonical CBOR another decoder can read: spot-check
 * the bytes of a few heads. */
static void
test_writer_bytes(void)
{
	struct cw w;

	cw_init(&w);
	cw_uint(&w, 24);
	cw_int(&w, -1);
	cw_map(&w, 2);
	cw_str(&w, "a");
	cw_bool(&w, 1);
	cw_null(&w);
	CHECK_EQ(w.len, 2 + 1 + 1 + 2 + 1 + 1);
	CHECK(memcmp(w.buf, "\x18\x18\x20\xa2\x61\x61\xf5\xf6", 8) == 0);
	cw_release(&w);
}

TEST_MAIN(RUN(test_uint_round_trip); RUN(test_int_round_trip);
	  RUN(test_int_out_of_range); RUN(test_scalars_round_trip);
	  RUN(test_small_floats); RUN(test_truncation_every_byte);
	  RUN(test_lying_counts); RUN(test_refused_kinds);
	  RUN(test_type_mismatch); RUN(test_peek_and_skip_depth);
	  RUN(test_writer_growth_and_reset); RUN(test_writer_bytes))
