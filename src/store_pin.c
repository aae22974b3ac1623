/*
 * store_pin: owners (one per client connection or FUSE open) and the
 * pins they hold on objects; releasing an owner drops every pin it holds.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "banned.h"

/* ---- owners and pins ---- */

struct store_owner *
store_owner_new(struct store *s, const char *label)
{
	struct store_owner *o = xcalloc(1, sizeof(*o));

	idtab_init(&o->pins);
	snprintf(o->label, sizeof(o->label), "%s", label ? label : "?");
	store_lock(s);
	o->next = &s->owners;
	o->prev = s->owners.prev;
	o->prev->next = o;
	s->owners.prev = o;
	s->nowners++;
	store_unlock(s);
	return o;
}

void
obj_unpin(struct store *s, struct object *o, uint32_t n)
{
	/* Every unpin matches a pin: the owner's table or a loader's own. */
	assert(o->pins >= n);
	o->pins -= n;
	if (o->pins == 0 && (o->flags & OBJ_DELETED)) {
		idtab_del(&s->zombies, o->id);
		obj_destroy(s, o);
	}
}

int
store_holds(struct store_owner *ow, uint64_t id)
{
	struct pin *p = idtab_get(&ow->pins, id);

	return p && p->n > 0;
}

void
store_pin(struct store_owner *ow, struct object *o)
{
	struct pin *p = idtab_get(&ow->pins, o->id);

	if (!p) {
		p = xmalloc(sizeof(*p));
		p->id = o->id;
		p->obj = o;
		p->n = 0;
		tab_put(&ow->pins, p);
	}
	p->n++;
	o->pins++;
}

void
store_owner_free(struct store *s, struct store_owner *ow)
{
	struct object *o;
	struct pin *p;
	size_t pos = 0;
	uint64_t *drop = NULL;
	size_t ndrop = 0;

	if (!ow)
		return;
	store_lock(s);
	stream_owner_gone(s, ow); /* before its unsealed chunk goes */
	while ((p = idtab_next(&ow->pins, &pos))) {
		obj_unpin(s, p->obj, p->n);
		free(p);
	}
	idtab_release(&ow->pins);
	/* Blobs it never sealed die with it; their memory comes back. */
	pos = 0;
	while ((o = idtab_next(&s->unsealed, &pos)))
		if (o->owner == ow) {
			drop = xreallocarray(drop, ndrop + 1, sizeof(*drop));
			drop[ndrop++] = o->id;
		}
	while (ndrop > 0) {
		o = idtab_del(&s->unsealed, drop[--ndrop]);
		obj_destroy(s, o);
	}
	free(drop);
	ow->prev->next = ow->next;
	ow->next->prev = ow->prev;
	assert(s->nowners > 0);
	s->nowners--;
	store_unlock(s);
	free(ow->groups);
	free(ow);
}

void
store_release(struct store *s, struct store_owner *ow, const uint64_t *ids,
	      size_t n)
{
	size_t i;

	store_lock(s);
	for (i = 0; i < n; i++) {
		struct pin *p = idtab_get(&ow->pins, ids[i]);

		if (!p)
			continue;
		assert(p->n > 0);
		obj_unpin(s, p->obj, 1);
		if (--p->n == 0) {
			idtab_del(&ow->pins, ids[i]);
			free(p);
		}
	}
	store_unlock(s);
}
