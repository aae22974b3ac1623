/*
 * cluster_int.h: what cluster.c (the loop's side: setup, queues, cache
 * reads) and cluster_thread.c (the etcd side: joining, writing, watching)
 * share. Not for the rest of the daemon.
 */
#ifndef VY_CLUSTER_INT_H
#define VY_CLUSTER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "cluster/etcd.h"
#include "cluster/kvmap.h"

/* Bytes of one publishing transaction, well under ETCD_MAX_REQUEST after
 * base64 (4/3) and JSON framing. */
#define TXN_BYTES (700 * 1024)
/* Tries of the instance-id allocation before giving up for this round. */
#define ALLOC_TRIES 64

enum op_kind { OP_NAME_PUT, OP_NAME_DROP };

struct op {
	struct op *next;
	enum op_kind kind;
	char *name;
	uint64_t id;
	int rc;
	char *err;
	cluster_done_fn done;
	void *ctx;
};

/* A change of a cluster-wide name, for the loop thread. */
struct name_ev {
	struct name_ev *next;
	uint64_t id; /* 0: dropped */
	char name[];
};

struct cluster {
	struct cluster_cfg cfg;	/* strings point into own[] */
	char *own[5];
	char *pfx;		/* "<prefix>/" */
	size_t pfxlen;
	struct etcd *e;		/* cluster thread only */
	pthread_t th;
	int started;
	int efd;

	pthread_mutex_t lock;
	/* under lock: */
	int stop;
	enum cluster_state state;
	char err[600];
	uint32_t iid;
	uint64_t gen, seen_gen;
	struct kvmap cache;	/* relative key -> value, as in etcd */
	struct kvmap want;	/* what we publish: relative key -> value */
	struct kvmap pending;	/* to write; lease -1 marks a delete */
	int hold;		/* cluster_publish_hold: no flush meanwhile */
	struct op *ops, **ops_tail;
	struct op *done, **done_tail;
	struct name_ev *nev, **nev_tail;
	cluster_name_fn name_fn; /* set before start */
	void *name_ctx;
	uint64_t objects, bytes;
	int record_dirty;

	/* cluster thread only: */
	int64_t lease;
	int64_t started_at;
};


void cl_notify(struct cluster *c);
void cl_id_format(uint64_t id, char out[18]);
int cl_id_parse(const char *s, size_t len, uint64_t *id);
size_t cl_relkey(char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The full etcd key of a relative one (malloc'd), its length in *len. */
char *cl_fullkey(struct cluster *c, const char *rel, size_t rlen,
		 size_t *len);
void cl_set_err(struct cluster *c, const char *msg);
/* Hands a finished request to the loop thread. */
void cl_op_finish(struct cluster *c, struct op *op, int rc, const char *err);
/* Fails every queued request with rc. */
void cl_fail_ops(struct cluster *c, int rc, const char *msg);
/* Queues a name change for the loop (caller holds the lock). */
void cl_name_event(struct cluster *c, const uint8_t *name, size_t len,
		   const uint8_t *val, size_t vlen);
void *cl_thread_main(void *arg);

#endif
