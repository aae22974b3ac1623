/*
 * cluster: the loop's side of the cluster module: setup and teardown, the
 * request queues, completions and the cache reads. One lock guards all the
 * loop thread and the cluster thread share (cache, queues, state); the
 * thread (cluster_thread.c) never holds it across an etcd request, so a
 * read here waits at most for a map update, never for etcd.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cluster/cluster_int.h"
#include "log.h"
#include "xmalloc.h"
#include "banned.h"

void
cl_notify(struct cluster *c)
{
	uint64_t one = 1;

	if (write(c->efd, &one, sizeof(one)) < 0) {
		/* counter full: a wakeup is pending anyway */
	}
}

void
cl_id_format(uint64_t id, char out[18])
{
	snprintf(out, 18, "o%016" PRIx64, id);
}

int
cl_id_parse(const char *s, size_t len, uint64_t *id)
{
	char buf[18], *end;

	if (len != 17 || s[0] != 'o')
		return -EINVAL;
	memcpy(buf, s + 1, 16);
	buf[16] = '\0';
	*id = strtoull(buf, &end, 16);
	return *end ? -EINVAL : 0;
}

size_t
cl_relkey(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* The full etcd key for a relative one (malloc'd). */
char *
cl_fullkey(struct cluster *c, const char *rel, size_t rlen, size_t *len)
{
	char *k = xmalloc(c->pfxlen + rlen + 1);

	memcpy(k, c->pfx, c->pfxlen);
	memcpy(k + c->pfxlen, rel, rlen);
	k[c->pfxlen + rlen] = '\0';
	*len = c->pfxlen + rlen;
	return k;
}

void
cl_set_err(struct cluster *c, const char *msg)
{
	pthread_mutex_lock(&c->lock);
	snprintf(c->err, sizeof(c->err), "%s", msg);
	pthread_mutex_unlock(&c->lock);
}

/* ---- setup ---- */

int
cluster_cfg_check(const struct cluster_cfg *cfg, const char **err)
{
	const char *p = cfg->prefix ? cfg->prefix : "vineyard";
	struct etcd *e;
	size_t i;

	if (!*p || strlen(p) > 128) {
		*err = "the etcd prefix is 1 to 128 characters";
		return -EINVAL;
	}
	for (i = 0; p[i]; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f) {
			*err = "the etcd prefix has a space or control "
			       "character";
			return -EINVAL;
		}
	if (cfg->ttl_s < 0 || cfg->ttl_s > 3600) {
		*err = "the etcd TTL is 1 to 3600 seconds";
		return -EINVAL;
	}
	if (!(e = etcd_new(cfg->endpoints, 1000, err)))
		return -EINVAL;
	etcd_free(e);
	return 0;
}

struct cluster *
cluster_new(const struct cluster_cfg *cfg, const char **err)
{
	struct cluster *c;
	const char *p = cfg->prefix ? cfg->prefix : "vineyard";
	size_t i;

	if (!*p || strlen(p) > 128) {
		*err = "the etcd prefix is 1 to 128 characters";
		return NULL;
	}
	for (i = 0; p[i]; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f) {
			*err = "the etcd prefix has a space or control "
			       "character";
			return NULL;
		}
	if (cfg->ttl_s < 0 || cfg->ttl_s > 3600) {
		*err = "the etcd TTL is 1 to 3600 seconds";
		return NULL;
	}
	if (cfg->want_id > CLUSTER_MAX_INSTANCE) {
		*err = "instance id out of range";
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->cfg = *cfg;
	c->cfg.ttl_s = cfg->ttl_s ? cfg->ttl_s : 5;
	c->cfg.timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 2000;
	/* a request must give up well before the lease could expire */
	if (c->cfg.timeout_ms > c->cfg.ttl_s * 1000 / 3)
		c->cfg.timeout_ms = c->cfg.ttl_s * 1000 / 3;
	if (c->cfg.timeout_ms < 200)
		c->cfg.timeout_ms = 200;
	if (!(c->e = etcd_new(cfg->endpoints, c->cfg.timeout_ms, err))) {
		free(c);
		return NULL;
	}
	c->cfg.endpoints = c->own[0] = xstrdup(cfg->endpoints);
	c->cfg.prefix = c->own[1] = xstrdup(p);
	c->cfg.host = c->own[2] = xstrdup(cfg->host ? cfg->host : "");
	c->cfg.socket = c->own[3] = xstrdup(cfg->socket ? cfg->socket : "");
	c->cfg.rpc = c->own[4] = xstrdup(cfg->rpc ? cfg->rpc : "");
	c->pfxlen = strlen(p) + 1;
	c->pfx = xmalloc(c->pfxlen + 1);
	snprintf(c->pfx, c->pfxlen + 1, "%s/", p);
	c->iid = cfg->want_id;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		*err = "eventfd failed";
		etcd_free(c->e);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	kvmap_init(&c->cache);
	kvmap_init(&c->want);
	kvmap_init(&c->pending);
	c->ops_tail = &c->ops;
	c->done_tail = &c->done;
	c->nev_tail = &c->nev;
	c->state = CLUSTER_JOINING;
	snprintf(c->err, sizeof(c->err), "not joined yet");
	c->started_at = (int64_t)time(NULL);
	return c;
}

const char *
cluster_prefix(const struct cluster *c)
{
	return c->cfg.prefix;
}

int
cluster_fd(const struct cluster *c)
{
	return c->efd;
}

/* ---- completions ---- */

/* Moves op to the done list (thread side). */
void
cl_op_finish(struct cluster *c, struct op *op, int rc, const char *err)
{
	op->rc = rc;
	op->err = rc < 0 && err ? xstrdup(err) : NULL;
	op->next = NULL;
	pthread_mutex_lock(&c->lock);
	*c->done_tail = op;
	c->done_tail = &op->next;
	pthread_mutex_unlock(&c->lock);
	cl_notify(c);
}

static void
op_free(struct op *op)
{
	free(op->name);
	free(op->err);
	free(op);
}

void
cluster_on_names(struct cluster *c, cluster_name_fn fn, void *ctx)
{
	c->name_fn = fn;
	c->name_ctx = ctx;
}

void
cl_name_event(struct cluster *c, const uint8_t *name, size_t len,
	      const uint8_t *val, size_t vlen)
{
	struct name_ev *ev;

	if (!c->name_fn)
		return;
	ev = xcalloc(1, sizeof(*ev) + len + 1);
	memcpy(ev->name, name, len);
	if (val && cl_id_parse((const char *)val, vlen, &ev->id))
		ev->id = 0;
	*c->nev_tail = ev;
	c->nev_tail = &ev->next;
}

int
cluster_dispatch(struct cluster *c)
{
	struct op *list, *op;
	struct name_ev *evs, *ev;
	uint64_t v;
	int changed;

	if (read(c->efd, &v, sizeof(v)) < 0) {
		/* nothing pending: fine */
	}
	pthread_mutex_lock(&c->lock);
	list = c->done;
	c->done = NULL;
	c->done_tail = &c->done;
	changed = c->gen != c->seen_gen;
	c->seen_gen = c->gen;
	evs = c->nev;
	c->nev = NULL;
	c->nev_tail = &c->nev;
	pthread_mutex_unlock(&c->lock);
	while ((ev = evs)) {
		evs = ev->next;
		if (c->name_fn)
			c->name_fn(c->name_ctx, ev->name, ev->id);
		free(ev);
	}
	while ((op = list)) {
		list = op->next;
		op->done(op->ctx, op->rc, op->err);
		op_free(op);
	}
	return changed;
}

/* ---- state ---- */

enum cluster_state
cluster_state(struct cluster *c, char *msg, size_t len)
{
	enum cluster_state st;

	pthread_mutex_lock(&c->lock);
	st = c->state;
	if (msg)
		snprintf(msg, len, "%s", c->err);
	pthread_mutex_unlock(&c->lock);
	return st;
}

const char *
cluster_state_name(enum cluster_state st)
{
	switch (st) {
	case CLUSTER_JOINED:
		return "joined";
	case CLUSTER_LOST:
		return "lost";
	default:
		return "joining";
	}
}

uint32_t
cluster_instance(struct cluster *c)
{
	uint32_t id;

	pthread_mutex_lock(&c->lock);
	id = c->iid;
	pthread_mutex_unlock(&c->lock);
	return id;
}

uint64_t
cluster_generation(struct cluster *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->lock);
	g = c->gen;
	pthread_mutex_unlock(&c->lock);
	return g;
}

void
cluster_set_figures(struct cluster *c, uint64_t objects, uint64_t bytes)
{
	pthread_mutex_lock(&c->lock);
	if (objects != c->objects || bytes != c->bytes) {
		c->objects = objects;
		c->bytes = bytes;
		c->record_dirty = 1;
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- requests from the loop ---- */

void
cluster_publish(struct cluster *c, uint64_t id, const char *json, size_t len)
{
	char k[32];
	size_t kl;
	char ids[18];
	int hold;

	cl_id_format(id, ids);
	kl = cl_relkey(k, sizeof(k), "objects/%s", ids);
	pthread_mutex_lock(&c->lock);
	kvmap_put(&c->want, k, kl, json, len, 0);
	kvmap_put(&c->pending, k, kl, json, len, 0);
	hold = c->hold;
	pthread_mutex_unlock(&c->lock);
	if (!hold)
		etcd_wake(c->e);
}

void
cluster_publish_hold(struct cluster *c, int hold)
{
	pthread_mutex_lock(&c->lock);
	c->hold += hold ? 1 : -1;
	hold = c->hold;
	pthread_mutex_unlock(&c->lock);
	if (!hold)
		etcd_wake(c->e);
}

void
cluster_unpublish(struct cluster *c, uint64_t id)
{
	char k[32];
	size_t kl;
	char ids[18];

	cl_id_format(id, ids);
	kl = cl_relkey(k, sizeof(k), "objects/%s", ids);
	pthread_mutex_lock(&c->lock);
	kvmap_del(&c->want, k, kl);
	kvmap_put(&c->pending, k, kl, "", 0, -1);
	pthread_mutex_unlock(&c->lock);
	etcd_wake(c->e);
}

static void
name_key(const char *name, char **k, size_t *kl)
{
	*kl = strlen(name) + 6;
	*k = xmalloc(*kl + 1);
	snprintf(*k, *kl + 1, "names/%s", name);
}

void
cluster_name_set(struct cluster *c, const char *name, uint64_t id)
{
	char *k, ids[18];
	size_t kl;

	name_key(name, &k, &kl);
	cl_id_format(id, ids);
	pthread_mutex_lock(&c->lock);
	kvmap_put(&c->pending, k, kl, ids, 17, 0);
	pthread_mutex_unlock(&c->lock);
	free(k);
	etcd_wake(c->e);
}

void
cluster_name_unset(struct cluster *c, const char *name)
{
	char *k;
	size_t kl;

	name_key(name, &k, &kl);
	pthread_mutex_lock(&c->lock);
	kvmap_put(&c->pending, k, kl, "", 0, -1);
	pthread_mutex_unlock(&c->lock);
	free(k);
	etcd_wake(c->e);
}

static int
queue_op(struct cluster *c, enum op_kind kind, const char *name, uint64_t id,
	 cluster_done_fn done, void *ctx)
{
	struct op *op;

	pthread_mutex_lock(&c->lock);
	if (c->state != CLUSTER_JOINED || c->stop) {
		pthread_mutex_unlock(&c->lock);
		return -ENOTCONN;
	}
	op = xcalloc(1, sizeof(*op));
	op->kind = kind;
	op->name = xstrdup(name);
	op->id = id;
	op->done = done;
	op->ctx = ctx;
	*c->ops_tail = op;
	c->ops_tail = &op->next;
	pthread_mutex_unlock(&c->lock);
	etcd_wake(c->e);
	return 0;
}

int
cluster_name_put(struct cluster *c, const char *name, uint64_t id,
		 cluster_done_fn done, void *ctx)
{
	return queue_op(c, OP_NAME_PUT, name, id, done, ctx);
}

int
cluster_name_drop(struct cluster *c, const char *name, cluster_done_fn done,
		  void *ctx)
{
	return queue_op(c, OP_NAME_DROP, name, 0, done, ctx);
}

/* ---- cache reads ---- */

int
cluster_name_get(struct cluster *c, const char *name, uint64_t *id)
{
	const struct kv_entry *e;
	char *k;
	size_t kl = strlen(name) + 6;
	int rc = -ENOENT;

	k = xmalloc(kl + 1);
	snprintf(k, kl + 1, "names/%s", name);
	pthread_mutex_lock(&c->lock);
	if ((e = kvmap_get(&c->cache, k, kl)))
		rc = cl_id_parse((const char *)e->val, e->vlen, id) ? -EBADMSG : 0;
	pthread_mutex_unlock(&c->lock);
	free(k);
	return rc;
}

static int
alive_locked(struct cluster *c, uint32_t id)
{
	char k[32];
	size_t kl = cl_relkey(k, sizeof(k), "instances/%" PRIu32, id);

	return kvmap_get(&c->cache, k, kl) != NULL;
}

int
cluster_instance_alive(struct cluster *c, uint32_t id)
{
	int a;

	pthread_mutex_lock(&c->lock);
	a = alive_locked(c, id);
	pthread_mutex_unlock(&c->lock);
	return a;
}

/* The "instance" of an object record, else the id's bits. */
static uint32_t
record_instance(uint64_t id, const char *json, size_t len)
{
	json_error_t jerr;
	json_t *r = json_loadb(json, len, 0, &jerr);
	json_t *v = json_object_get(r, "instance");
	uint32_t i;

	i = json_is_integer(v) ? (uint32_t)json_integer_value(v) :
		(uint32_t)((id >> CLUSTER_ID_SHIFT) & CLUSTER_MAX_INSTANCE);
	json_decref(r);
	return i;
}

int
cluster_object(struct cluster *c, uint64_t id, char **json,
	       uint32_t *instance, int *alive)
{
	const struct kv_entry *e;
	char k[32], ids[18];
	size_t kl;
	uint32_t inst;

	cl_id_format(id, ids);
	kl = cl_relkey(k, sizeof(k), "objects/%s", ids);
	pthread_mutex_lock(&c->lock);
	/* what this daemon published is answered before the watch echoes
	 * it back (a global object read right after its creation) */
	if (!(e = kvmap_get(&c->cache, k, kl)) &&
	    !(e = kvmap_get(&c->want, k, kl))) {
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	inst = record_instance(id, (const char *)e->val, e->vlen);
	if (json)
		*json = xmemdup(e->val, e->vlen + 1);
	if (instance)
		*instance = inst;
	if (alive)
		*alive = alive_locked(c, inst);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* What an iteration over the cache walks: the kinds of record, each under
 * its key prefix, with its own callback type. */
enum each_kind { EACH_INSTANCE, EACH_OBJECT, EACH_NAME };

/* One cache entry of kind k (rest: its key after the prefix) → fn; a key
 * that does not parse is skipped. c->lock held. */
static int
each_call(struct cluster *c, enum each_kind k, void *fn, void *ctx,
	  const struct kv_entry *e, const char *rest, size_t rl)
{
	char buf[16], *end, *name;
	unsigned long v;
	uint64_t id;
	uint32_t inst;
	int rc;

	switch (k) {
	case EACH_INSTANCE:
		if (rl >= sizeof(buf))
			return 0;
		memcpy(buf, rest, rl);
		buf[rl] = '\0';
		v = strtoul(buf, &end, 10);
		if (*end || v > CLUSTER_MAX_INSTANCE)
			return 0;
		return ((cluster_inst_fn)fn)(ctx, (uint32_t)v,
					     (const char *)e->val, e->vlen);
	case EACH_OBJECT:
		if (cl_id_parse(rest, rl, &id))
			return 0;
		inst = record_instance(id, (const char *)e->val, e->vlen);
		return ((cluster_obj_fn)fn)(ctx, id, inst,
					    alive_locked(c, inst),
					    (const char *)e->val, e->vlen);
	case EACH_NAME:
		if (cl_id_parse((const char *)e->val, e->vlen, &id))
			return 0;
		name = xmalloc(rl + 1);
		memcpy(name, rest, rl);
		name[rl] = '\0';
		rc = ((cluster_name_fn)fn)(ctx, name, id);
		free(name);
		return rc;
	}
	return 0;
}

/* Calls fn for every cache entry of kind k. */
static int
each_prefix(struct cluster *c, enum each_kind k, void *fn, void *ctx)
{
	static const char *const rel[] = {
		[EACH_INSTANCE] = "instances/",
		[EACH_OBJECT] = "objects/",
		[EACH_NAME] = "names/",
	};
	const struct kv_entry *e;
	size_t pos = 0, rl = strlen(rel[k]);
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	while (rc == 0 && (e = kvmap_next(&c->cache, &pos)))
		if (e->klen > rl && !memcmp(e->key, rel[k], rl))
			rc = each_call(c, k, fn, ctx, e,
				       (const char *)e->key + rl,
				       e->klen - rl);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Records under objects/ in the cache: what `ls --cluster` lists. */
uint64_t
cluster_object_count(struct cluster *c)
{
	const struct kv_entry *e;
	size_t pos = 0;
	uint64_t n = 0;

	pthread_mutex_lock(&c->lock);
	while ((e = kvmap_next(&c->cache, &pos)))
		if (e->klen > 8 && !memcmp(e->key, "objects/", 8))
			n++;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int
cluster_each_instance(struct cluster *c, cluster_inst_fn fn, void *ctx)
{
	return each_prefix(c, EACH_INSTANCE, (void *)fn, ctx);
}

int
cluster_each_object(struct cluster *c, cluster_obj_fn fn, void *ctx)
{
	return each_prefix(c, EACH_OBJECT, (void *)fn, ctx);
}

int
cluster_each_name(struct cluster *c, cluster_name_fn fn, void *ctx)
{
	return each_prefix(c, EACH_NAME, (void *)fn, ctx);
}

int
cluster_start(struct cluster *c)
{
	int rc = pthread_create(&c->th, NULL, cl_thread_main, c);

	if (rc)
		return -rc;
	c->started = 1;
	return 0;
}

void
cluster_free(struct cluster *c)
{
	int i;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_mutex_unlock(&c->lock);
	if (c->started) {
		etcd_wake(c->e);
		pthread_join(c->th, NULL);
	}
	cl_fail_ops(c, -ECANCELED, "vineyardd is stopping");
	c->name_fn = NULL;	/* the daemon is going: no more name news */
	cluster_dispatch(c);
	etcd_free(c->e);
	kvmap_release(&c->cache);
	kvmap_release(&c->want);
	kvmap_release(&c->pending);
	pthread_mutex_destroy(&c->lock);
	close(c->efd);
	for (i = 0; i < 5; i++)
		free(c->own[i]);
	free(c->pfx);
	free(c);
}
