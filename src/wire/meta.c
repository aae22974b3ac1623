/*
 * meta: put trees are parsed recursively with a depth bound; every count is
 * validated by cborio against the bytes left before any array is sized by
 * it. Stored documents reuse the client's fields bytes verbatim once they
 * have been validated, so a put costs one pass over the metadata.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "banned.h"

#define MAX_KEYS 65536 /* fields or members of one object */

static int
tree_fail(struct meta_tree *t, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	return rc;
}

int
meta_utf8_ok(const char *str, size_t len, int allow_ctrl)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			if (!allow_ctrl && (c < 0x20 || c == 0x7f))
				return 0;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + n >= len)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond Unicode */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		if (!allow_ctrl && cp >= 0x80 && cp < 0xa0)
			return 0;
		i += n + 1;
	}
	return 1;
}

int
meta_check_member_name(const char *s, size_t len)
{
	if (len == 0 || len > META_MAX_KEY)
		return -EINVAL;
	if (memchr(s, '/', len) || memchr(s, 0, len))
		return -EINVAL;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return -EINVAL;
	if ((len == 4 && memcmp(s, "data", 4) == 0) ||
	    (len == 9 && memcmp(s, "meta.json", 9) == 0) ||
	    (len == 8 && memcmp(s, "typename", 8) == 0))
		return -EINVAL;
	return meta_utf8_ok(s, len, 0) ? 0 : -EINVAL;
}

/* Validates one field value: scalars, and arrays/maps of them. */
static int
check_value(struct cr *r, int depth)
{
	struct cr_item it;
	uint64_t i;
	int rc;

	if (depth > META_MAX_DEPTH)
		return -EBADMSG;
	rc = cr_next(r, &it);
	if (rc)
		return rc;
	switch (it.kind) {
	case CR_UINT: case CR_NEGINT: case CR_FLOAT: case CR_BOOL: case CR_NULL:
		return 0;
	case CR_STR:
		return meta_utf8_ok((const char *)it.s, it.len, 1) ? 0 : -EBADMSG;
	case CR_ARRAY:
		for (i = 0; i < it.u; i++)
			if ((rc = check_value(r, depth + 1)))
				return rc;
		return 0;
	case CR_MAP:
		for (i = 0; i < it.u; i++) {
			const char *k;
			size_t kl;

			if ((rc = cr_str(r, &k, &kl)))
				return rc;
			if (!meta_utf8_ok(k, kl, 1))
				return -EBADMSG;
			if ((rc = check_value(r, depth + 1)))
				return rc;
		}
		return 0;
	default:
		return -EBADMSG;
	}
}

struct key {
	const char *s;
	size_t len;
};

static int
key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* 1 if two of the keys are equal. Sorts the array. */
static int
keys_dup(struct key *k, size_t n)
{
	size_t i;

	qsort(k, n, sizeof(*k), key_cmp);
	for (i = 1; i < n; i++)
		if (key_cmp(&k[i - 1], &k[i]) == 0)
			return 1;
	return 0;
}

static int parse_node(struct cr *r, struct meta_tree *t, int depth,
		      int32_t *index);

static int
parse_fields(struct cr *r, struct meta_tree *t, struct meta_node *n)
{
	struct key *keys;
	size_t i, cnt;
	int rc;

	n->fields = r->p;
	if ((rc = cr_map(r, &cnt)))
		return tree_fail(t, rc, "fields is not a map");
	if (cnt > MAX_KEYS)
		return tree_fail(t, -EBADMSG, "too many fields");
	keys = malloc((cnt ? cnt : 1) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < cnt; i++) {
		const char *k;
		size_t kl;

		if ((rc = cr_str(r, &k, &kl))) {
			free(keys);
			return tree_fail(t, rc, "field key is not text");
		}
		if (kl == 0 || kl > META_MAX_KEY || !meta_utf8_ok(k, kl, 0)) {
			free(keys);
			return tree_fail(t, -EBADMSG,
					 "field key empty, too long or not "
					 "printable UTF-8");
		}
		keys[i].s = k;
		keys[i].len = kl;
		if ((rc = check_value(r, 1))) {
			free(keys);
			return tree_fail(t, rc, "field %.*s: value must be a "
					 "number, text, bool, null, or array "
					 "or map of those (depth <= %d)",
					 (int)(kl > 64 ? 64 : kl), k,
					 META_MAX_DEPTH);
		}
	}
	rc = keys_dup(keys, cnt);
	free(keys);
	if (rc)
		return tree_fail(t, -EBADMSG, "duplicate field key");
	n->fieldslen = (size_t)(r->p - n->fields);
	n->nfields = cnt;
	return 0;
}

static int
parse_members(struct cr *r, struct meta_tree *t, int depth,
	      struct meta_member **out, size_t *nout)
{
	struct meta_member *m;
	struct key *keys;
	size_t i, cnt;
	int rc;

	if ((rc = cr_map(r, &cnt)))
		return tree_fail(t, rc, "members is not a map");
	if (cnt > MAX_KEYS)
		return tree_fail(t, -EBADMSG, "too many members");
	m = calloc(cnt ? cnt : 1, sizeof(*m));
	keys = malloc((cnt ? cnt : 1) * sizeof(*keys));
	if (!m || !keys) {
		free(m);
		free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < cnt; i++) {
		struct cr_item it;

		rc = cr_str(r, &m[i].name, &m[i].namelen);
		if (rc) {
			tree_fail(t, rc, "member name is not text");
			goto fail;
		}
		if (meta_check_member_name(m[i].name, m[i].namelen)) {
			rc = tree_fail(t, -EINVAL, "invalid member name '%.*s' "
				       "(1-255 printable bytes, no '/', not "
				       "'.', '..', 'data', 'meta.json' or "
				       "'typename')",
				       (int)(m[i].namelen > 64 ? 64 :
					     m[i].namelen), m[i].name);
			goto fail;
		}
		keys[i].s = m[i].name;
		keys[i].len = m[i].namelen;
		if ((rc = cr_peek(r, &it))) {
			tree_fail(t, rc, "truncated member");
			goto fail;
		}
		m[i].child = -1;
		if (it.kind == CR_UINT) {
			cr_next(r, &it);
			m[i].id = it.u;
		} else if (it.kind == CR_MAP) {
			if ((rc = parse_node(r, t, depth + 1, &m[i].child)))
				goto fail;
		} else {
			rc = tree_fail(t, -EBADMSG, "member %.*s must be an id "
				       "or a nested object",
				       (int)(m[i].namelen > 64 ? 64 :
					     m[i].namelen), m[i].name);
			goto fail;
		}
	}
	if (keys_dup(keys, cnt)) {
		rc = tree_fail(t, -EBADMSG, "duplicate member name");
		goto fail;
	}
	free(keys);
	*out = m;
	*nout = cnt;
	return 0;
fail:
	free(keys);
	free(m);
	return rc;
}

static int
parse_node(struct cr *r, struct meta_tree *t, int depth, int32_t *index)
{
	struct meta_node n;
	struct meta_member *mem = NULL;
	size_t nmem = 0, i, cnt;
	int rc, seen_t = 0, seen_f = 0, seen_m = 0;

	if (depth > META_MAX_DEPTH)
		return tree_fail(t, -EBADMSG, "objects nested deeper than %d",
				 META_MAX_DEPTH);
	memset(&n, 0, sizeof(n));
	if ((rc = cr_map(r, &cnt)))
		return tree_fail(t, rc, "object metadata is not a map");
	/* Every failure below breaks out to free the members parsed so far
	 * (they may come before a bad typename or fields). */
	for (i = 0, rc = 0; i < cnt && rc == 0; i++) {
		struct cr_item k;

		if ((rc = cr_next(r, &k))) {
			rc = tree_fail(t, rc, "truncated metadata");
		} else if (cr_streq(&k, "typename") && !seen_t++) {
			if ((rc = cr_str(r, &n.typename, &n.typelen)))
				rc = tree_fail(t, rc, "typename is not text");
			else if (n.typelen == 0 ||
				 n.typelen > META_MAX_TYPENAME ||
				 !meta_utf8_ok(n.typename, n.typelen, 0))
				rc = tree_fail(t, -EBADMSG, "typename empty, "
					       "longer than %d bytes or not "
					       "printable UTF-8",
					       META_MAX_TYPENAME);
		} else if (cr_streq(&k, "fields") && !seen_f++) {
			rc = parse_fields(r, t, &n);
		} else if (cr_streq(&k, "members") && !seen_m++) {
			rc = parse_members(r, t, depth, &mem, &nmem);
		} else {
			rc = tree_fail(t, -EBADMSG, "unknown or repeated key "
				       "in object metadata");
		}
	}
	if (rc) {
		free(mem);
		return rc;
	}
	if (!seen_t) {
		free(mem);
		return tree_fail(t, -EBADMSG, "object metadata has no typename");
	}
	if (t->nnodes >= META_MAX_NODES ||
	    t->nmembers + nmem > (size_t)META_MAX_NODES * 16) {
		free(mem);
		return tree_fail(t, -EBADMSG, "too many objects in one put");
	}
	/* Append the node and its members after all its children. */
	{
		struct meta_node *nn = realloc(t->nodes, (t->nnodes + 1) *
					       sizeof(*nn));
		struct meta_member *mm;

		if (!nn) {
			free(mem);
			return -ENOMEM;
		}
		t->nodes = nn;
		mm = realloc(t->members, (t->nmembers + nmem + 1) * sizeof(*mm));
		if (!mm) {
			free(mem);
			return -ENOMEM;
		}
		t->members = mm;
		if (nmem)
			memcpy(mm + t->nmembers, mem, nmem * sizeof(*mm));
		free(mem);
		n.first_member = (uint32_t)t->nmembers;
		n.nmembers = (uint32_t)nmem;
		t->nmembers += nmem;
		t->nodes[t->nnodes] = n;
		*index = (int32_t)t->nnodes++;
	}
	return 0;
}

int
meta_tree_parse(const void *buf, size_t len, struct meta_tree *t)
{
	struct cr r;
	int32_t root;
	int rc;

	memset(t, 0, sizeof(*t));
	if (len > META_MAX_LEN)
		return tree_fail(t, -EBADMSG, "metadata larger than %u bytes",
				 META_MAX_LEN);
	cr_init(&r, buf, len);
	rc = parse_node(&r, t, 0, &root);
	if (rc == 0 && !cr_done(&r))
		rc = tree_fail(t, -EBADMSG, "trailing bytes after metadata");
	if (rc) {
		char err[sizeof(t->err)];

		memcpy(err, t->err, sizeof(err));
		meta_tree_release(t);
		memcpy(t->err, err, sizeof(err));
		if (!t->err[0])
			snprintf(t->err, sizeof(t->err), "malformed metadata");
	}
	return rc;
}

void
meta_tree_release(struct meta_tree *t)
{
	free(t->nodes);
	free(t->members);
	memset(t, 0, sizeof(*t));
}

void
meta_node_encode(const struct meta_tree *t, size_t idx, const uint64_t *ids,
		 struct cw *w)
{
	const struct meta_node *n = &t->nodes[idx];
	uint32_t i;

	cw_map(w, 3);
	cw_str(w, "typename");
	cw_strn(w, n->typename, n->typelen);
	cw_str(w, "fields");
	if (n->fields)
		cw_raw(w, n->fields, n->fieldslen);
	else
		cw_map(w, 0);
	cw_str(w, "members");
	cw_map(w, n->nmembers);
	for (i = 0; i < n->nmembers; i++) {
		const struct meta_member *m = &t->members[n->first_member + i];

		cw_strn(w, m->name, m->namelen);
		cw_uint(w, m->child >= 0 ? ids[m->child] : m->id);
	}
}

int
meta_view_parse(const void *buf, size_t len, struct meta_view *v)
{
	struct cr r;
	size_t i, cnt;
	int rc;

	memset(v, 0, sizeof(*v));
	cr_init(&r, buf, len);
	if ((rc = cr_map(&r, &cnt)) || cnt != 3)
		return -EBADMSG;
	for (i = 0; i < 3; i++) {
		struct cr_item k;

		if ((rc = cr_next(&r, &k)))
			return rc;
		if (cr_streq(&k, "typename")) {
			if ((rc = cr_str(&r, &v->typename, &v->typelen)))
				return rc;
		} else if (cr_streq(&k, "fields")) {
			v->fields = r.p;
			if ((rc = cr_map(&r, &v->nfields)))
				return rc;
			r.p = v->fields;
			if ((rc = cr_skip(&r, META_MAX_DEPTH + 1)))
				return rc;
			v->fieldslen = (size_t)(r.p - v->fields);
		} else if (cr_streq(&k, "members")) {
			v->members = r.p;
			if ((rc = cr_map(&r, &v->nmembers)))
				return rc;
			r.p = v->members;
			if ((rc = cr_skip(&r, 2)))
				return rc;
			v->memberslen = (size_t)(r.p - v->members);
		} else {
			return -EBADMSG;
		}
	}
	if (!v->typename || !v->fields || !v->members || !cr_done(&r))
		return -EBADMSG;
	return 0;
}

void
meta_members_init(struct meta_members *it, const struct meta_view *v)
{
	memset(it, 0, sizeof(*it));
	if (!v)
		return;
	cr_init(&it->r, v->members, v->memberslen);
	if (cr_map(&it->r, &it->left))
		it->rc = -EBADMSG;
}

int
meta_members_next(struct meta_members *it)
{
	if (it->rc)
		return it->rc;
	if (it->left == 0)
		return 0;
	if (cr_str(&it->r, &it->name, &it->namelen) ||
	    cr_uint(&it->r, &it->id))
		return it->rc = -EBADMSG;
	it->left--;
	return 1;
}

int
meta_member_find(const struct meta_view *v, const char *name, uint64_t *id)
{
	struct meta_members it;
	size_t nl = strlen(name);
	int rc;

	meta_members_init(&it, v);
	while ((rc = meta_members_next(&it)) > 0)
		if (it.namelen == nl && memcmp(it.name, name, nl) == 0) {
			*id = it.id;
			return 1;
		}
	return rc;
}

int
meta_field_find(const struct meta_view *v, const char *key, struct cr *out)
{
	struct cr r;
	size_t i, cnt;
	int rc;

	cr_init(&r, v->fields, v->fieldslen);
	if ((rc = cr_map(&r, &cnt)))
		return rc;
	for (i = 0; i < cnt; i++) {
		struct cr_item k;

		if ((rc = cr_next(&r, &k)))
			return rc;
		if (cr_streq(&k, key)) {
			*out = r;
			return 1;
		}
		if ((rc = cr_skip(&r, META_MAX_DEPTH + 1)))
			return rc;
	}
	return 0;
}

/* ---- ids ---- */

void
meta_id_format(uint64_t id, char out[META_ID_LEN])
{
	snprintf(out, META_ID_LEN, "o%016" PRIx64, id);
}

int
meta_id_parse(const char *s, uint64_t *id)
{
	uint64_t v = 0;
	int i;

	if (!s || s[0] != 'o' || strlen(s) != 17)
		return -EINVAL;
	for (i = 1; i < 17; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v << 4 | d;
	}
	*id = v;
	return 0;
}

/* ---- JSON ---- */

static void
jputs(struct cw *o, const char *s)
{
	cw_raw(o, s, strlen(s));
}

static void
jindent(struct cw *o, int n)
{
	static const char sp[] = "                                ";

	cw_raw(o, "\n", 1);
	while (n > 0) {
		int k = n > 32 ? 32 : n;

		cw_raw(o, sp, (size_t)k);
		n -= k;
	}
}

void
meta_json_str(struct cw *o, const char *s, size_t len)
{
	size_t i, start = 0;

	cw_raw(o, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		cw_raw(o, s + start, i - start);
		start = i + 1;
		switch (c) {
		case '"': jputs(o, "\\\""); break;
		case '\\': jputs(o, "\\\\"); break;
		case '\n': jputs(o, "\\n"); break;
		case '\t': jputs(o, "\\t"); break;
		case '\r': jputs(o, "\\r"); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			jputs(o, esc);
		}
	}
	cw_raw(o, s + start, len - start);
	cw_raw(o, "\"", 1);
}

static void
jnum(struct cw *o, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		cw_raw(o, buf, (size_t)n);
}

int
meta_json_value(struct cw *o, struct cr *r, int indent, int depth)
{
	struct cr_item it;
	uint64_t i;
	int rc;

	if (depth > META_MAX_DEPTH + 2)
		return -EBADMSG;
	if ((rc = cr_next(r, &it)))
		return rc;
	switch (it.kind) {
	case CR_UINT:
		jnum(o, "%" PRIu64, it.u);
		return 0;
	case CR_NEGINT:
		if (it.u < UINT64_MAX)
			jnum(o, "-%" PRIu64, it.u + 1);
		else
			jputs(o, "-18446744073709551616");
		return 0;
	case CR_FLOAT:
		/* JSON has no NaN or infinity; they read as null. */
		if (isfinite(it.f)) {
			char buf[40];

			snprintf(buf, sizeof(buf), "%.17g", it.f);
			jputs(o, buf);
			if (!strpbrk(buf, ".eE"))
				jputs(o, ".0");
		} else {
			jputs(o, "null");
		}
		return 0;
	case CR_BOOL:
		jputs(o, it.b ? "true" : "false");
		return 0;
	case CR_NULL:
		jputs(o, "null");
		return 0;
	case CR_STR:
		meta_json_str(o, (const char *)it.s, it.len);
		return 0;
	case CR_ARRAY:
		if (it.u == 0) {
			jputs(o, "[]");
			return 0;
		}
		jputs(o, "[");
		for (i = 0; i < it.u; i++) {
			if (i)
				jputs(o, ", ");
			if ((rc = meta_json_value(o, r, indent, depth + 1)))
				return rc;
		}
		jputs(o, "]");
		return 0;
	case CR_MAP:
		if (it.u == 0) {
			jputs(o, "{}");
			return 0;
		}
		jputs(o, "{");
		for (i = 0; i < it.u; i++) {
			const char *k;
			size_t kl;

			if (i)
				jputs(o, ",");
			jindent(o, indent + 2);
			if ((rc = cr_str(r, &k, &kl)))
				return rc;
			meta_json_str(o, k, kl);
			jputs(o, ": ");
			if ((rc = meta_json_value(o, r, indent + 2, depth + 1)))
				return rc;
		}
		jindent(o, indent);
		jputs(o, "}");
		return 0;
	default:
		return -EBADMSG;
	}
}

void
meta_json(struct cw *o, const struct meta_json *j)
{
	char id[META_ID_LEN];
	size_t i;

	meta_id_format(j->id, id);
	jputs(o, "{\n  \"id\": \"");
	jputs(o, id);
	jputs(o, "\",\n  \"typename\": ");
	meta_json_str(o, j->typename, strlen(j->typename));
	jnum(o, ",\n  \"nbytes\": %" PRIu64, j->nbytes);
	jputs(o, ",\n  \"persisted\": ");
	jputs(o, j->persisted ? "true" : "false");
	jputs(o, ",\n  \"names\": [");
	for (i = 0; i < j->nnames; i++) {
		if (i)
			jputs(o, ", ");
		meta_json_str(o, j->names[i], strlen(j->names[i]));
	}
	jputs(o, "],\n  \"fields\": ");
	if (j->view) {
		struct cr r;

		cr_init(&r, j->view->fields, j->view->fieldslen);
		if (meta_json_value(o, &r, 2, 0))
			jputs(o, "null");
	} else {
		jputs(o, "{}");
	}
	jputs(o, ",\n  \"members\": {");
	if (j->view && j->view->nmembers) {
		struct meta_members it;

		/* A malformed entry ends the list (the document was checked
		 * when it was stored; this only renders it). */
		meta_members_init(&it, j->view);
		for (i = 0; meta_members_next(&it) > 0; i++) {
			if (i)
				jputs(o, ",");
			jindent(o, 4);
			meta_json_str(o, it.name, it.namelen);
			meta_id_format(it.id, id);
			jputs(o, ": \"");
			jputs(o, id);
			jputs(o, "\"");
		}
		jindent(o, 2);
	}
	jputs(o, "}\n}\n");
}
