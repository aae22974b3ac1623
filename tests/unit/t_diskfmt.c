/*
 * t_diskfmt: the on-disk format and its decoders. Round trips of every kind
 * of file, then damage: truncation at every length, every single bit
 * flipped, another format version, and length fields that lie.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diskfmt.h"
#include "test.h"

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct buf {
	uint8_t *p;
	size_t len, cap;
	int fail_after; /* -1: never */
};

static int
buf_out(void *ctx, const void *p, size_t len)
{
	struct buf *b = ctx;

	if (b->fail_after == 0)
		return -ENOSPC;
	if (b->fail_after > 0)
		b->fail_after--;
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

/* A whole blob file in memory: header then body. */
static uint8_t *
blob_file(const void *src, size_t len, size_t *flen)
{
	struct buf b = { NULL, 0, 0, -1 };
	struct diskfmt_hdr h;
	uint64_t body;
	uint8_t hdr[DISKFMT_HDR_LEN] = { 0 };

	memset(&h, 0, sizeof(h));
	CHECK_EQ(buf_out(&b, hdr, sizeof(hdr)), 0);
	CHECK_EQ(diskfmt_blob_encode_mem(src, len, 1, buf_out, &b, &body), 0);
	CHECK_EQ(body + DISKFMT_HDR_LEN, b.len);
	h.version = DISKFMT_VERSION;
	h.kind = DISKFMT_BLOB;
	h.id = 0x8000000000000001ull | (uint64_t)len << 8;
	h.raw_len = len;
	h.body_len = body;
	diskfmt_hdr_pack(&h, b.p);
	*flen = b.len;
	return b.p;
}

/* Parses and decodes a blob file; 0 or the first error. */
static int
blob_check(const uint8_t *f, size_t flen, uint8_t **out, uint64_t *outlen)
{
	struct diskfmt_hdr h;
	const char *why;
	uint8_t *dst;
	int rc;

	rc = diskfmt_hdr_parse(f, flen, flen, &h, &why);
	if (rc)
		return rc;
	CHECK(why == NULL);
	if (h.kind != DISKFMT_BLOB)
		return -EBADMSG;
	dst = malloc(h.raw_len ? (size_t)h.raw_len : 1);
	rc = diskfmt_blob_decode_mem(f + DISKFMT_HDR_LEN, (size_t)h.body_len,
				     dst, h.raw_len, &why);
	if (rc) {
		CHECK(why != NULL);
		free(dst);
		return rc;
	}
	if (out) {
		*out = dst;
		*outlen = h.raw_len;
	} else {
		free(dst);
	}
	return 0;
}

static void
test_xxh32(void)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog"
		"The quick brown fox jumps over the lazy dog"
		"The quick brown fox jumps over the lazy dog";

	/* Reference values: the content checksums `lz4` writes. */
	CHECK_EQ(diskfmt_xxh32("", 0), 0x02CC5D05u);
	CHECK_EQ(diskfmt_xxh32("abc", 3), 0x32D153FFu);
	CHECK_EQ(diskfmt_xxh32(fox, strlen(fox)), 0x903B2D5Eu);
}

static void
test_header(void)
{
	struct diskfmt_hdr h, g;
	uint8_t b[DISKFMT_HDR_LEN + 100];
	const char *why;
	size_t i;
	int bit;

	memset(&h, 0, sizeof(h));
	h.version = DISKFMT_VERSION;
	h.kind = DISKFMT_OBJECT;
	h.id = 0x0123456789abcdefull;
	h.raw_len = h.body_len = 100;
	h.body_check = 0xdeadbeef;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why), 0);
	CHECK(g.id == h.id && g.body_len == 100 && g.kind == DISKFMT_OBJECT);
	CHECK_EQ(g.body_check, 0xdeadbeefu);
	/* Every single flipped bit is caught. */
	for (i = 0; i < DISKFMT_HDR_LEN; i++)
		for (bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1 << bit);
			CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b),
						   &g, &why), -EBADMSG);
			b[i] ^= (uint8_t)(1 << bit);
		}
	/* Truncated header, truncated body, bytes after the body. */
	for (i = 0; i < DISKFMT_HDR_LEN; i++)
		CHECK_EQ(diskfmt_hdr_parse(b, i, sizeof(b), &g, &why),
			 -EBADMSG);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b) - 1, &g, &why),
		 -EBADMSG);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b) + 1, &g, &why),
		 -EBADMSG);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), 10, &g, &why), -EBADMSG);
	/* Another version, well formed: not damage, a newer writer. */
	h.version = DISKFMT_VERSION + 1;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why),
		 -EPROTONOSUPPORT);
	CHECK_EQ(g.version, DISKFMT_VERSION + 1);
	h.version = 0;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why),
		 -EPROTONOSUPPORT);
	h.version = DISKFMT_VERSION;
	/* Unknown kind, flags, id 0. */
	h.kind = 9;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why),
		 -EBADMSG);
	h.kind = DISKFMT_OBJECT;
	h.flags = 2;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why),
		 -EBADMSG);
	/* ROOT is known, but not for anchors. */
	h.flags = DISKFMT_F_ROOT;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why), 0);
	CHECK_EQ(g.flags, DISKFMT_F_ROOT);
	h.kind = DISKFMT_ANCHOR;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why),
		 -EBADMSG);
	h.kind = DISKFMT_OBJECT;
	h.flags = 0;
	h.id = 0;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why),
		 -EBADMSG);
}

static void
test_huge_lengths(void)
{
	struct diskfmt_hdr h, g;
	uint8_t b[DISKFMT_HDR_LEN];
	const char *why;
	uint64_t flen;

	memset(&h, 0, sizeof(h));
	h.version = DISKFMT_VERSION;
	h.id = 7;
	/* A record claiming far more than the maximum. */
	h.kind = DISKFMT_OBJECT;
	h.raw_len = h.body_len = 1ull << 40;
	flen = DISKFMT_HDR_LEN + h.body_len;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), flen, &g, &why), -EBADMSG);
	/* Lengths that disagree. */
	h.raw_len = 10;
	h.body_len = 11;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), DISKFMT_HDR_LEN + 11, &g,
				   &why), -EBADMSG);
	/* A blob whose content could not come from its body. */
	h.kind = DISKFMT_BLOB;
	h.id = 0x8000000000000007ull;
	h.body_len = 100;
	h.raw_len = 100 * DISKFMT_MAX_RATIO + DISKFMT_MAX_RATIO;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), DISKFMT_HDR_LEN + 100, &g,
				   &why), -EBADMSG);
	h.raw_len = UINT64_MAX;
	h.body_len = UINT64_MAX - DISKFMT_HDR_LEN;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), UINT64_MAX, &g, &why),
		 -EBADMSG);
	/* body_len near 2^64 must not wrap the truncation check. */
	h.raw_len = 1;
	h.body_len = UINT64_MAX;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), 1000, &g, &why), -EBADMSG);
}

static void
test_blob_roundtrip(void)
{
	static const size_t sizes[] = { 0, 1, 15, 4095, 4096, 65537,
					(4u << 20) + 3, (9u << 20) + 11 };
	size_t i, k;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i], flen;
		uint8_t *src = malloc(len ? len : 1), *f, *back = NULL;
		uint64_t blen = 0;

		/* Half compressible text-like, half noise. */
		for (k = 0; k < len; k++)
			src[k] = k < len / 2 ? (uint8_t)("vineyard "[k % 9] +
							 (k / 4096) % 3) :
				 (uint8_t)rnd();
		f = blob_file(src, len, &flen);
		CHECK_EQ(blob_check(f, flen, &back, &blen), 0);
		CHECK(blen == len);
		CHECK(back && (len == 0 || memcmp(back, src, len) == 0));
		free(back);
		free(f);
		free(src);
	}
}

static void
test_blob_random_size(void)
{
	size_t len = 6u << 20, flen, k;
	uint8_t *src = malloc(len), *f;

	for (k = 0; k < len; k += 8) {
		uint64_t v = rnd();

		memcpy(src + k, &v, 8);
	}
	f = blob_file(src, len, &flen);
	/* Incompressible blocks are stored raw: a few bytes per block. */
	CHECK(flen <= len + len / 100);
	CHECK(flen <= len + 200);
	CHECK_EQ(blob_check(f, flen, NULL, NULL), 0);
	free(f);
	free(src);
}

static void
test_blob_damage(void)
{
	size_t len = 3000, flen, i, k;
	uint8_t src[3000], *f, *back;
	uint64_t blen;
	int bit, rc;

	for (k = 0; k < len; k++)
		src[k] = k % 5 == 0 ? (uint8_t)rnd() : (uint8_t)(k / 100);
	f = blob_file(src, len, &flen);
	CHECK_EQ(blob_check(f, flen, NULL, NULL), 0);
	/* Truncated at every length. */
	for (i = 0; i < flen; i++)
		CHECK(blob_check(f, i, NULL, NULL) != 0);
	/* Every bit of the whole file, flipped alone: the decoder fails,
	 * or the flip was in a redundant spot (LZ4 can spell the same bytes
	 * several ways, e.g. a match offset into a run) and the content
	 * comes back byte-identical, which its checksum then proves. */
	for (i = 0; i < flen; i++)
		for (bit = 0; bit < 8; bit++) {
			f[i] ^= (uint8_t)(1 << bit);
			back = NULL;
			rc = blob_check(f, flen, &back, &blen);
			CHECK(rc == -EBADMSG || (rc == 0 && blen == len &&
						 memcmp(back, src, len) == 0));
			free(back);
			f[i] ^= (uint8_t)(1 << bit);
		}
	CHECK_EQ(blob_check(f, flen, NULL, NULL), 0);
	free(f);
}

static void
test_blob_lying_lengths(void)
{
	size_t len = 100000, flen, k;
	uint8_t *src = malloc(len), *f, *dst = malloc(len + 10);
	const char *why;

	for (k = 0; k < len; k++)
		src[k] = (uint8_t)(k % 251);
	f = blob_file(src, len, &flen);
	/* The header's content length is checked against the frame's,
	 * shorter and longer. */
	CHECK_EQ(diskfmt_blob_decode_mem(f + DISKFMT_HDR_LEN,
					 flen - DISKFMT_HDR_LEN, dst, len - 1,
					 &why), -EBADMSG);
	CHECK_EQ(diskfmt_blob_decode_mem(f + DISKFMT_HDR_LEN,
					 flen - DISKFMT_HDR_LEN, dst, len + 1,
					 &why), -EBADMSG);
	/* Body longer than the frame (trailing bytes) and shorter. */
	CHECK_EQ(diskfmt_blob_decode_mem(f + DISKFMT_HDR_LEN,
					 flen - DISKFMT_HDR_LEN - 1, dst, len,
					 &why), -EBADMSG);
	f = realloc(f, flen + 4);
	memset(f + flen, 0, 4);
	CHECK_EQ(diskfmt_blob_decode_mem(f + DISKFMT_HDR_LEN,
					 flen - DISKFMT_HDR_LEN + 4, dst, len,
					 &why), -EBADMSG);
	/* Garbage that is not a frame at all. */
	CHECK_EQ(diskfmt_blob_decode_mem("garbage!garbage!", 16, dst, 5,
					 &why), -EBADMSG);
	CHECK_EQ(diskfmt_blob_decode_mem("", 0, dst, 0, &why), -EBADMSG);
	free(f);
	free(src);
	free(dst);
}

struct dribble {
	const uint8_t *p;
	size_t left, step;
};

/* A reader that hands out step bytes at a time at most. */
static ssize_t
dribble_in(void *ctx, void *buf, size_t cap)
{
	struct dribble *d = ctx;
	size_t k = cap < d->step ? cap : d->step;

	if (k > d->left)
		k = d->left;
	memcpy(buf, d->p, k);
	d->p += k;
	d->left -= k;
	return (ssize_t)k;
}

struct sink {
	uint8_t *p;
	size_t left;
};

static int
sink_out(void *ctx, const void *p, size_t len)
{
	struct sink *k = ctx;

	CHECK(len <= k->left);
	if (len > k->left)
		return -EINVAL;
	memcpy(k->p, p, len);
	k->p += len;
	k->left -= len;
	return 0;
}

static int
decode_to(struct dribble *d, uint64_t body_len, uint8_t *dst, size_t len)
{
	struct sink k = { dst, len };
	const char *why;

	return diskfmt_blob_decode(dribble_in, d, body_len, len, sink_out, &k,
				   &why);
}

static void
test_blob_short_reads(void)
{
	static const size_t steps[] = { 1, 2, 3, 7, 19, 4096 };
	size_t len = 200000, flen, i, k;
	uint8_t *src = malloc(len), *f, *dst = malloc(len);

	for (k = 0; k < len; k++)
		src[k] = k % 3 ? (uint8_t)(k >> 9) : (uint8_t)rnd();
	f = blob_file(src, len, &flen);
	/* The frame header split across reads, blocks split anywhere. */
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct dribble d = { f + DISKFMT_HDR_LEN,
				     flen - DISKFMT_HDR_LEN, steps[i] };

		memset(dst, 0, len);
		CHECK_EQ(decode_to(&d, flen - DISKFMT_HDR_LEN, dst, len), 0);
		CHECK(memcmp(dst, src, len) == 0);
	}
	/* A reader that ends early. */
	{
		struct dribble d = { f + DISKFMT_HDR_LEN, 100, 7 };

		CHECK_EQ(decode_to(&d, flen - DISKFMT_HDR_LEN, dst, len),
			 -EBADMSG);
	}
	free(f);
	free(src);
	free(dst);
}

static void
test_encode_error(void)
{
	struct buf b = { NULL, 0, 0, 1 };
	uint8_t src[100000];
	uint64_t body;

	memset(src, 'x', sizeof(src));
	/* The writer's error stops the encoder and comes back. */
	CHECK_EQ(diskfmt_blob_encode_mem(src, sizeof(src), 1, buf_out, &b,
					 &body),
		 -ENOSPC);
	free(b.p);
}

static void
test_object_record(void)
{
	struct cw w, doc;
	struct diskfmt_hdr h;
	const void *d;
	const char *why;
	size_t dl, i;
	int bit;

	cw_init(&w);
	cw_init(&doc);
	cw_map(&doc, 2);
	cw_str(&doc, "typename");
	cw_str(&doc, "vineyard::Tensor<double>");
	cw_str(&doc, "members");
	cw_map(&doc, 1);
	cw_str(&doc, "buffer_");
	cw_uint(&doc, 0x8000000000000abcull);
	diskfmt_object_file(&w, 42, 0, NULL, doc.buf, doc.len);
	CHECK_EQ(cw_finish(&w), 0);
	CHECK_EQ(diskfmt_hdr_parse(w.buf, w.len, w.len, &h, &why), 0);
	CHECK_EQ(h.kind, DISKFMT_OBJECT);
	CHECK_EQ(h.id, 42);
	CHECK_EQ(diskfmt_object_parse(&h, w.buf + DISKFMT_HDR_LEN, &d, &dl,
				      &why), 0);
	CHECK(dl == doc.len && memcmp(d, doc.buf, dl) == 0);
	/* Any flipped bit fails the header or the body checksum. */
	for (i = 0; i < w.len; i++)
		for (bit = 0; bit < 8; bit++) {
			int rc;

			w.buf[i] ^= (uint8_t)(1 << bit);
			rc = diskfmt_hdr_parse(w.buf, w.len, w.len, &h, &why);
			if (rc == 0)
				rc = diskfmt_object_parse(&h, w.buf +
							  DISKFMT_HDR_LEN, &d,
							  &dl, &why);
			CHECK_EQ(rc, -EBADMSG);
			w.buf[i] ^= (uint8_t)(1 << bit);
		}
	/* Wrong kind for the parser. */
	CHECK_EQ(diskfmt_hdr_parse(w.buf, w.len, w.len, &h, &why), 0);
	{
		struct diskfmt_anchor a;

		CHECK_EQ(diskfmt_anchor_parse(&h, w.buf + DISKFMT_HDR_LEN, &a,
					      &why), -EBADMSG);
	}
	/* A record whose id differs from its header's. */
	cw_reset(&w);
	diskfmt_object_file(&w, 42, 0, NULL, doc.buf, doc.len);
	w.buf[DISKFMT_HDR_LEN + 2] = 43; /* [2-array, uint8 tag, 42] */
	{
		struct diskfmt_hdr g;

		diskfmt_hdr_parse(w.buf, w.len, w.len, &g, &why);
		g.body_check = diskfmt_xxh32(w.buf + DISKFMT_HDR_LEN,
					     (size_t)g.body_len);
		diskfmt_hdr_pack(&g, w.buf);
		CHECK_EQ(diskfmt_hdr_parse(w.buf, w.len, w.len, &h, &why), 0);
		CHECK_EQ(diskfmt_object_parse(&h, w.buf + DISKFMT_HDR_LEN, &d,
					      &dl, &why), -EBADMSG);
	}
	/* A document that is not a map, or trailing bytes. */
	cw_reset(&w);
	diskfmt_object_file(&w, 42, 0, NULL, "\x01", 1);
	diskfmt_hdr_parse(w.buf, w.len, w.len, &h, &why);
	CHECK_EQ(diskfmt_object_parse(&h, w.buf + DISKFMT_HDR_LEN, &d, &dl,
				      &why), -EBADMSG);
	cw_reset(&w);
	diskfmt_object_file(&w, 42, 0, NULL, "\xa0\xa0", 2);
	diskfmt_hdr_parse(w.buf, w.len, w.len, &h, &why);
	CHECK_EQ(diskfmt_object_parse(&h, w.buf + DISKFMT_HDR_LEN, &d, &dl,
				      &why), -EBADMSG);
	cw_release(&w);
	cw_release(&doc);
}

/* An anchor file whose body is the given raw CBOR. */
static void
raw_anchor(struct cw *w, const void *body, size_t len)
{
	struct diskfmt_hdr h;
	uint8_t hdr[DISKFMT_HDR_LEN];

	memset(&h, 0, sizeof(h));
	h.version = DISKFMT_VERSION;
	h.kind = DISKFMT_ANCHOR;
	h.id = 5;
	h.raw_len = h.body_len = len;
	h.body_check = diskfmt_xxh32(body, len);
	diskfmt_hdr_pack(&h, hdr);
	cw_reset(w);
	cw_raw(w, hdr, sizeof(hdr));
	cw_raw(w, body, len);
}

static int
anchor_rc(struct cw *w)
{
	struct diskfmt_anchor a;
	struct diskfmt_hdr h;
	const char *why;
	int rc = diskfmt_hdr_parse(w->buf, w->len, w->len, &h, &why);

	return rc ? rc : diskfmt_anchor_parse(&h, w->buf + DISKFMT_HDR_LEN, &a,
					      &why);
}

static void
test_anchor_record(void)
{
	static const char *names[] = { "model", "dataset-2024", "ünïcode" };
	struct diskfmt_anchor a;
	struct diskfmt_hdr h;
	struct cw w, b;
	const char *why, *s;
	size_t len, i;

	cw_init(&w);
	cw_init(&b);
	diskfmt_anchor_file(&w, 77, 123456, 1, names, NULL, 3);
	CHECK_EQ(diskfmt_hdr_parse(w.buf, w.len, w.len, &h, &why), 0);
	CHECK_EQ(h.kind, DISKFMT_ANCHOR);
	CHECK_EQ(diskfmt_anchor_parse(&h, w.buf + DISKFMT_HDR_LEN, &a, &why),
		 0);
	CHECK_EQ(a.seq, 123456);
	CHECK_EQ(a.explicit_, 1);
	CHECK_EQ(a.nnames, 3);
	for (i = 0; i < 3; i++) {
		struct diskfmt_owner o = { 7, 8, 0 };

		diskfmt_anchor_name(&a, &s, &len, &o);
		CHECK(len == strlen(names[i]) && memcmp(s, names[i], len) == 0);
		/* No owners recorded: the caller's default stays. */
		CHECK(o.uid == 7 && o.gid == 8);
	}
	CHECK_EQ(a.has_owners, 0);
	cw_reset(&w);
	diskfmt_anchor_file(&w, 77, 1, 0, NULL, NULL, 0);
	CHECK_EQ(anchor_rc(&w), 0);

	/* Unknown keys are skipped; known ones must be there, once. */
	cw_map(&b, 4);
	cw_str(&b, "seq"); cw_uint(&b, 1);
	cw_str(&b, "future"); cw_array(&b, 1); cw_uint(&b, 9);
	cw_str(&b, "explicit"); cw_bool(&b, 0);
	cw_str(&b, "names"); cw_array(&b, 0);
	raw_anchor(&w, b.buf, b.len);
	CHECK_EQ(anchor_rc(&w), 0);
	cw_reset(&b);
	cw_map(&b, 2);
	cw_str(&b, "seq"); cw_uint(&b, 1);
	cw_str(&b, "names"); cw_array(&b, 0);
	raw_anchor(&w, b.buf, b.len);
	CHECK_EQ(anchor_rc(&w), -EBADMSG);
	cw_reset(&b);
	cw_map(&b, 4);
	cw_str(&b, "seq"); cw_uint(&b, 1);
	cw_str(&b, "seq"); cw_uint(&b, 2);
	cw_str(&b, "explicit"); cw_bool(&b, 0);
	cw_str(&b, "names"); cw_array(&b, 0);
	raw_anchor(&w, b.buf, b.len);
	CHECK_EQ(anchor_rc(&w), -EBADMSG);
	/* Names: NUL inside, empty, too long, too many. */
	cw_reset(&b);
	cw_map(&b, 3);
	cw_str(&b, "seq"); cw_uint(&b, 1);
	cw_str(&b, "explicit"); cw_bool(&b, 0);
	cw_str(&b, "names"); cw_array(&b, 1); cw_strn(&b, "a\0b", 3);
	raw_anchor(&w, b.buf, b.len);
	CHECK_EQ(anchor_rc(&w), -EBADMSG);
	cw_reset(&b);
	cw_map(&b, 3);
	cw_str(&b, "seq"); cw_uint(&b, 1);
	cw_str(&b, "explicit"); cw_bool(&b, 0);
	cw_str(&b, "names"); cw_array(&b, 1); cw_strn(&b, "", 0);
	raw_anchor(&w, b.buf, b.len);
	CHECK_EQ(anchor_rc(&w), -EBADMSG);
	{
		char longname[300];

		memset(longname, 'n', sizeof(longname));
		cw_reset(&b);
		cw_map(&b, 3);
		cw_str(&b, "seq"); cw_uint(&b, 1);
		cw_str(&b, "explicit"); cw_bool(&b, 0);
		cw_str(&b, "names"); cw_array(&b, 1);
		cw_strn(&b, longname, 256);
		raw_anchor(&w, b.buf, b.len);
		CHECK_EQ(anchor_rc(&w), -EBADMSG);
	}
	/* An array count far beyond the bytes present. */
	cw_reset(&b);
	cw_map(&b, 3);
	cw_str(&b, "seq"); cw_uint(&b, 1);
	cw_str(&b, "explicit"); cw_bool(&b, 0);
	cw_str(&b, "names"); cw_array(&b, 4000000000u);
	raw_anchor(&w, b.buf, b.len);
	CHECK_EQ(anchor_rc(&w), -EBADMSG);
	cw_release(&w);
	cw_release(&b);
}

/* A format-1 header, as the previous writer packed it: 48 bytes, no
 * owner, the checksum at 44. */
static void
pack_v1(const struct diskfmt_hdr *h, uint8_t *out)
{
	uint8_t full[DISKFMT_HDR_LEN];
	uint32_t x;

	diskfmt_hdr_pack(h, full);
	memcpy(out, full, 44);
	out[4] = DISKFMT_HDR_LEN_1 - 8;
	out[12] = DISKFMT_VERSION_1;
	x = diskfmt_xxh32(out, 44);
	out[44] = (uint8_t)x;
	out[45] = (uint8_t)(x >> 8);
	out[46] = (uint8_t)(x >> 16);
	out[47] = (uint8_t)(x >> 24);
}

/* Format 2 carries the owner; format 1 still parses, without one. */
static void
test_owner_header(void)
{
	struct diskfmt_hdr h, g;
	uint8_t b[DISKFMT_HDR_LEN + 10];
	const char *why;
	uint32_t x;

	memset(&h, 0, sizeof(h));
	memset(b, 0, sizeof(b));
	h.version = DISKFMT_VERSION;
	h.kind = DISKFMT_BLOB;
	h.id = 0x8000000000000001ull;
	h.raw_len = 10;
	h.body_len = 10;
	h.owner.uid = 65534;
	h.owner.gid = 4000000000u;
	h.owner.mode = 0604;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why), 0);
	CHECK_EQ(g.hdr_len, DISKFMT_HDR_LEN);
	CHECK_EQ(g.has_owner, 1);
	CHECK(g.owner.uid == 65534 && g.owner.gid == 4000000000u &&
	      g.owner.mode == 0604);
	/* The whole header is needed, not only format 1's part of it. */
	CHECK_EQ(diskfmt_hdr_parse(b, DISKFMT_HDR_LEN - 1, sizeof(b), &g,
				   &why), -EBADMSG);
	/* An execute bit, or a reserved byte, is damage even under a
	 * matching checksum. */
	h.owner.mode = 0755;
	diskfmt_hdr_pack(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why),
		 -EBADMSG);
	h.owner.mode = 0640;
	diskfmt_hdr_pack(&h, b);
	b[57] = 1;
	x = diskfmt_xxh32(b, DISKFMT_HDR_LEN - 4);
	memcpy(b + DISKFMT_HDR_LEN - 4, &x, 4); /* little-endian hosts */
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why),
		 -EBADMSG);

	/* Format 1: 48 bytes, the body right after, no owner. */
	pack_v1(&h, b);
	CHECK_EQ(diskfmt_hdr_parse(b, DISKFMT_HDR_LEN_1 + 10,
				   DISKFMT_HDR_LEN_1 + 10, &g, &why), 0);
	CHECK_EQ(g.version, DISKFMT_VERSION_1);
	CHECK_EQ(g.hdr_len, DISKFMT_HDR_LEN_1);
	CHECK_EQ(g.has_owner, 0);
	CHECK(g.owner.uid == 0 && g.owner.mode == 0);
	CHECK(g.id == h.id && g.raw_len == 10 && g.body_len == 10);
	/* Truncated anywhere in format 1's header. */
	CHECK_EQ(diskfmt_hdr_parse(b, DISKFMT_HDR_LEN_1 - 1,
				   DISKFMT_HDR_LEN_1 + 10, &g, &why), -EBADMSG);
	/* A version that does not match the header's length. */
	b[12] = DISKFMT_VERSION;
	x = diskfmt_xxh32(b, 44);
	memcpy(b + 44, &x, 4);
	CHECK_EQ(diskfmt_hdr_parse(b, DISKFMT_HDR_LEN_1 + 10,
				   DISKFMT_HDR_LEN_1 + 10, &g, &why), -EBADMSG);
	/* A header length field out of range. */
	pack_v1(&h, b);
	b[4] = 0xff;
	b[5] = 0xff;
	CHECK_EQ(diskfmt_hdr_parse(b, sizeof(b), sizeof(b), &g, &why),
		 -EBADMSG);
}

/* Names' owners ride in anchors, one [uid, gid] per name. */
static void
test_anchor_owners(void)
{
	static const char *names[] = { "a", "b" };
	static const struct diskfmt_owner owners[] = { { 1000, 100, 0 },
						       { 0, 0, 0 } };
	struct diskfmt_anchor a;
	struct diskfmt_hdr h;
	struct diskfmt_owner o;
	struct cw w, b;
	const char *why, *s;
	size_t len;

	cw_init(&w);
	cw_init(&b);
	diskfmt_anchor_file(&w, 9, 3, 1, names, owners, 2);
	CHECK_EQ(diskfmt_hdr_parse(w.buf, w.len, w.len, &h, &why), 0);
	CHECK_EQ(h.has_owner, 0);
	CHECK_EQ(diskfmt_anchor_parse(&h, w.buf + h.hdr_len, &a, &why), 0);
	CHECK_EQ(a.has_owners, 1);
	o.uid = o.gid = 77;
	diskfmt_anchor_name(&a, &s, &len, &o);
	CHECK(len == 1 && s[0] == 'a' && o.uid == 1000 && o.gid == 100);
	diskfmt_anchor_name(&a, &s, &len, &o);
	CHECK(len == 1 && s[0] == 'b' && o.uid == 0 && o.gid == 0);
	/* One owner per name, each [uid, gid] of 32-bit numbers. */
	cw_map(&b, 4);
	cw_str(&b, "seq"); cw_uint(&b, 1);
	cw_str(&b, "explicit"); cw_bool(&b, 0);
	cw_str(&b, "names"); cw_array(&b, 1); cw_str(&b, "x");
	cw_str(&b, "owners"); cw_array(&b, 2);
	cw_array(&b, 2); cw_uint(&b, 1); cw_uint(&b, 1);
	cw_array(&b, 2); cw_uint(&b, 2); cw_uint(&b, 2);
	raw_anchor(&w, b.buf, b.len);
	CHECK_EQ(anchor_rc(&w), -EBADMSG);
	cw_reset(&b);
	cw_map(&b, 4);
	cw_str(&b, "seq"); cw_uint(&b, 1);
	cw_str(&b, "explicit"); cw_bool(&b, 0);
	cw_str(&b, "names"); cw_array(&b, 1); cw_str(&b, "x");
	cw_str(&b, "owners"); cw_array(&b, 1);
	cw_array(&b, 2); cw_uint(&b, 1ull << 32); cw_uint(&b, 1);
	raw_anchor(&w, b.buf, b.len);
	CHECK_EQ(anchor_rc(&w), -EBADMSG);
	cw_reset(&b);
	cw_map(&b, 4);
	cw_str(&b, "owners"); cw_array(&b, 1);
	cw_array(&b, 2); cw_uint(&b, 5); cw_uint(&b, 6);
	cw_str(&b, "seq"); cw_uint(&b, 1);
	cw_str(&b, "explicit"); cw_bool(&b, 0);
	cw_str(&b, "names"); cw_array(&b, 1); cw_str(&b, "x");
	raw_anchor(&w, b.buf, b.len);
	CHECK_EQ(anchor_rc(&w), 0);
	cw_release(&w);
	cw_release(&b);
}

TEST_MAIN(RUN(test_xxh32); RUN(test_header); RUN(test_huge_lengths);
	  RUN(test_owner_header); RUN(test_anchor_owners);
	  RUN(test_blob_roundtrip); RUN(test_blob_random_size);
	  RUN(test_blob_damage); RUN(test_blob_lying_lengths);
	  RUN(test_blob_short_reads);
	  RUN(test_encode_error); RUN(test_object_record);
	  RUN(test_anchor_record))
