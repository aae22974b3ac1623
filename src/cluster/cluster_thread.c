/*
 * cluster_thread: the cluster thread, the only one that talks to etcd.
 * Joining is the one recovery path for every failure (etcd restarted, lease
 * expired, watch broken): keep the lease if it still lives, else take a new
 * one and put the record back, read the whole prefix again, watch from the
 * revision after it, and queue everything published to be written again.
 * Between joins it runs queued name requests, writes pending publications
 * in transactions within etcd's limits, keeps the lease alive and delivers
 * watch events into the cache.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/cluster_int.h"
#include "log.h"
#include "xmalloc.h"
#include "banned.h"

/* ---- the thread: joining ---- */

static char *
record_json(struct cluster *c)
{
	json_t *r = json_object();
	char *s;

	pthread_mutex_lock(&c->lock);
	json_object_set_new(r, "id", json_integer(c->iid));
	json_object_set_new(r, "host", json_string(c->cfg.host));
	json_object_set_new(r, "socket", json_string(c->cfg.socket));
	json_object_set_new(r, "rpc", json_string(c->cfg.rpc));
	json_object_set_new(r, "pid", json_integer(getpid()));
	json_object_set_new(r, "started", json_integer(c->started_at));
	json_object_set_new(r, "objects", json_integer((json_int_t)c->objects));
	json_object_set_new(r, "bytes", json_integer((json_int_t)c->bytes));
	c->record_dirty = 0;
	pthread_mutex_unlock(&c->lock);
	s = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	if (!s)
		fatalx("cluster: out of memory");
	return s;
}

static int
lease_cb(void *ctx, const struct etcd_kv *kv)
{
	*(int64_t *)ctx = kv->lease;
	return 0;
}

/* Puts instances/<iid> under the lease if no one else holds it; 1 when
 * taken by another instance. */
static int
claim(struct cluster *c, uint32_t iid, int64_t next_mod, int alloc)
{
	char rel[32], *k, *rec, *nk, nv[16];
	size_t kl, nkl;
	struct etcd_txn *t = etcd_txn_new();
	int64_t owner = 0;
	int ok = 0, rc;

	if (!t)
		fatalx("cluster: out of memory");
	cl_relkey(rel, sizeof(rel), "instances/%" PRIu32, iid);
	k = cl_fullkey(c, rel, strlen(rel), &kl);
	nk = cl_fullkey(c, "next_instance", 13, &nkl);
	pthread_mutex_lock(&c->lock);
	c->iid = iid;	/* record_json says it */
	pthread_mutex_unlock(&c->lock);
	rec = record_json(c);
	etcd_txn_cmp_create(t, k, kl, 0);
	if (alloc) {
		/* nobody took this number since we read the counter */
		if (next_mod)
			etcd_txn_cmp_mod(t, nk, nkl, next_mod);
		else
			etcd_txn_cmp_create(t, nk, nkl, 0);
		snprintf(nv, sizeof(nv), "%" PRIu32, iid + 1);
		etcd_txn_put(t, 0, nk, nkl, nv, strlen(nv), 0);
	}
	etcd_txn_put(t, 0, k, kl, rec, strlen(rec), c->lease);
	etcd_txn_get(t, 1, k, kl);
	rc = etcd_txn_commit(c->e, t, &ok, lease_cb, &owner, NULL);
	/* already ours: a re-join with a lease that survived */
	if (rc == 0 && !ok && !alloc && owner == c->lease)
		ok = etcd_put(c->e, k, kl, rec, strlen(rec), c->lease,
			      NULL) == 0;
	etcd_txn_free(t);
	free(rec);
	free(k);
	free(nk);
	if (rc < 0)
		return rc;
	return ok ? 0 : 1;
}

struct counter {
	int64_t mod;
	uint32_t next;
};

static int
counter_cb(void *ctx, const struct etcd_kv *kv)
{
	struct counter *n = ctx;
	char buf[16];
	size_t l = kv->vlen < 15 ? kv->vlen : 15;

	memcpy(buf, kv->val, l);
	buf[l] = '\0';
	n->next = (uint32_t)strtoul(buf, NULL, 10);
	n->mod = kv->mod_rev;
	return 0;
}

/* Takes a new instance id: read the counter, then claim it in one
 * transaction that fails if anyone moved the counter meanwhile. */
static int
alloc_id(struct cluster *c)
{
	struct counter n;
	char *nk;
	size_t nkl;
	int i, rc;

	nk = cl_fullkey(c, "next_instance", 13, &nkl);
	for (i = 0; i < ALLOC_TRIES; i++) {
		n.mod = 0;
		n.next = 1;
		if ((rc = etcd_range(c->e, nk, nkl, NULL, 0, counter_cb, &n,
				     NULL)) < 0)
			break;
		if (n.next < 1)
			n.next = 1;
		if (n.next > CLUSTER_MAX_INSTANCE) {
			rc = -ENOSPC;
			cl_set_err(c, "no instance id left in this cluster");
			break;
		}
		if ((rc = claim(c, n.next, n.mod, 1)) <= 0)
			break;
	}
	free(nk);
	if (i == ALLOC_TRIES)
		rc = -EAGAIN;
	return rc;
}

/* Snapshot: the whole prefix into a fresh map. */
static int
snap_cb(void *ctx, const struct etcd_kv *kv)
{
	struct cluster *c = ((void **)ctx)[0];
	struct kvmap *m = ((void **)ctx)[1];

	if (kv->klen > c->pfxlen)
		kvmap_put(m, kv->key + c->pfxlen, kv->klen - c->pfxlen,
			  kv->val, kv->vlen, kv->lease);
	return 0;
}

static void
watch_cb(void *ctx, int del, const struct etcd_kv *kv)
{
	struct cluster *c = ctx;

	if (kv->klen <= c->pfxlen)
		return;
	const uint8_t *rel = kv->key + c->pfxlen;
	size_t rlen = kv->klen - c->pfxlen;

	pthread_mutex_lock(&c->lock);
	if (del)
		kvmap_del(&c->cache, rel, rlen);
	else
		kvmap_put(&c->cache, rel, rlen, kv->val, kv->vlen, kv->lease);
	if (rlen > 6 && !memcmp(rel, "names/", 6))
		cl_name_event(c, rel + 6, rlen - 6, del ? NULL : kv->val,
			      kv->vlen);
	c->gen++;
	pthread_mutex_unlock(&c->lock);
	cl_notify(c);
}

static int
join(struct cluster *c)
{
	struct kvmap fresh;
	const struct kv_entry *e;
	void *args[2];
	uint8_t end[160];
	size_t endlen, pos = 0;
	int64_t rev;
	uint32_t iid;
	int rc;

	etcd_watch_stop(c->e);
	/* a lease that survived (a short outage, etcd restarted) is kept */
	if (c->lease && (rc = etcd_lease_keepalive(c->e, c->lease, NULL)) < 0) {
		if (rc != -ENOENT)
			return rc;	/* etcd still away */
		c->lease = 0;
	}
	if (!c->lease && (rc = etcd_lease_grant(c->e, c->cfg.ttl_s,
						&c->lease)) < 0)
		return rc;
	iid = cluster_instance(c);
	if (iid && (rc = claim(c, iid, 0, 0)) != 0) {
		if (rc < 0)
			return rc;
		log_warnx("cluster: instance id %" PRIu32 " is held by a live "
			  "daemon; taking a new one", iid);
		iid = 0;
	}
	if (!iid) {
		if ((rc = alloc_id(c)) < 0)
			return rc;
	}
	/* read everything, then follow from the next revision */
	kvmap_init(&fresh);
	args[0] = c;
	args[1] = &fresh;
	endlen = etcd_prefix_end(c->pfx, c->pfxlen, end);
	rc = etcd_range(c->e, c->pfx, c->pfxlen, end, endlen, snap_cb, args,
			&rev);
	if (rc == 0)
		rc = etcd_watch_start(c->e, c->pfx, c->pfxlen, end, endlen,
				      rev + 1, watch_cb, c);
	if (rc < 0) {
		kvmap_release(&fresh);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	/* names: every one now, and a drop for those gone meanwhile */
	pos = 0;
	while ((e = kvmap_next(&c->cache, &pos)))
		if (e->klen > 6 && !memcmp(e->key, "names/", 6) &&
		    !kvmap_get(&fresh, e->key, e->klen))
			cl_name_event(c, e->key + 6, e->klen - 6, NULL, 0);
	pos = 0;
	while ((e = kvmap_next(&fresh, &pos)))
		if (e->klen > 6 && !memcmp(e->key, "names/", 6))
			cl_name_event(c, e->key + 6, e->klen - 6, e->val,
				      e->vlen);
	pos = 0;
	kvmap_move(&c->cache, &fresh);
	c->gen++;
	/* write every published object again (etcd may have lost them) */
	while ((e = kvmap_next(&c->want, &pos)))
		if (!kvmap_get(&c->pending, e->key, e->klen))
			kvmap_put(&c->pending, e->key, e->klen, e->val, e->vlen,
				  0);
	pthread_mutex_unlock(&c->lock);
	cl_notify(c);
	return 0;
}

/* ---- the thread: work ---- */

static int
run_op(struct cluster *c, struct op *op)
{
	char *rel, *k, ids[18];
	size_t rl = strlen(op->name) + 6, kl;
	int64_t n = 0;
	int rc;

	rel = xmalloc(rl + 1);
	snprintf(rel, rl + 1, "names/%s", op->name);
	k = cl_fullkey(c, rel, rl, &kl);
	free(rel);
	if (op->kind == OP_NAME_PUT) {
		/* one put: replaces a taken name atomically */
		cl_id_format(op->id, ids);
		rc = etcd_put(c->e, k, kl, ids, 17, 0, NULL);
	} else {
		rc = etcd_delete(c->e, k, kl, NULL, 0, &n);
		if (rc == 0 && n == 0)
			rc = 1;	/* not there */
	}
	free(k);
	return rc;
}

/* Runs queued name requests; stops at a connection-level failure. */
static int
run_ops(struct cluster *c)
{
	struct op *op;
	char msg[600];
	int rc;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		if ((op = c->ops) && !(c->ops = op->next))
			c->ops_tail = &c->ops;
		pthread_mutex_unlock(&c->lock);
		if (!op)
			return 0;
		rc = run_op(c, op);
		if (rc == 1) {
			snprintf(msg, sizeof(msg), "%s: no such name in the "
				 "cluster", op->name);
			cl_op_finish(c, op, -ENOENT, msg);
			continue;
		}
		cl_op_finish(c, op, rc, etcd_errmsg(c->e));
		if (rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -EIO)
			return rc;
	}
}

/* Writes pending publications, a transaction at a time. */
static int
flush_pending(struct cluster *c)
{
	struct etcd_txn *t;
	const struct kv_entry *e;
	struct kvmap batch;
	size_t pos, bytes, kl;
	char *k;
	int ok, rc = 0;

	for (;;) {
		kvmap_init(&batch);
		pthread_mutex_lock(&c->lock);
		pos = 0;
		bytes = 0;
		/* a batch being added: its end wakes us (cluster_publish_hold) */
		while (!c->hold && batch.count < ETCD_MAX_TXN_OPS &&
		       bytes < TXN_BYTES &&
		       (e = kvmap_next(&c->pending, &pos))) {
			kvmap_put(&batch, e->key, e->klen, e->val, e->vlen,
				  e->lease);
			bytes += e->klen + e->vlen + c->pfxlen;
		}
		/* taken out now; put back below if the write fails */
		pos = 0;
		while ((e = kvmap_next(&batch, &pos)))
			kvmap_del(&c->pending, e->key, e->klen);
		pthread_mutex_unlock(&c->lock);
		if (!batch.count)
			break;
		t = etcd_txn_new();
		pos = 0;
		while ((e = kvmap_next(&batch, &pos))) {
			k = cl_fullkey(c, (const char *)e->key, e->klen, &kl);
			if (e->lease < 0)
				etcd_txn_del(t, 0, k, kl);
			else
				etcd_txn_put(t, 0, k, kl, e->val, e->vlen, 0);
			free(k);
		}
		rc = etcd_txn_commit(c->e, t, &ok, NULL, NULL, NULL);
		etcd_txn_free(t);
		if (rc < 0) {
			/* back, unless a newer request replaced it */
			pthread_mutex_lock(&c->lock);
			pos = 0;
			while ((e = kvmap_next(&batch, &pos)))
				if (!kvmap_get(&c->pending, e->key, e->klen))
					kvmap_put(&c->pending, e->key, e->klen,
						  e->val, e->vlen, e->lease);
			pthread_mutex_unlock(&c->lock);
			log_warnx("cluster: publishing: %s",
				  etcd_errmsg(c->e));
		}
		kvmap_release(&batch);
		if (rc < 0)
			break;
	}
	return rc;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_state(struct cluster *c, enum cluster_state st, const char *msg)
{
	enum cluster_state old;

	pthread_mutex_lock(&c->lock);
	old = c->state;
	c->state = st;
	if (msg)
		snprintf(c->err, sizeof(c->err), "%s", msg);
	c->gen++;
	pthread_mutex_unlock(&c->lock);
	if (st == CLUSTER_JOINED && old != CLUSTER_JOINED)
		log_info("cluster: joined %s as instance %" PRIu32 " "
			 "(prefix %s)", etcd_endpoint(c->e), cluster_instance(c),
			 c->cfg.prefix);
	else if (st != CLUSTER_JOINED && old == CLUSTER_JOINED)
		log_warnx("cluster: lost etcd (%s); local work goes on, "
			  "joining again", msg ? msg : "?");
	cl_notify(c);
}

/* Fails every queued name request (not joined: they cannot run). */
void
cl_fail_ops(struct cluster *c, int rc, const char *msg)
{
	struct op *list, *op;

	pthread_mutex_lock(&c->lock);
	list = c->ops;
	c->ops = NULL;
	c->ops_tail = &c->ops;
	pthread_mutex_unlock(&c->lock);
	while ((op = list)) {
		list = op->next;
		cl_op_finish(c, op, rc, msg);
	}
}

static int
stopping(struct cluster *c)
{
	int s;

	pthread_mutex_lock(&c->lock);
	s = c->stop;
	pthread_mutex_unlock(&c->lock);
	return s;
}

void *
cl_thread_main(void *arg)
{
	struct cluster *c = arg;
	int64_t next_ka = 0, retry_ms = 250, t;
	int period = c->cfg.ttl_s * 1000 / 3, rc, dirty, warned = 0;
	char msg[600];
	char *rec, rel[32], *k;
	size_t kl;

	if (period < 300)
		period = 300;
	while (!stopping(c)) {
		if (cluster_state(c, NULL, 0) != CLUSTER_JOINED) {
			if ((rc = join(c)) < 0) {
				snprintf(msg, sizeof(msg), "%s",
					 etcd_errmsg(c->e));
				if (!warned++)
					log_warnx("cluster: cannot join: %s; "
						  "local work goes on, trying "
						  "again", msg);
				cl_set_err(c, msg);
				cl_fail_ops(c, -ENOTCONN, msg);
				etcd_wait(c->e, (int)retry_ms);
				if (retry_ms < 2000)
					retry_ms *= 2;
				continue;
			}
			warned = 0;
			retry_ms = 250;
			set_state(c, CLUSTER_JOINED, "");
			next_ka = now_ms() + period;
		}
		rc = run_ops(c);
		if (rc == 0)
			rc = flush_pending(c);
		t = now_ms();
		if (rc == 0 && t >= next_ka) {
			rc = etcd_lease_keepalive(c->e, c->lease, NULL);
			if (rc == -ENOENT)
				c->lease = 0;	/* expired: join again */
			pthread_mutex_lock(&c->lock);
			dirty = c->record_dirty;
			pthread_mutex_unlock(&c->lock);
			if (rc == 0 && dirty) {
				rec = record_json(c);
				cl_relkey(rel, sizeof(rel), "instances/%" PRIu32,
				       cluster_instance(c));
				k = cl_fullkey(c, rel, strlen(rel), &kl);
				rc = etcd_put(c->e, k, kl, rec, strlen(rec),
					      c->lease, NULL);
				free(k);
				free(rec);
			}
			next_ka = t + period;
		}
		if (rc == 0) {
			t = next_ka - now_ms();
			rc = etcd_wait(c->e, t < 0 ? 0 : (int)t);
		}
		if (rc < 0) {
			snprintf(msg, sizeof(msg), "%s", etcd_errmsg(c->e));
			set_state(c, CLUSTER_LOST, msg);
			cl_fail_ops(c, -ENOTCONN, msg);
		}
	}
	etcd_watch_stop(c->e);
	if (c->lease && cluster_state(c, NULL, 0) == CLUSTER_JOINED)
		etcd_lease_revoke(c->e, c->lease);
	return NULL;
}

