/*
 * cluster: this daemon's membership of a cluster kept in etcd. A thread of
 * its own owns all etcd traffic: it joins (an instance id allocated with a
 * transaction, a record under a lease it keeps alive), mirrors every key of
 * the cluster's prefix into a local cache (one range, then one watch from
 * the range's revision + 1), writes what the daemon publishes, and joins
 * again by itself when etcd comes back. The daemon's loop never waits on
 * etcd: reads come from the cache, writes are queued, and completions come
 * back through cluster_fd() and cluster_dispatch() on the loop's thread.
 *
 * Keys, under "<prefix>/" (vineyard-cluster(7)):
 *   next_instance        the next instance id to hand out (decimal)
 *   instances/<N>        JSON record of live instance N, under its lease
 *   objects/<oid>        JSON record of a published object (no lease)
 *   names/<name>         the object id a cluster-wide name points at
 * Not in here: what the records say about objects (the daemon writes them).
 */
#ifndef VY_CLUSTER_H
#define VY_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

/* Bits 48..62 of an id made after joining hold the instance id; blobs keep
 * bit 63. Ids made before a daemon first joined have 0 there... or random
 * bits: the object's record says its instance either way. */
#define CLUSTER_ID_SHIFT 48
#define CLUSTER_MAX_INSTANCE 0x7fffu

struct cluster_cfg {
	const char *endpoints; /* "http://h:p[,http://h:p...]" */
	const char *prefix;    /* key prefix, default "vineyard" */
	int ttl_s;	       /* lease TTL, default 5 */
	int timeout_ms;	       /* per etcd request, default 2000 */
	uint32_t want_id;      /* instance id to take back, 0 = new */
	/* what the instance record says about this daemon */
	const char *host, *socket, *rpc;
};

enum cluster_state {
	CLUSTER_JOINING,   /* never joined yet (etcd not reached) */
	CLUSTER_JOINED,	   /* live: lease held, cache following etcd */
	CLUSTER_LOST,	   /* was joined; etcd lost, joining again */
};

struct cluster;
/* 0 or -errno; err is the text for the daemon's client (may be NULL). */
typedef void (*cluster_done_fn)(void *ctx, int rc, const char *err);

/* 0, or -EINVAL with *err (static text) when cfg is malformed. */
int cluster_cfg_check(const struct cluster_cfg *cfg, const char **err);
/* Checks cfg and copies it. NULL with *err (static text) when bad. */
struct cluster *cluster_new(const struct cluster_cfg *cfg, const char **err);
/* Starts the thread; it keeps trying to join until cluster_free. */
int cluster_start(struct cluster *c);
/* Stops the thread (revoking the lease if it can, within the timeout),
 * fails queued requests with -ECANCELED and frees everything. */
void cluster_free(struct cluster *c);
/* Readable when cluster_dispatch has work (completions, cache changes). */
int cluster_fd(const struct cluster *c);
/* On the loop's thread: runs completions; returns 1 if the cache changed
 * since the last call. */
int cluster_dispatch(struct cluster *c);

/* State, with the last etcd error in msg (if any). */
enum cluster_state cluster_state(struct cluster *c, char *msg, size_t len);
const char *cluster_state_name(enum cluster_state st);
/* This daemon's instance id, 0 before it first joined. */
uint32_t cluster_instance(struct cluster *c);
const char *cluster_prefix(const struct cluster *c);
/* Bumped on every change of the cache. */
uint64_t cluster_generation(struct cluster *c);

/* Figures for the instance record (written at the next keepalive). */
void cluster_set_figures(struct cluster *c, uint64_t objects, uint64_t bytes);

/* Publishing: the daemon wants objects/<id> to say json (a copy is kept
 * and written again after every re-join until unpublished). Never fails,
 * never waits: written as soon as etcd is reachable, in transactions of
 * at most 128 operations. */
void cluster_publish(struct cluster *c, uint64_t id, const char *json,
		     size_t len);
void cluster_unpublish(struct cluster *c, uint64_t id);
/* Brackets a batch of cluster_publish calls (hold 1, then 0), so that the
 * batch goes out in full transactions, not a first record alone. */
void cluster_publish_hold(struct cluster *c, int hold);

/* Names: queued; done runs on the loop thread (cluster_dispatch) with 0,
 * or -ENOTCONN at once when not joined, or the etcd error. A put replaces
 * any binding in one write; a drop of a name that is not there is
 * -ENOENT. Returns 0 when queued, else the error (done is not called). */
int cluster_name_put(struct cluster *c, const char *name, uint64_t id,
		     cluster_done_fn done, void *ctx);
int cluster_name_drop(struct cluster *c, const char *name,
		      cluster_done_fn done, void *ctx);

/* Names as desired state, for the daemon: the write is queued and retried
 * until etcd takes it (last writer wins), like a publication. */
void cluster_name_set(struct cluster *c, const char *name, uint64_t id);
void cluster_name_unset(struct cluster *c, const char *name);
/* fn runs on the loop thread (cluster_dispatch) for every change of a
 * cluster-wide name (id 0: dropped), whoever made it, and for every name
 * after each (re)join. Set before cluster_start. */
typedef int (*cluster_name_fn)(void *ctx, const char *name, uint64_t id);
void cluster_on_names(struct cluster *c, cluster_name_fn fn, void *ctx);

/* Cache reads (never touch etcd). */
int cluster_name_get(struct cluster *c, const char *name, uint64_t *id);
/* The object's record (malloc'd, NUL-terminated, *json may be NULL to
 * test existence), its instance and whether that instance is alive.
 * -ENOENT when not published. */
int cluster_object(struct cluster *c, uint64_t id, char **json,
		   uint32_t *instance, int *alive);
int cluster_instance_alive(struct cluster *c, uint32_t id);
/* Iterations over the cache; fn must not call back into the cluster.
 * A nonzero return from fn stops and is returned. */
typedef int (*cluster_inst_fn)(void *ctx, uint32_t id, const char *json,
			       size_t len);
int cluster_each_instance(struct cluster *c, cluster_inst_fn fn, void *ctx);
typedef int (*cluster_obj_fn)(void *ctx, uint64_t id, uint32_t instance,
			      int alive, const char *json, size_t len);
uint64_t cluster_object_count(struct cluster *c);
int cluster_each_object(struct cluster *c, cluster_obj_fn fn, void *ctx);
int cluster_each_name(struct cluster *c, cluster_name_fn fn, void *ctx);

#endif
