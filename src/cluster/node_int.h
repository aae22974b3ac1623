/*
 * node_int: what node.c (publishing, names) and node_reply.c (the
 * cluster's replies) share; the interface is node.h.
 */
#ifndef VY_NODE_INT_H
#define VY_NODE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/kvmap.h"

struct node {
	struct store *s;
	struct cluster *c;
	struct kvmap published; /* key: the 8 id bytes; under lock */
	uint32_t former;        /* the data dir's instance id at start */
	int applying;		/* applying a cluster name event */
	/* published objects whose mode changed, to publish again (the
	 * store watcher fills it under the store lock; the loop drains).
	 * lock guards published and reown: the store watcher runs on
	 * whichever thread changes the store (a loader dropping a damaged
	 * blob, say), the loop publishes. Taken after the store lock, and
	 * never held while calling into the store. */
	pthread_mutex_t lock;
	struct kvmap reown;
	struct kvmap warned;	/* ids of records with a bad owner, logged */
};

/* A growing list of ids. */
struct idlist {
	uint64_t *ids;
	size_t n, cap;
};

void idlist_add(struct idlist *l, uint64_t id);

#endif
