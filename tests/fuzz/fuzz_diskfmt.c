/*
 * fuzz_diskfmt: libFuzzer target for the on-disk decoders (diskfmt.c), the
 * bytes a data directory hands the daemon at start-up and on first use.
 *
 * Input: one mode byte, then a file. Mode bit 0 makes the harness rewrite
 * the header checksum, bit 1 a record's body checksum, so the fuzzer also
 * explores what lies behind them instead of stopping at the checksums;
 * bits 2-4 pick the read size of a second, streaming blob decode that must
 * agree with the one-shot decode. Seeds: tests/fuzz/corpus/diskfmt/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "diskfmt.h"
#include "meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct dribble {
	const uint8_t *p;
	size_t left, step;
};

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

static void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

struct sink {
	uint8_t *p;
	size_t left;
};

/* The decoder must never hand out more than the header's length. */
static int
sink_out(void *ctx, const void *p, size_t len)
{
	struct sink *k = ctx;

	if (len > k->left)
		abort();
	memcpy(k->p, p, len);
	k->p += len;
	k->left -= len;
	return 0;
}

static void
blob(const struct diskfmt_hdr *h, const uint8_t *body, size_t step)
{
	const char *why;
	uint8_t *a, *b;
	int ra, rb;
	struct dribble d = { body, (size_t)h->body_len, step };

	/* The header check bounds raw_len by the body's size. */
	a = malloc(h->raw_len ? (size_t)h->raw_len : 1);
	b = malloc(h->raw_len ? (size_t)h->raw_len : 1);
	if (!a || !b)
		abort();
	ra = diskfmt_blob_decode_mem(body, (size_t)h->body_len, a,
				     h->raw_len, &why);
	{
		struct sink k = { b, (size_t)h->raw_len };

		rb = diskfmt_blob_decode(dribble_in, &d, h->body_len,
					 h->raw_len, sink_out, &k, &why);
	}
	if (ra != rb || (ra == 0 && memcmp(a, b, (size_t)h->raw_len) != 0))
		abort();
	free(a);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diskfmt_hdr h;
	struct diskfmt_anchor an;
	const char *why;
	const void *doc;
	uint8_t *f, mode;
	size_t len, dl, i;

	if (size < 1)
		return 0;
	mode = data[0];
	len = size - 1;
	f = malloc(len ? len : 1);
	if (!f)
		abort();
	memcpy(f, data + 1, len);
	/* Fix the checksums the fuzzer cannot guess, at the header length
	 * the file claims (format 1: 48 bytes, format 2: 64). */
	if (len >= DISKFMT_HDR_LEN_1) {
		size_t hl = f[4] + 8u;

		if (hl != DISKFMT_HDR_LEN)
			hl = DISKFMT_HDR_LEN_1;
		if (len >= hl) {
			if ((mode & 2) && f[13] != DISKFMT_BLOB)
				wr32(f + 40, diskfmt_xxh32(f + hl, len - hl));
			if (mode & 1)
				wr32(f + hl - 4, diskfmt_xxh32(f, hl - 4));
		}
	}
	if (diskfmt_hdr_parse(f, len, len, &h, &why) == 0) {
		const uint8_t *body = f + h.hdr_len;

		switch (h.kind) {
		case DISKFMT_BLOB:
			blob(&h, body, ((mode >> 2) & 7) * 3 + 1);
			break;
		case DISKFMT_OBJECT:
			if (diskfmt_object_parse(&h, body, &doc, &dl, &why) ==
			    0) {
				struct meta_view v;

				meta_view_parse(doc, dl, &v);
			}
			break;
		case DISKFMT_ANCHOR:
			if (diskfmt_anchor_parse(&h, body, &an, &why) == 0)
				for (i = 0; i < an.nnames; i++) {
					const char *s;
					size_t l;

					struct diskfmt_owner o;

					diskfmt_anchor_name(&an, &s, &l, &o);
					if (l == 0 || l > 255)
						abort();
				}
			break;
		}
	}
	free(f);
	return 0;
}
