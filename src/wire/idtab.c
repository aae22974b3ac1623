/* idtab: linear probing keyed by the id stored at the start of each entry. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idtab.h"
#include "banned.h"

static inline uint64_t
key_of(const void *p)
{
	return *(const uint64_t *)p;
}

static inline size_t
slot_of(const struct idtab *t, uint64_t id)
{
	/* Mix anyway: object ids are random but callers may use small ids. */
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdull;
	id ^= id >> 33;
	return (size_t)id & (t->cap - 1);
}

void
idtab_init(struct idtab *t)
{
	memset(t, 0, sizeof(*t));
}

void
idtab_release(struct idtab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

void *
idtab_get(const struct idtab *t, uint64_t id)
{
	size_t i;

	if (!t->cap)
		return NULL;
	for (i = slot_of(t, id); t->slots[i]; i = (i + 1) & (t->cap - 1))
		if (key_of(t->slots[i]) == id)
			return t->slots[i];
	return NULL;
}

static void
idtab_place(struct idtab *t, void *p)
{
	size_t i = slot_of(t, key_of(p));

	while (t->slots[i])
		i = (i + 1) & (t->cap - 1);
	t->slots[i] = p;
}

int
idtab_put(struct idtab *t, void *p)
{
	if ((t->count + 1) * 2 > t->cap) {
		void **old = t->slots;
		size_t oldcap = t->cap, i;
		void **slots = calloc(t->cap ? t->cap * 2 : 16, sizeof(void *));

		if (!slots)
			return -ENOMEM;
		t->slots = slots;
		t->cap = t->cap ? t->cap * 2 : 16;
		for (i = 0; i < oldcap; i++)
			if (old[i])
				idtab_place(t, old[i]);
		free(old);
	}
	idtab_place(t, p);
	t->count++;
	return 0;
}

void *
idtab_del(struct idtab *t, uint64_t id)
{
	size_t i, j, mask;
	void *found;

	if (!t->cap)
		return NULL;
	mask = t->cap - 1;
	for (i = slot_of(t, id); t->slots[i]; i = (i + 1) & mask)
		if (key_of(t->slots[i]) == id)
			break;
	if (!t->slots[i])
		return NULL;
	found = t->slots[i];
	t->slots[i] = NULL;
	/* Shift later entries of the run back so lookups never stop early. */
	for (j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
		size_t home = slot_of(t, key_of(t->slots[j]));

		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
	t->count--;
	return found;
}

void *
idtab_next(const struct idtab *t, size_t *pos)
{
	while (*pos < t->cap) {
		void *p = t->slots[(*pos)++];

		if (p)
			return p;
	}
	return NULL;
}
