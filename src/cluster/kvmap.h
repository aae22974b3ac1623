/*
 * kvmap: a hash map from byte-string keys to byte-string values, used as the
 * daemon's local mirror of its cluster's etcd keys and as the cluster
 * thread's list of keys it must keep written. Not locked: the owner
 * serialises access. Allocation failure is fatal (xmalloc), as for the
 * daemon's other bookkeeping.
 */
#ifndef VY_KVMAP_H
#define VY_KVMAP_H

#include <stddef.h>
#include <stdint.h>

struct kv_entry {
	uint8_t *key, *val; /* val NUL-terminated (not counted in vlen) */
	size_t klen, vlen;
	int64_t lease;
	uint32_t hash;
};

struct kvmap {
	struct kv_entry **slots; /* cap entries, NULL = empty */
	size_t cap;		 /* power of two, or 0 */
	size_t count;
};

void kvmap_init(struct kvmap *m);
void kvmap_release(struct kvmap *m);
/* Sets key to val (a copy of both), replacing any value. */
void kvmap_put(struct kvmap *m, const void *key, size_t klen,
	       const void *val, size_t vlen, int64_t lease);
/* 1 if key was there and is now gone, else 0. */
int kvmap_del(struct kvmap *m, const void *key, size_t klen);
const struct kv_entry *kvmap_get(const struct kvmap *m, const void *key,
				 size_t klen);
/* Iteration: start with *pos = 0; NULL at the end; no changes meanwhile. */
const struct kv_entry *kvmap_next(const struct kvmap *m, size_t *pos);
/* Moves src's entries into dst (emptied first); src ends empty. */
void kvmap_move(struct kvmap *dst, struct kvmap *src);

#endif
