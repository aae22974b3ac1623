/* names: open addressing on an FNV-1a hash of the name bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "names.h"
#include "object.h"
#include "xmalloc.h"
#include "banned.h"

static uint32_t
name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

void
names_init(struct names *t)
{
	memset(t, 0, sizeof(*t));
}

void
names_release(struct names *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		free(t->slots[i]);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

int
names_check(const char *s, size_t len, const char **why)
{
	uint64_t id;
	char tmp[18];

	*why = NULL;
	if (len == 0)
		*why = "a name cannot be empty";
	else if (len > NAMES_MAX_LEN)
		*why = "a name is at most 255 bytes";
	else if (memchr(s, '/', len))
		*why = "a name cannot contain '/'";
	else if (memchr(s, 0, len))
		*why = "a name cannot contain NUL";
	else if ((len == 1 && s[0] == '.') ||
		 (len == 2 && s[0] == '.' && s[1] == '.'))
		*why = "a name cannot be '.' or '..'";
	else if (!meta_utf8_ok(s, len, 0))
		*why = "a name must be printable UTF-8 without control "
		       "characters";
	else if (len == 17) {
		memcpy(tmp, s, 17);
		tmp[17] = 0;
		if (meta_id_parse(tmp, &id) == 0)
			*why = "a name cannot look like an object id";
	}
	return *why ? -EINVAL : 0;
}

static size_t
slot_find(const struct names *t, const char *s, size_t len, uint32_t h)
{
	size_t i = h & (t->cap - 1);

	while (t->slots[i]) {
		const struct name *n = t->slots[i];

		if (n->hash == h && n->len == len && memcmp(n->str, s, len) == 0)
			break;
		i = (i + 1) & (t->cap - 1);
	}
	return i;
}

struct name *
names_get(const struct names *t, const char *s, size_t len)
{
	if (!t->cap)
		return NULL;
	return t->slots[slot_find(t, s, len, name_hash(s, len))];
}

static void
link_obj(struct name *n, struct object *o)
{
	n->obj = o;
	n->next_of_obj = o->names;
	o->names = n;
}

static void
unlink_obj(struct name *n)
{
	struct name **pp = &n->obj->names;

	while (*pp != n)
		pp = &(*pp)->next_of_obj;
	*pp = n->next_of_obj;
	n->obj = NULL;
	n->next_of_obj = NULL;
}

struct name *
names_bind(struct names *t, const char *s, size_t len, struct object *o,
	   struct object **old)
{
	uint32_t h = name_hash(s, len);
	struct name *n;
	size_t i;

	*old = NULL;
	if ((t->count + 1) * 2 > t->cap) {
		struct name **slots = t->slots;
		size_t cap = t->cap, k;

		t->cap = t->cap ? t->cap * 2 : 16;
		t->slots = xcalloc(t->cap, sizeof(*t->slots));
		for (k = 0; k < cap; k++)
			if (slots[k])
				t->slots[slot_find(t, slots[k]->str,
						   slots[k]->len,
						   slots[k]->hash)] = slots[k];
		free(slots);
	}
	i = slot_find(t, s, len, h);
	n = t->slots[i];
	if (n) {
		*old = n->obj;
		unlink_obj(n);
	} else {
		n = xmalloc(sizeof(*n) + len + 1);
		n->hash = h;
		n->len = (uint16_t)len;
		memcpy(n->str, s, len);
		n->str[len] = 0;
		t->slots[i] = n;
		t->count++;
	}
	link_obj(n, o);
	return n;
}

void
names_drop(struct names *t, struct name *n)
{
	size_t i = slot_find(t, n->str, n->len, n->hash), j, mask = t->cap - 1;

	unlink_obj(n);
	t->slots[i] = NULL;
	for (j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
		size_t home = t->slots[j]->hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
	t->count--;
	free(n);
}

void
names_drop_object(struct names *t, struct object *o)
{
	while (o->names)
		names_drop(t, o->names);
}

struct name *
names_next(const struct names *t, size_t *pos)
{
	while (*pos < t->cap) {
		struct name *n = t->slots[(*pos)++];

		if (n)
			return n;
	}
	return NULL;
}
