/*
 * status: encoding, decoding and the JSON rendering of the daemon's
 * figures, each generated from STATUS_FIELDS (status.h).
 */
#include <errno.h>
#include <string.h>

#include "cborio.h"
#include "meta.h"
#include "status.h"
#include "banned.h"

#define COUNT_(...) + 1
#define STATUS_NFIELDS (0 STATUS_FIELDS(COUNT_, COUNT_))

void
status_set_str(char *dst, size_t cap, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s ? s : "", n);
	dst[n] = 0;
}

static void
put_str(struct cw *w, const char *s)
{
	if (s[0])
		cw_str(w, s);
	else
		cw_null(w);
}

void
status_encode(const struct status *st, struct cw *w)
{
	cw_map(w, STATUS_NFIELDS);
#define ENC_U_(name) cw_str(w, #name); cw_uint(w, st->name);
#define ENC_S_(name, cap) cw_str(w, #name); put_str(w, st->name);
	STATUS_FIELDS(ENC_U_, ENC_S_)
#undef ENC_U_
#undef ENC_S_
}

/* A string figure: text that fits, or null for none. */
static int
get_str(struct cr *r, char *dst, size_t cap)
{
	const char *s;
	size_t len;
	int rc = cr_null(r);

	if (rc < 0)
		return rc;
	if (rc == 1) {
		dst[0] = 0;
		return 0;
	}
	if (cr_str(r, &s, &len) || len >= cap || memchr(s, 0, len))
		return -EBADMSG;
	memcpy(dst, s, len);
	dst[len] = 0;
	return 0;
}

int
status_decode(struct cr *r, struct status *st)
{
	size_t n, i;

	memset(st, 0, sizeof(*st));
	if (cr_map(r, &n))
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		struct cr_item key;
		int rc;

		if (cr_next(r, &key) || key.kind != CR_STR)
			return -EBADMSG;
#define DEC_U_(name) \
		if (cr_streq(&key, #name)) \
			rc = cr_uint(r, &st->name) ? -EBADMSG : 0; \
		else
#define DEC_S_(name, cap) \
		if (cr_streq(&key, #name)) \
			rc = get_str(r, st->name, sizeof(st->name)); \
		else
		STATUS_FIELDS(DEC_U_, DEC_S_)
			rc = cr_skip(r, 8) ? -EBADMSG : 0; /* newer daemon */
#undef DEC_U_
#undef DEC_S_
		if (rc)
			return -EBADMSG;
	}
	return 0;
}

int
status_json(const struct status *st, struct cw *out)
{
	struct cw w;
	struct cr r;
	int rc;

	/* Through the CBOR form and meta's JSON writer: one renderer and
	 * one string escaper for every JSON text vineyard shows. */
	cw_init(&w);
	status_encode(st, &w);
	rc = cw_finish(&w);
	if (rc == 0) {
		cr_init(&r, w.buf, w.len);
		rc = meta_json_value(out, &r, 0, 0);
		cw_raw(out, "\n", 1);
	}
	cw_release(&w);
	return rc ? rc : cw_finish(out);
}
