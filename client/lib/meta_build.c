/*
 * meta_build: the metadata builder (vy_meta_*): typename, typed fields
 * encoded to CBOR as they are set, and members given by id, by a blob
 * writer or by a nested builder. object_put.c sends what is built.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "object_int.h"
#include "banned.h"

VY_API struct vy_meta *
vy_meta_new(const char *typename)
{
	struct vy_meta *m;

	if (!typename)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->typename = strdup(typename);
	if (!m->typename) {
		free(m);
		return NULL;
	}
	cw_init(&m->fields);
	return m;
}

VY_API int
vy_meta_set_mode(struct vy_meta *m, unsigned mode)
{
	if (mode & ~PROTO_MODE_BITS)
		return -EINVAL;
	m->mode = mode;
	m->has_mode = 1;
	return 0;
}

VY_API void
vy_meta_free(struct vy_meta *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nfields; i++)
		free(m->keys[i]);
	for (i = 0; i < m->nmembers; i++) {
		free(m->members[i].name);
		vy_meta_free(m->members[i].child);
	}
	free(m->keys);
	free(m->members);
	cw_release(&m->fields);
	free(m->typename);
	free(m);
}

/* Records key; the caller then appends the value to m->fields. */
static int
add_key(struct vy_meta *m, const char *key)
{
	size_t i, kl = key ? strlen(key) : 0;
	char **v;

	if (kl == 0 || kl > META_MAX_KEY)
		return -EINVAL;
	for (i = 0; i < m->nfields; i++)
		if (strcmp(m->keys[i], key) == 0)
			return -EEXIST;
	v = realloc(m->keys, (m->nfields + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->keys = v;
	v[m->nfields] = strdup(key);
	if (!v[m->nfields])
		return -ENOMEM;
	m->nfields++;
	cw_str(&m->fields, key);
	return 0;
}

#define SETTER(name, ctype, encode)                                      \
	VY_API int name(struct vy_meta *m, const char *key, ctype v)    \
	{                                                                \
		int rc = add_key(m, key);                                \
		if (rc)                                                  \
			return rc;                                       \
		encode;                                                  \
		return cw_finish(&m->fields);                            \
	}

SETTER(vy_meta_set_int, int64_t, cw_int(&m->fields, v))
SETTER(vy_meta_set_double, double, cw_double(&m->fields, v))
SETTER(vy_meta_set_bool, int, cw_bool(&m->fields, v))

VY_API int
vy_meta_set_null(struct vy_meta *m, const char *key)
{
	int rc = add_key(m, key);

	if (rc)
		return rc;
	cw_null(&m->fields);
	return cw_finish(&m->fields);
}

VY_API int
vy_meta_set_string(struct vy_meta *m, const char *key, const char *v)
{
	int rc;

	if (!v)
		return -EINVAL;
	rc = add_key(m, key);
	if (rc)
		return rc;
	cw_str(&m->fields, v);
	return cw_finish(&m->fields);
}

VY_API int
vy_meta_set_int_array(struct vy_meta *m, const char *key, const int64_t *v,
		      size_t n)
{
	size_t i;
	int rc = add_key(m, key);

	if (rc)
		return rc;
	cw_array(&m->fields, n);
	for (i = 0; i < n; i++)
		cw_int(&m->fields, v[i]);
	return cw_finish(&m->fields);
}

VY_API int
vy_meta_set_string_array(struct vy_meta *m, const char *key,
			 const char *const *v, size_t n)
{
	size_t i;
	int rc = add_key(m, key);

	if (rc)
		return rc;
	cw_array(&m->fields, n);
	for (i = 0; i < n; i++)
		cw_str(&m->fields, v[i] ? v[i] : "");
	return cw_finish(&m->fields);
}

VY_API int
vy_meta_set_cbor(struct vy_meta *m, const char *key, const void *cbor,
		 size_t len)
{
	struct cr r;
	int rc;

	cr_init(&r, cbor, len);
	if (cr_skip(&r, META_MAX_DEPTH) || !cr_done(&r))
		return -EBADMSG;
	rc = add_key(m, key);
	if (rc)
		return rc;
	cw_raw(&m->fields, cbor, len);
	return cw_finish(&m->fields);
}

static int
add_member(struct vy_meta *m, const char *name, struct vy_meta_member *tmpl)
{
	struct vy_meta_member *v;
	size_t i;

	if (!name || meta_check_member_name(name, strlen(name)))
		return -EINVAL;
	for (i = 0; i < m->nmembers; i++)
		if (strcmp(m->members[i].name, name) == 0)
			return -EEXIST;
	v = realloc(m->members, (m->nmembers + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->members = v;
	v[m->nmembers] = *tmpl;
	v[m->nmembers].name = strdup(name);
	if (!v[m->nmembers].name)
		return -ENOMEM;
	m->nmembers++;
	return 0;
}

VY_API int
vy_meta_add_member(struct vy_meta *m, const char *name, vy_id id)
{
	struct vy_meta_member t = { NULL, MEM_ID, id, NULL, NULL };

	return add_member(m, name, &t);
}

VY_API int
vy_meta_add_member_writer(struct vy_meta *m, const char *name,
			  struct vy_writer *w)
{
	struct vy_meta_member t = { NULL, MEM_WRITER, 0, w, NULL };

	if (!w)
		return -EINVAL;
	return add_member(m, name, &t);
}

VY_API int
vy_meta_add_member_meta(struct vy_meta *m, const char *name,
			struct vy_meta *child)
{
	struct vy_meta_member t = { NULL, MEM_META, 0, NULL, child };

	if (!child || child == m)
		return -EINVAL;
	return add_member(m, name, &t);
}
