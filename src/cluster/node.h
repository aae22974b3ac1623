/*
 * node: the daemon's side of its cluster membership, between the store and
 * the cluster module. It publishes persisted objects (their metadata tree)
 * and withdraws them when deleted, mirrors name changes both ways (a local
 * name goes to etcd; a name changed anywhere re-points or drops the local
 * binding), and answers the cluster requests (instances, remote objects,
 * remote metadata) from the cluster's cache. Loop thread only, except the
 * store watcher it installs. Without --etcd there is no node at all.
 */
#ifndef VY_NODE_H
#define VY_NODE_H

#include <stdint.h>

#include "cborio.h"
#include "store.h"

struct store;
struct cluster;
struct node;

/* c must not be started yet (the node subscribes to its name changes).
 * former: the instance id this data directory had before (0: none); the
 * records it published under that id are this daemon's to write again
 * when it joins under another one. */
struct node *node_new(struct store *s, struct cluster *c, uint32_t former);
/* Stops following the store; the cluster is the caller's. */
void node_free(struct node *n);
struct cluster *node_cluster(const struct node *n);
struct store *node_store(const struct node *n);

/* After a persist of id: publishes id and everything it references. */
void node_publish(struct node *n, uint64_t id);
/* After a chmod: publishes again the records of published objects whose
 * mode it changed (the store watcher notes them), so other instances see
 * the new mode within a watch round trip. Loop thread. */
void node_republish(struct node *n);
/* The same for several ids, sent out together. */
void node_publish_many(struct node *n, const uint64_t *ids, size_t k);
/* After an unpersist of id: withdraws id (members stay published while
 * they are persisted on their own or by another object). */
void node_unpublish(struct node *n, uint64_t id);
/* Publishes every persisted object (at start, after a restore). */
void node_publish_persisted(struct node *n);
/* Runs the cluster's completions and updates the instance figures; call
 * when cluster_fd() is readable. 1 when the cluster's cache changed. */
int node_dispatch(struct node *n);

/* Names that live in the cluster only (their object is elsewhere); each
 * -ENOENT when the cluster has no such name/object either. */
int node_name_get(struct node *n, const char *name, uint64_t *id);
/* Binds name to id, an object published by another instance. */
int node_name_put(struct node *n, const char *name, uint64_t id);
int node_name_drop(struct node *n, const char *name);
/* 0 when cluster-wide names can be bound or dropped now; -ENOTCONN with
 * a sentence in msg while etcd is unreachable (a name is never queued
 * silently: it would not be cluster-wide until etcd is back). */
int node_names_writable(struct node *n, char *msg, size_t len);
/* For a get of id that is not here: -EREMOTE with a sentence in msg when
 * another instance published it, else -ENOENT. */
int node_remote_error(struct node *n, uint64_t id, char *msg, size_t len);
/* Before fetching id for ow: -EACCES (the sentence in store_errmsg())
 * when the record of id says ow may not read it, so a refused client costs
 * no transfer; 0 otherwise (also with no record, or one without an owner:
 * the copy is checked once here). what: "read", "get"... */
int node_remote_may_read(struct node *n, struct store_owner *ow, uint64_t id,
			 const char *what);
/* Where to fetch id from: the --rpc endpoint of the live instance that
 * published it. -ENOENT when none did; -EREMOTE (instance gone) or
 * -EHOSTUNREACH (it has no --rpc) with a sentence in msg. */
int node_locate(struct node *n, uint64_t id, char *rpc, size_t rpclen,
		char *msg, size_t len);
/* State for status: "joined", "joining", "lost"; and the instance id. */
const char *node_state(struct node *n, uint32_t *instance);

/* Replies (CBOR, the layouts of MSG_CLUSTER and MSG_CLUSTER_LIST in
 * proto.h); -ENOTCONN with *why when the cluster cannot answer. */
int node_cluster_info(struct node *n, struct cw *w, const char **why);
int node_cluster_list(struct node *n, const char *glob, struct cw *w,
		      const char **why);
/* A remote object's metadata as JSON (meta.json's layout plus
 * "instance" and "available"); -ENOENT if the cluster has no such object. */
int node_remote_meta(struct node *n, uint64_t id, struct cw *json);
/* What the cluster's cache says of a remote object, for the mount. */
struct node_remote {
	char typename[256];
	uint64_t nbytes;
	uint32_t instance;
	int alive;
	int has_owner;		/* owner is what its record says */
	struct store_perm owner;
};
/* -ENOENT if nobody published id. A record without a (valid) owner, as
 * an older daemon writes it, has has_owner 0 (a bad one is logged once). */
int node_remote_info(struct node *n, uint64_t id, struct node_remote *r);
/* The ids published in the cluster that this daemon's store does not
 * hold (*ids malloc'd). */
int node_remote_ids(struct node *n, uint64_t **ids, size_t *count);
/* The mount's cluster.json and status: the cluster state as JSON. */
void node_cluster_json(struct node *n, struct cw *json);

#endif
