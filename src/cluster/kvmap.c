/* kvmap: open addressing on an FNV-1a hash, linear probing, backward-shift
 * deletion (no tombstones), load kept at or under 1/2. */
#include <stdlib.h>
#include <string.h>

#include "cluster/kvmap.h"
#include "xmalloc.h"
#include "banned.h"

static uint32_t
hash(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

void
kvmap_init(struct kvmap *m)
{
	memset(m, 0, sizeof(*m));
}

static void
entry_free(struct kv_entry *e)
{
	free(e->key);
	free(e->val);
	free(e);
}

void
kvmap_release(struct kvmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		if (m->slots[i])
			entry_free(m->slots[i]);
	free(m->slots);
	kvmap_init(m);
}

static size_t
find(const struct kvmap *m, const void *key, size_t klen, uint32_t h)
{
	size_t i = h & (m->cap - 1);
	struct kv_entry *e;

	while ((e = m->slots[i])) {
		if (e->hash == h && e->klen == klen &&
		    !memcmp(e->key, key, klen))
			return i;
		i = (i + 1) & (m->cap - 1);
	}
	return i;
}

static void
grow(struct kvmap *m)
{
	struct kv_entry **old = m->slots;
	size_t oldcap = m->cap, i;

	m->cap = oldcap ? oldcap * 2 : 64;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (i = 0; i < oldcap; i++)
		if (old[i])
			m->slots[find(m, old[i]->key, old[i]->klen,
				      old[i]->hash)] = old[i];
	free(old);
}

void
kvmap_put(struct kvmap *m, const void *key, size_t klen, const void *val,
	  size_t vlen, int64_t lease)
{
	uint32_t h = hash(key, klen);
	struct kv_entry *e;
	size_t i;

	if ((m->count + 1) * 2 > m->cap)
		grow(m);
	i = find(m, key, klen, h);
	if (!(e = m->slots[i])) {
		e = xcalloc(1, sizeof(*e));
		e->key = xmemdup(key, klen ? klen : 1);
		e->klen = klen;
		e->hash = h;
		m->slots[i] = e;
		m->count++;
	} else {
		free(e->val);
	}
	e->val = xmalloc(vlen + 1);
	memcpy(e->val, val, vlen);
	e->val[vlen] = '\0';
	e->vlen = vlen;
	e->lease = lease;
}

const struct kv_entry *
kvmap_get(const struct kvmap *m, const void *key, size_t klen)
{
	if (!m->cap)
		return NULL;
	return m->slots[find(m, key, klen, hash(key, klen))];
}

int
kvmap_del(struct kvmap *m, const void *key, size_t klen)
{
	size_t i, j, home;

	if (!m->cap)
		return 0;
	i = find(m, key, klen, hash(key, klen));
	if (!m->slots[i])
		return 0;
	entry_free(m->slots[i]);
	m->slots[i] = NULL;
	m->count--;
	/* shift back later entries of the probe run that may now be lost */
	for (j = (i + 1) & (m->cap - 1); m->slots[j];
	     j = (j + 1) & (m->cap - 1)) {
		home = m->slots[j]->hash & (m->cap - 1);
		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->slots[i] = m->slots[j];
			m->slots[j] = NULL;
			i = j;
		}
	}
	return 1;
}

const struct kv_entry *
kvmap_next(const struct kvmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		struct kv_entry *e = m->slots[(*pos)++];

		if (e)
			return e;
	}
	return NULL;
}

void
kvmap_move(struct kvmap *dst, struct kvmap *src)
{
	kvmap_release(dst);
	*dst = *src;
	kvmap_init(src);
}
