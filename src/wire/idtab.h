/*
 * idtab: a table from 64-bit ids to pointers, for structs whose first member
 * is their uint64_t id (objects, pins). Open addressing with linear probing
 * and backward-shift deletion: 8 bytes a slot, no tombstones, load <= 1/2.
 * Ids are random, so the id itself is the hash. Id 0 is never stored.
 * Not locked: the owner of the table serialises access. Uses plain malloc,
 * so libvineyard can use it too; the daemon treats -ENOMEM as fatal.
 */
#ifndef VY_IDTAB_H
#define VY_IDTAB_H

#include <stddef.h>
#include <stdint.h>

struct idtab {
	void **slots; /* cap entries, NULL = empty */
	size_t cap;   /* power of two, or 0 */
	size_t count;
};

void idtab_init(struct idtab *t);
void idtab_release(struct idtab *t);
void *idtab_get(const struct idtab *t, uint64_t id);
/* Inserts p (keyed by *(uint64_t *)p); the id must not be present.
 * Returns 0, or -ENOMEM when the table cannot grow (it is unchanged). */
int idtab_put(struct idtab *t, void *p);
/* Removes and returns the entry for id, or NULL. */
void *idtab_del(struct idtab *t, uint64_t id);
/* Iteration: start with *pos = 0; returns NULL at the end. The table must
 * not change during an iteration. */
void *idtab_next(const struct idtab *t, size_t *pos);

#endif
