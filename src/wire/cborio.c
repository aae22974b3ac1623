/*
 * cborio: the reader drives cbor_stream_decode() one item head at a time and
 * captures the head in a struct cr_item; nothing is allocated. The writer
 * calls libcbor's cbor_encode_* into a buffer it grows itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "cborio.h"
#include "banned.h"

/* ---- writer ---- */

void
cw_init(struct cw *w)
{
	memset(w, 0, sizeof(*w));
}

void
cw_release(struct cw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void
cw_reset(struct cw *w)
{
	w->len = 0;
	w->oom = 0;
}

int
cw_finish(const struct cw *w)
{
	return w->oom ? -ENOMEM : 0;
}

/* Makes room for n more bytes; returns 0 or -1 (and sets oom). */
static int
cw_reserve(struct cw *w, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (w->oom)
		return -1;
	if (w->cap - w->len >= n)
		return 0;
	cap = w->cap ? w->cap : 256;
	while (cap - w->len < n) {
		if (cap > SIZE_MAX / 2) {
			w->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	p = realloc(w->buf, cap);
	if (!p) {
		w->oom = 1;
		return -1;
	}
	w->buf = p;
	w->cap = cap;
	return 0;
}

/* Heads are at most 9 bytes; encode straight into the reserved room. */
#define CW_HEAD(w, call)                                          \
	do {                                                      \
		if (cw_reserve(w, 9) == 0)                        \
			(w)->len += call;                         \
	} while (0)

void
cw_uint(struct cw *w, uint64_t v)
{
	CW_HEAD(w, cbor_encode_uint(v, w->buf + w->len, 9));
}

void
cw_int(struct cw *w, int64_t v)
{
	if (v >= 0)
		CW_HEAD(w, cbor_encode_uint((uint64_t)v, w->buf + w->len, 9));
	else
		CW_HEAD(w, cbor_encode_negint((uint64_t)(-(v + 1)),
					      w->buf + w->len, 9));
}

void
cw_double(struct cw *w, double v)
{
	CW_HEAD(w, cbor_encode_double(v, w->buf + w->len, 9));
}

void
cw_bool(struct cw *w, int v)
{
	CW_HEAD(w, cbor_encode_bool(v != 0, w->buf + w->len, 9));
}

void
cw_null(struct cw *w)
{
	CW_HEAD(w, cbor_encode_null(w->buf + w->len, 9));
}

void
cw_array(struct cw *w, size_t n)
{
	CW_HEAD(w, cbor_encode_array_start(n, w->buf + w->len, 9));
}

void
cw_map(struct cw *w, size_t n)
{
	CW_HEAD(w, cbor_encode_map_start(n, w->buf + w->len, 9));
}

void
cw_strn(struct cw *w, const char *s, size_t len)
{
	CW_HEAD(w, cbor_encode_string_start(len, w->buf + w->len, 9));
	cw_raw(w, s, len);
}

void
cw_str(struct cw *w, const char *s)
{
	cw_strn(w, s, strlen(s));
}

uint8_t *
cw_bytes_start(struct cw *w, size_t len)
{
	uint8_t *p;

	CW_HEAD(w, cbor_encode_bytestring_start(len, w->buf + w->len, 9));
	if (cw_reserve(w, len))
		return NULL;
	p = w->buf + w->len;
	w->len += len;
	return p;
}

void
cw_bytes_head(struct cw *w, size_t len)
{
	CW_HEAD(w, cbor_encode_bytestring_start(len, w->buf + w->len, 9));
}

void
cw_bytes(struct cw *w, const void *p, size_t len)
{
	uint8_t *dst = cw_bytes_start(w, len);

	if (dst && len)
		memcpy(dst, p, len);
}

void
cw_raw(struct cw *w, const void *p, size_t len)
{
	if (!len || cw_reserve(w, len))
		return;
	memcpy(w->buf + w->len, p, len);
	w->len += len;
}

/* ---- reader ---- */

static void
cb_uint8(void *ctx, uint8_t v)
{
	struct cr_item *it = ctx;
	it->kind = CR_UINT;
	it->u = v;
}

static void
cb_uint16(void *ctx, uint16_t v)
{
	cb_uint8(ctx, 0);
	((struct cr_item *)ctx)->u = v;
}

static void
cb_uint32(void *ctx, uint32_t v)
{
	cb_uint8(ctx, 0);
	((struct cr_item *)ctx)->u = v;
}

static void
cb_uint64(void *ctx, uint64_t v)
{
	cb_uint8(ctx, 0);
	((struct cr_item *)ctx)->u = v;
}

static void
cb_negint8(void *ctx, uint8_t v)
{
	struct cr_item *it = ctx;
	it->kind = CR_NEGINT;
	it->u = v;
}

static void
cb_negint16(void *ctx, uint16_t v)
{
	cb_negint8(ctx, 0);
	((struct cr_item *)ctx)->u = v;
}

static void
cb_negint32(void *ctx, uint32_t v)
{
	cb_negint8(ctx, 0);
	((struct cr_item *)ctx)->u = v;
}

static void
cb_negint64(void *ctx, uint64_t v)
{
	cb_negint8(ctx, 0);
	((struct cr_item *)ctx)->u = v;
}

static void
cb_bytes(void *ctx, cbor_data p, size_t len)
{
	struct cr_item *it = ctx;
	it->kind = CR_BYTES;
	it->s = p;
	it->len = len;
}

static void
cb_str(void *ctx, cbor_data p, size_t len)
{
	struct cr_item *it = ctx;
	it->kind = CR_STR;
	it->s = p;
	it->len = len;
}

static void
cb_array(void *ctx, size_t n)
{
	struct cr_item *it = ctx;
	it->kind = CR_ARRAY;
	it->u = n;
}

static void
cb_map(void *ctx, size_t n)
{
	struct cr_item *it = ctx;
	it->kind = CR_MAP;
	it->u = n;
}

static void
cb_float(void *ctx, float v)
{
	struct cr_item *it = ctx;
	it->kind = CR_FLOAT;
	it->f = v;
}

static void
cb_double(void *ctx, double v)
{
	struct cr_item *it = ctx;
	it->kind = CR_FLOAT;
	it->f = v;
}

static void
cb_null(void *ctx)
{
	((struct cr_item *)ctx)->kind = CR_NULL;
}

static void
cb_bool(void *ctx, bool v)
{
	struct cr_item *it = ctx;
	it->kind = CR_BOOL;
	it->b = v;
}

static void
cb_bad(void *ctx)
{
	((struct cr_item *)ctx)->kind = CR_BAD;
}

static void
cb_bad_u64(void *ctx, uint64_t v)
{
	(void)v;
	cb_bad(ctx);
}

static void
cb_bad_sz(void *ctx, size_t v)
{
	(void)v;
	cb_bad(ctx);
}

static const struct cbor_callbacks cr_callbacks = {
	.uint8 = cb_uint8,
	.uint16 = cb_uint16,
	.uint32 = cb_uint32,
	.uint64 = cb_uint64,
	.negint8 = cb_negint8,
	.negint16 = cb_negint16,
	.negint32 = cb_negint32,
	.negint64 = cb_negint64,
	.byte_string = cb_bytes,
	.byte_string_start = cb_bad,
	.string = cb_str,
	.string_start = cb_bad,
	.array_start = cb_array,
	.indef_array_start = cb_bad,
	.map_start = cb_map,
	.indef_map_start = cb_bad,
	.tag = cb_bad_u64,
	.float2 = cb_float,
	.float4 = cb_float,
	.float8 = cb_double,
	.undefined = cb_bad,
	.null = cb_null,
	.boolean = cb_bool,
	.indef_break = cb_bad,
};

void
cr_init(struct cr *r, const void *p, size_t len)
{
	r->p = p;
	r->end = r->p + len;
}

int
cr_done(const struct cr *r)
{
	return r->p >= r->end;
}

/* Decodes the head at r->p without consuming it; *used gets its size. */
static int
cr_decode(const struct cr *r, struct cr_item *it, size_t *used)
{
	struct cbor_decoder_result res;
	size_t left = (size_t)(r->end - r->p);

	(void)cb_bad_sz;
	if (left == 0)
		return -EBADMSG;
	it->kind = CR_BAD;
	res = cbor_stream_decode(r->p, left, &cr_callbacks, it);
	if (res.status != CBOR_DECODER_FINISHED || it->kind == CR_BAD)
		return -EBADMSG;
	/* Every element of a collection takes at least one byte, so a count
	 * larger than what is left is a lie: refuse it before anyone sizes an
	 * allocation by it. */
	if (it->kind == CR_ARRAY || it->kind == CR_MAP) {
		uint64_t need = it->u;
		if (it->kind == CR_MAP && need > UINT64_MAX / 2)
			return -EBADMSG;
		if (it->kind == CR_MAP)
			need *= 2;
		if (need > left - res.read)
			return -EBADMSG;
	}
	*used = res.read;
	return 0;
}

int
cr_peek(const struct cr *r, struct cr_item *it)
{
	size_t used;

	return cr_decode(r, it, &used);
}

int
cr_next(struct cr *r, struct cr_item *it)
{
	size_t used;
	int rc = cr_decode(r, it, &used);

	if (rc == 0)
		r->p += used;
	return rc;
}

int
cr_uint(struct cr *r, uint64_t *v)
{
	struct cr_item it;
	int rc = cr_next(r, &it);

	if (rc)
		return rc;
	if (it.kind != CR_UINT)
		return -EBADMSG;
	*v = it.u;
	return 0;
}

int
cr_int(struct cr *r, int64_t *v)
{
	struct cr_item it;
	int rc = cr_next(r, &it);

	if (rc)
		return rc;
	if (it.kind == CR_UINT && it.u <= INT64_MAX)
		*v = (int64_t)it.u;
	else if (it.kind == CR_NEGINT && it.u <= INT64_MAX)
		*v = -1 - (int64_t)it.u;
	else
		return -EBADMSG;
	return 0;
}

int
cr_double(struct cr *r, double *v)
{
	struct cr_item it;
	int rc = cr_next(r, &it);

	if (rc)
		return rc;
	if (it.kind == CR_FLOAT)
		*v = it.f;
	else if (it.kind == CR_UINT)
		*v = (double)it.u;
	else if (it.kind == CR_NEGINT)
		*v = -1.0 - (double)it.u;
	else
		return -EBADMSG;
	return 0;
}

int
cr_bool(struct cr *r, int *v)
{
	struct cr_item it;
	int rc = cr_next(r, &it);

	if (rc)
		return rc;
	if (it.kind != CR_BOOL)
		return -EBADMSG;
	*v = it.b;
	return 0;
}

int
cr_str(struct cr *r, const char **s, size_t *len)
{
	struct cr_item it;
	int rc = cr_next(r, &it);

	if (rc)
		return rc;
	if (it.kind != CR_STR)
		return -EBADMSG;
	*s = (const char *)it.s;
	*len = it.len;
	return 0;
}

int
cr_bytes(struct cr *r, const void **p, size_t *len)
{
	struct cr_item it;
	int rc = cr_next(r, &it);

	if (rc)
		return rc;
	if (it.kind != CR_BYTES)
		return -EBADMSG;
	*p = it.s;
	*len = it.len;
	return 0;
}

int
cr_array(struct cr *r, size_t *n)
{
	struct cr_item it;
	int rc = cr_next(r, &it);

	if (rc)
		return rc;
	if (it.kind != CR_ARRAY)
		return -EBADMSG;
	*n = (size_t)it.u;
	return 0;
}

int
cr_map(struct cr *r, size_t *n)
{
	struct cr_item it;
	int rc = cr_next(r, &it);

	if (rc)
		return rc;
	if (it.kind != CR_MAP)
		return -EBADMSG;
	*n = (size_t)it.u;
	return 0;
}

int
cr_null(struct cr *r)
{
	struct cr_item it;
	size_t used;
	int rc = cr_decode(r, &it, &used);

	if (rc)
		return rc;
	if (it.kind != CR_NULL)
		return 0;
	r->p += used;
	return 1;
}

int
cr_skip(struct cr *r, int depth)
{
	struct cr_item it;
	uint64_t i, n;
	int rc;

	if (depth < 0)
		return -EBADMSG;
	rc = cr_next(r, &it);
	if (rc)
		return rc;
	if (it.kind != CR_ARRAY && it.kind != CR_MAP)
		return 0;
	n = it.kind == CR_MAP ? it.u * 2 : it.u;
	for (i = 0; i < n; i++) {
		rc = cr_skip(r, depth - 1);
		if (rc)
			return rc;
	}
	return 0;
}

int
cr_streq(const struct cr_item *it, const char *key)
{
	size_t n = strlen(key);

	return it->kind == CR_STR && it->len == n && memcmp(it->s, key, n) == 0;
}
