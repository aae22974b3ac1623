/*
 * attach: starts this daemon's cluster membership from its options (the
 * part of main() that is about the cluster): the instance id kept in the
 * data directory, the cluster thread, the node between it and the store,
 * and the loop watch that runs completions and name news on the loop.
 */
#ifndef VY_ATTACH_H
#define VY_ATTACH_H

#include <stddef.h>

struct store;
struct loop;
struct node;
struct attach;

struct attach_cfg {
	const char *etcd;      /* --etcd */
	const char *prefix;    /* --etcd-prefix, NULL = "vineyard" */
	int ttl_s;             /* --etcd-ttl, 0 = default */
	const char *socket;    /* for the instance record */
	const char *rpc;       /* --rpc HOST:PORT, or NULL */
	const char *data_dir;  /* keeps the instance id; NULL = none */
};

/* Never waits for etcd: the thread joins when it can. NULL with a
 * sentence in err when the options are wrong. */
struct attach *attach_start(struct store *s, struct loop *l,
			    const struct attach_cfg *cfg, char *err,
			    size_t errlen);
struct node *attach_node(struct attach *a);
/* fn runs on the loop after the cluster's cache changed (names to wake
 * waiters for, objects); set once the server exists. */
void attach_on_change(struct attach *a, void (*fn)(void *ctx), void *ctx);
/* The mount's view of the cluster (fs.h's struct fs_cluster). Its ctx is
 * the address of the daemon's struct attach pointer, read atomically: the
 * mount starts before the cluster is attached. */
extern const struct fs_cluster attach_fs_ops;
/* The fetcher the mount's opens of remote blobs use (fs_cluster.fetch);
 * set once it exists, before any request is served. */
struct fetch;
void attach_set_fetch(struct attach *a, struct fetch *f);
/* Leaves the cluster (revoking the lease if etcd answers in time). */
void attach_stop(struct attach *a);

#endif
