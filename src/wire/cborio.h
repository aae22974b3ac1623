/*
 * cborio: allocation-free CBOR reading and a growable CBOR writer, on top of
 * libcbor's streaming decoder and encoding primitives. The daemon, the client
 * library and the on-disk format use it for every byte of CBOR they touch.
 *
 * Why not cbor_load(): it builds item trees sized by the lengths the input
 * declares, so a 9-byte message can make it allocate a gigabyte. The reader
 * here never allocates; every length is checked against the bytes present,
 * and every count against the bytes left (each item takes at least one).
 * Only definite-length items are accepted; tags and undefined are rejected.
 */
#ifndef VY_CBORIO_H
#define VY_CBORIO_H

#include <stddef.h>
#include <stdint.h>

/* The writer. Memory comes from malloc; on failure .oom is set and later
 * calls do nothing, so callers check once at the end (cw_finish). */
struct cw {
	uint8_t *buf; /* malloc'd, cap bytes */
	size_t len;   /* bytes written */
	size_t cap;
	int oom;
};

void cw_init(struct cw *w);
void cw_release(struct cw *w);
/* 0, or -ENOMEM when any earlier call ran out of memory. */
int cw_finish(const struct cw *w);
void cw_reset(struct cw *w);
void cw_uint(struct cw *w, uint64_t v);
void cw_int(struct cw *w, int64_t v);
void cw_double(struct cw *w, double v);
void cw_bool(struct cw *w, int v);
void cw_null(struct cw *w);
void cw_str(struct cw *w, const char *s); /* NUL-terminated */
void cw_strn(struct cw *w, const char *s, size_t len);
void cw_bytes(struct cw *w, const void *p, size_t len);
/* Only the head of a byte string of len bytes: its bytes follow outside
 * this buffer (a reply whose payload is sent from a file). */
void cw_bytes_head(struct cw *w, size_t len);
/* Starts a byte string of len bytes and returns where to write them. */
uint8_t *cw_bytes_start(struct cw *w, size_t len);
void cw_array(struct cw *w, size_t n);
void cw_map(struct cw *w, size_t n);
/* Appends bytes that are already valid CBOR. */
void cw_raw(struct cw *w, const void *p, size_t len);

/* Item kinds the reader reports. */
enum cr_kind {
	CR_UINT, CR_NEGINT, CR_BYTES, CR_STR, CR_ARRAY, CR_MAP,
	CR_FLOAT, CR_BOOL, CR_NULL, CR_BAD
};

/* The reader: a cursor over caller-owned bytes. */
struct cr {
	const uint8_t *p;
	const uint8_t *end;
};

/* One decoded item head. Strings point into the input. */
struct cr_item {
	enum cr_kind kind;
	uint64_t u;      /* UINT; NEGINT: the value is -1 - u; ARRAY/MAP: count */
	double f;        /* FLOAT */
	int b;           /* BOOL */
	const uint8_t *s; /* BYTES/STR */
	size_t len;       /* BYTES/STR */
};

void cr_init(struct cr *r, const void *p, size_t len);
int cr_done(const struct cr *r);
/* Each returns 0, or -EBADMSG for malformed, truncated or mistyped input. */
int cr_next(struct cr *r, struct cr_item *it);
int cr_peek(const struct cr *r, struct cr_item *it);
int cr_uint(struct cr *r, uint64_t *v);
int cr_int(struct cr *r, int64_t *v);
int cr_double(struct cr *r, double *v); /* accepts integers too */
int cr_bool(struct cr *r, int *v);
int cr_str(struct cr *r, const char **s, size_t *len);
int cr_bytes(struct cr *r, const void **p, size_t *len);
int cr_array(struct cr *r, size_t *n);
int cr_map(struct cr *r, size_t *n);
/* 1 if the next item is null (and consumes it), 0 if not, <0 on error. */
int cr_null(struct cr *r);
/* Skips one whole item, nested up to depth levels. */
int cr_skip(struct cr *r, int depth);
/* 1 if the string item equals the NUL-terminated key. */
int cr_streq(const struct cr_item *it, const char *key);

#endif
