/*
 * object_access: the read-only accessors of a got object (vy_object_*):
 * id, type, size, bytes, members, and typed fields out of its metadata.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "object_int.h"
#include "banned.h"

VY_API vy_id
vy_object_id(const struct vy_object *o)
{
	return o->id;
}

VY_API const char *
vy_object_typename(const struct vy_object *o)
{
	return o->typename;
}

VY_API int
vy_object_is_blob(const struct vy_object *o)
{
	return o->is_blob;
}

VY_API uint64_t
vy_object_nbytes(const struct vy_object *o)
{
	return o->nbytes;
}

VY_API const void *
vy_object_data(const struct vy_object *o)
{
	return o->data;
}

VY_API size_t
vy_object_nmembers(const struct vy_object *o)
{
	return o->nmembers;
}

VY_API const char *
vy_object_member_name(const struct vy_object *o, size_t i)
{
	return i < o->nmembers ? o->mnames[i] : NULL;
}

VY_API struct vy_object *
vy_object_member(const struct vy_object *o, size_t i)
{
	return i < o->nmembers ? o->members[i] : NULL;
}

VY_API struct vy_object *
vy_object_member_by_name(const struct vy_object *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->nmembers; i++)
		if (strcmp(o->mnames[i], name) == 0)
			return o->members[i];
	return NULL;
}

static int
field(const struct vy_object *o, const char *key, struct cr *r)
{
	if (o->is_blob)
		return -ENOENT;
	return meta_field_find(&o->view, key, r) == 1 ? 0 : -ENOENT;
}

/* The scalar field getters: find the field, then read it as ctype. */
#define GETTER(name, ctype, decode)                                       \
	VY_API int name(const struct vy_object *o, const char *key, ctype *v) \
	{                                                                 \
		struct cr r;                                              \
		int rc = field(o, key, &r);                               \
		if (rc)                                                   \
			return rc;                                        \
		return decode(&r, v) ? -EINVAL : 0;                       \
	}

GETTER(vy_object_field_int, int64_t, cr_int)
GETTER(vy_object_field_double, double, cr_double)
GETTER(vy_object_field_bool, int, cr_bool)

VY_API int
vy_object_field_string(struct vy_object *o, const char *key, const char **v)
{
	struct cr r;
	const char *s;
	size_t l;
	char **strs, *copy;
	int rc = field(o, key, &r);

	if (rc)
		return rc;
	if (cr_str(&r, &s, &l))
		return -EINVAL;
	copy = strndup(s, l);
	strs = realloc(o->strs, (o->nstrs + 1) * sizeof(*strs));
	if (!copy || !strs) {
		free(copy);
		if (strs)
			o->strs = strs;
		return -ENOMEM;
	}
	o->strs = strs;
	strs[o->nstrs++] = copy;
	*v = copy;
	return 0;
}

VY_API int
vy_object_field_int_array(const struct vy_object *o, const char *key,
			  int64_t *v, size_t cap, size_t *n)
{
	struct cr r;
	size_t i, k;
	int rc = field(o, key, &r);

	if (rc)
		return rc;
	if (cr_array(&r, &k))
		return -EINVAL;
	for (i = 0; i < k; i++) {
		int64_t x;

		if (cr_int(&r, &x))
			return -EINVAL;
		if (i < cap)
			v[i] = x;
	}
	*n = k;
	return 0;
}

VY_API char *
vy_object_fields_json(const struct vy_object *o)
{
	struct cw w;
	struct cr r;
	char *s;

	cw_init(&w);
	if (o->is_blob) {
		cw_raw(&w, "{}", 2);
	} else {
		cr_init(&r, o->view.fields, o->view.fieldslen);
		if (meta_json_value(&w, &r, 0, 0))
			cw_raw(&w, "{}", 2);
	}
	cw_raw(&w, "", 1);
	if (cw_finish(&w)) {
		cw_release(&w);
		return NULL;
	}
	s = (char *)w.buf;
	return s;
}
