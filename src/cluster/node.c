/*
 * node: publishing, name mirroring and the cluster replies. A published
 * object's record is its meta.json (as `vineyardctl meta` shows it) less
 * the local-only fields (names, persisted), plus "instance". Names: the
 * store watcher sends local changes to etcd as desired state; the
 * cluster's name events re-point the local binding when the object is
 * here and drop it when it is not, so a name resolves to one id on every
 * instance once the watch has delivered the last write (last writer wins).
 * While the node applies such an event it ignores the store's echo of it.
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/global.h"
#include "cluster/kvmap.h"
#include "cluster/node.h"
#include "cluster/record.h"
#include "log.h"
#include "object.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

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

static int
pub_has(struct node *n, uint64_t id)
{
	int has;

	pthread_mutex_lock(&n->lock);
	has = kvmap_get(&n->published, &id, sizeof(id)) != NULL;
	pthread_mutex_unlock(&n->lock);
	return has;
}

static void
pub_add(struct node *n, uint64_t id)
{
	pthread_mutex_lock(&n->lock);
	kvmap_put(&n->published, &id, sizeof(id), "", 0, 0);
	pthread_mutex_unlock(&n->lock);
}

/* 1 when id was published (and is not any more). */
static int
pub_del(struct node *n, uint64_t id)
{
	int had;

	pthread_mutex_lock(&n->lock);
	had = kvmap_del(&n->published, &id, sizeof(id));
	pthread_mutex_unlock(&n->lock);
	return had;
}

static int
on_cluster_name(void *ctx, const char *name, uint64_t id)
{
	struct node *n = ctx;
	size_t len = strlen(name);
	uint64_t cur = 0;
	int local = store_name_get(n->s, name, len, &cur) == 0;

	n->applying = 1;
	if (id && store_has(n->s, id)) {
		if (!local || cur != id)
			store_name_put(n->s, NULL, name, len, id, NULL);
	} else if (local && cur != id) {
		/* dropped, or now an object elsewhere: resolve through the
		 * cluster from here on */
		store_name_drop(n->s, NULL, name, len, NULL);
	}
	n->applying = 0;
	return 0;
}

/* Store watcher: runs with the store lock held; only queues. */
static void
on_store(void *ctx, enum store_event ev, uint64_t id, const char *name)
{
	struct node *n = ctx;

	switch (ev) {
	case STORE_EV_DEL:
		if (pub_del(n, id))
			cluster_unpublish(n->c, id);
		break;
	case STORE_EV_NAME_SET:
		if (!n->applying && name)
			cluster_name_set(n->c, name, id);
		break;
	case STORE_EV_NAME_DROP:
		if (!n->applying && name)
			cluster_name_unset(n->c, name);
		break;
	case STORE_EV_PERM:
		/* its record says the old mode: written again once the
		 * chmod returns (node_republish; the record is read from
		 * the store, which is locked now) */
		pthread_mutex_lock(&n->lock);
		if (kvmap_get(&n->published, &id, sizeof(id)))
			kvmap_put(&n->reown, &id, sizeof(id), "", 0, 0);
		pthread_mutex_unlock(&n->lock);
		break;
	default:
		break;
	}
}

struct node *
node_new(struct store *s, struct cluster *c, uint32_t former)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->s = s;
	n->c = c;
	n->former = former;
	kvmap_init(&n->published);
	pthread_mutex_init(&n->lock, NULL);
	kvmap_init(&n->reown);
	kvmap_init(&n->warned);
	cluster_on_names(c, on_cluster_name, n);
	store_watch(s, on_store, n);
	return n;
}

void
node_free(struct node *n)
{
	if (!n)
		return;
	store_unwatch(n->s, on_store, n);
	kvmap_release(&n->published);
	kvmap_release(&n->reown);
	kvmap_release(&n->warned);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

struct cluster *
node_cluster(const struct node *n)
{
	return n->c;
}

struct store *
node_store(const struct node *n)
{
	return n->s;
}

/* ---- publishing ---- */

/* The record of one local object, or NULL if it is gone: its owner,
 * group and mode too, so other instances show and check them. */
static char *
record_of(struct node *n, uint64_t id)
{
	struct store_perm p;
	struct cw j;
	json_error_t jerr;
	json_t *m;
	char *s = NULL;

	cw_init(&j);
	if (store_meta_json(n->s, NULL, id, &j) == 0 && cw_finish(&j) == 0 &&
	    store_perm(n->s, id, &p) == 0 &&
	    (m = json_loadb((const char *)j.buf, j.len, 0, &jerr))) {
		json_object_del(m, "names");
		json_object_del(m, "persisted");
		json_object_set_new(m, "instance",
				    json_integer(cluster_instance(n->c)));
		record_set_owner(m, &p);
		s = json_dumps(m, JSON_COMPACT);
		json_decref(m);
	}
	cw_release(&j);
	return s;
}

struct idlist {
	uint64_t *ids;
	size_t n, cap;
};

static void
idlist_add(struct idlist *l, uint64_t id)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = xreallocarray(l->ids, l->cap, sizeof(*l->ids));
	}
	l->ids[l->n++] = id;
}

/* store_members runs this under the store lock: it only collects (a
 * publish reads the store, which would lock it again). */
static int
collect_member(void *ctx, const char *name, size_t len, uint64_t member)
{
	idlist_add(ctx, member);
	return 0;
}

void
node_publish(struct node *n, uint64_t id)
{
	struct idlist members = { 0 };
	uint32_t inst;
	char *rec;
	size_t i;

	if (pub_has(n, id))
		return;	/* objects never change: once is enough */
	if (!cluster_instance(n->c))
		return;	/* never joined: the first join publishes it */
	/* A copy of another instance's object stays theirs (fetch.h). A
	 * record under the id this data dir had before is ours: restarted
	 * while the old lease still held that id, the daemon joined under a
	 * new one, and its objects must not be left to the old id's fate. */
	if (cluster_object(n->c, id, NULL, &inst, NULL) == 0 &&
	    inst != cluster_instance(n->c) && (!n->former || inst != n->former))
		return;
	if (!(rec = record_of(n, id)))
		return;
	cluster_publish(n->c, id, rec, strlen(rec));
	free(rec);
	pub_add(n, id);
	/* Deleted since record_of read it: the watcher, which ran before
	 * pub_add, did not know to withdraw it. */
	if (!store_has(n->s, id)) {
		if (pub_del(n, id))
			cluster_unpublish(n->c, id);
		return;
	}
	store_members(n->s, id, collect_member, &members);
	for (i = 0; i < members.n; i++)
		node_publish(n, members.ids[i]);
	free(members.ids);
}

void
node_republish(struct node *n)
{
	struct kvmap ids;
	const struct kv_entry *e;
	size_t pos = 0;
	uint64_t id;
	char *rec;

	kvmap_init(&ids);
	pthread_mutex_lock(&n->lock);
	kvmap_move(&ids, &n->reown);
	pthread_mutex_unlock(&n->lock);
	cluster_publish_hold(n->c, 1);
	while ((e = kvmap_next(&ids, &pos))) {
		memcpy(&id, e->key, sizeof(id));
		/* withdrawn meanwhile (deleted, unpersisted): nothing */
		if (!pub_has(n, id) || !(rec = record_of(n, id)))
			continue;
		cluster_publish(n->c, id, rec, strlen(rec));
		free(rec);
	}
	cluster_publish_hold(n->c, 0);
	kvmap_release(&ids);
}

void
node_publish_many(struct node *n, const uint64_t *ids, size_t k)
{
	size_t i;

	cluster_publish_hold(n->c, 1);
	for (i = 0; i < k; i++)
		node_publish(n, ids[i]);
	cluster_publish_hold(n->c, 0);
}

void
node_unpublish(struct node *n, uint64_t id)
{
	if (pub_del(n, id))
		cluster_unpublish(n->c, id);
}

static int
collect_persisted(void *ctx, const struct store_info *info,
		  const char *const *names, size_t nnames)
{
	struct idlist *l = ctx;

	if (!(info->flags & OBJ_PERSISTED))
		return 0;
	idlist_add(l, info->id);
	return 0;
}

void
node_publish_persisted(struct node *n)
{
	struct idlist l = { 0 };
	int more = 0;

	/* collected first: list callbacks run under the store lock */
	store_list(n->s, NULL, 0, 0, collect_persisted, &l, &more);
	node_publish_many(n, l.ids, l.n);
	free(l.ids);
}

int
node_dispatch(struct node *n)
{
	struct store_status st;
	int changed = cluster_dispatch(n->c);

	store_status(n->s, &st);
	cluster_set_figures(n->c, st.objects, st.payload);
	return changed;
}

/* ---- names and objects elsewhere ---- */

int
node_name_get(struct node *n, const char *name, uint64_t *id)
{
	return cluster_name_get(n->c, name, id);
}

int
node_name_put(struct node *n, const char *name, uint64_t id)
{
	if (cluster_object(n->c, id, NULL, NULL, NULL) < 0)
		return -ENOENT;
	cluster_name_set(n->c, name, id);
	return 0;
}

int
node_name_drop(struct node *n, const char *name)
{
	uint64_t id;

	if (cluster_name_get(n->c, name, &id) < 0)
		return -ENOENT;
	cluster_name_unset(n->c, name);
	return 0;
}

/* The instance record's "host" and "rpc" for a message. */
struct where {
	uint32_t id;
	char host[128], rpc[128];
};

static int
where_cb(void *ctx, uint32_t id, const char *json, size_t len)
{
	struct where *w = ctx;
	json_error_t jerr;
	json_t *r;

	if (id != w->id)
		return 0;
	r = json_loadb(json, len, 0, &jerr);
	snprintf(w->host, sizeof(w->host), "%s",
		 json_string_value(json_object_get(r, "host")) ?
		 json_string_value(json_object_get(r, "host")) : "?");
	snprintf(w->rpc, sizeof(w->rpc), "%s",
		 json_string_value(json_object_get(r, "rpc")) ?
		 json_string_value(json_object_get(r, "rpc")) : "");
	json_decref(r);
	return 1;
}

int
node_names_writable(struct node *n, char *msg, size_t len)
{
	char err[600];
	enum cluster_state st = cluster_state(n->c, err, sizeof(err));

	if (st == CLUSTER_JOINED)
		return 0;
	snprintf(msg, len, "the cluster is unreachable (%s: %s): names are "
		 "cluster-wide and cannot be bound or dropped until etcd "
		 "answers; objects without names can still be put",
		 cluster_state_name(st), err);
	return -ENOTCONN;
}

int
node_remote_error(struct node *n, uint64_t id, char *msg, size_t len)
{
	struct where w = { 0 };
	int alive = 0;

	if (cluster_object(n->c, id, NULL, &w.id, &alive) < 0)
		return -ENOENT;
	if (!alive) {
		snprintf(msg, len, "object o%016" PRIx64 " lives on instance "
			 "%" PRIu32 ", which is gone: unavailable until it "
			 "comes back", id, w.id);
	} else {
		cluster_each_instance(n->c, where_cb, &w);
		snprintf(msg, len, "object o%016" PRIx64 " lives on instance "
			 "%" PRIu32 " (host %s%s%s): its metadata is here, its "
			 "bytes are not (a get fetches them unless told not "
			 "to; vineyardctl migrate copies it here)", id,
			 w.id, w.host, *w.rpc ? ", rpc " : "", w.rpc);
	}
	return -EREMOTE;
}

int
node_remote_may_read(struct node *n, struct store_owner *ow, uint64_t id,
		     const char *what)
{
	struct node_remote r;

	if (node_remote_info(n, id, &r) || !r.has_owner)
		return 0;
	return store_may_read_perm(n->s, ow, id, &r.owner, what);
}

int
node_locate(struct node *n, uint64_t id, char *rpc, size_t rpclen,
	    char *msg, size_t len)
{
	struct where w = { 0 };
	int alive = 0;

	if (cluster_object(n->c, id, NULL, &w.id, &alive) < 0)
		return -ENOENT;
	if (w.id == cluster_instance(n->c)) {
		/* published by this very instance, yet not here (deleted
		 * since, the record not withdrawn yet) */
		snprintf(msg, len, "object o%016" PRIx64 " was published by "
			 "this instance and is no longer here", id);
		return -ENOENT;
	}
	if (!alive || cluster_each_instance(n->c, where_cb, &w) == 0) {
		snprintf(msg, len, "object o%016" PRIx64 " lives on instance "
			 "%" PRIu32 ", which is gone: unavailable until it "
			 "comes back", id, w.id);
		return -EREMOTE;
	}
	if (!*w.rpc) {
		snprintf(msg, len, "object o%016" PRIx64 " lives on instance "
			 "%" PRIu32 " (host %s), which has no --rpc endpoint "
			 "to fetch it from", id, w.id, w.host);
		return -EHOSTUNREACH;
	}
	snprintf(rpc, rpclen, "%s", w.rpc);
	return 0;
}

const char *
node_state(struct node *n, uint32_t *instance)
{
	*instance = cluster_instance(n->c);
	return cluster_state_name(cluster_state(n->c, NULL, 0));
}

/* ---- replies ---- */

static int
not_joined(struct node *n, const char **why)
{
	static char msg[700];
	char err[600];
	enum cluster_state st = cluster_state(n->c, err, sizeof(err));

	if (st == CLUSTER_JOINED)
		return 0;
	snprintf(msg, sizeof(msg), "the cluster is unreachable (%s): %s",
		 cluster_state_name(st), err);
	*why = msg;
	return -ENOTCONN;
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static uint64_t
juint(json_t *o, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(o, k));

	return v > 0 ? (uint64_t)v : 0;
}

struct inst_ctx {
	struct cw *w;
	size_t n;
	int count_only;
};

static int
inst_one(void *ctx, uint32_t id, const char *json, size_t len)
{
	struct inst_ctx *x = ctx;
	json_error_t jerr;
	json_t *r;

	x->n++;
	if (x->count_only)
		return 0;
	r = json_loadb(json, len, 0, &jerr);
	/* [id, host, socket, rpc, pid, started, objects, bytes] */
	cw_array(x->w, 8);
	cw_uint(x->w, id);
	cw_str(x->w, jstr(r, "host"));
	cw_str(x->w, jstr(r, "socket"));
	cw_str(x->w, jstr(r, "rpc"));
	cw_uint(x->w, juint(r, "pid"));
	cw_uint(x->w, juint(r, "started"));
	cw_uint(x->w, juint(r, "objects"));
	cw_uint(x->w, juint(r, "bytes"));
	json_decref(r);
	return 0;
}

int
node_cluster_info(struct node *n, struct cw *w, const char **why)
{
	struct inst_ctx x = { w, 0, 1 };
	char err[600];
	enum cluster_state st = cluster_state(n->c, err, sizeof(err));

	/* [state, instance, prefix, message, [instance...]]: answered even
	 * when etcd is away (the state says so; the list is the last seen) */
	cluster_each_instance(n->c, inst_one, &x);
	cw_array(w, 5);
	cw_str(w, cluster_state_name(st));
	cw_uint(w, cluster_instance(n->c));
	cw_str(w, cluster_prefix(n->c));
	cw_str(w, st == CLUSTER_JOINED ? "" : err);
	cw_array(w, x.n);
	x.count_only = 0;
	x.n = 0;
	cluster_each_instance(n->c, inst_one, &x);
	(void)why;
	return 0;
}

/* The owner a record says (1), or none (0): a record of an older daemon,
 * or one whose owner keys are malformed, logged once per object. */
static int
remote_owner(struct node *n, uint64_t id, json_t *rec, struct store_perm *p)
{
	const char *why = NULL;
	int rc = record_owner(rec, p, &why), first;

	if (rc >= 0)
		return rc;
	pthread_mutex_lock(&n->lock);
	first = kvmap_get(&n->warned, &id, sizeof(id)) == NULL;
	if (first)
		kvmap_put(&n->warned, &id, sizeof(id), "", 0, 0);
	pthread_mutex_unlock(&n->lock);
	if (first)
		log_warnx("cluster: the record of object o%016" PRIx64 " has "
			  "a bad owner (%s): shown as the daemon user's, mode "
			  "0640, as a record without one", id, why);
	return 0;
}

/* name -> id of every cluster name, to list each object's names. */
struct names_ctx {
	struct kvmap by_id; /* 8 id bytes -> "a\0b\0" */
};

static int
name_collect(void *ctx, const char *name, uint64_t id)
{
	struct names_ctx *x = ctx;
	const struct kv_entry *e = kvmap_get(&x->by_id, &id, sizeof(id));
	size_t nl = strlen(name) + 1, ol = e ? e->vlen : 0;
	char *v = xmalloc(ol + nl);

	if (e)
		memcpy(v, e->val, ol);
	memcpy(v + ol, name, nl);
	kvmap_put(&x->by_id, &id, sizeof(id), v, ol + nl, 0);
	free(v);
	return 0;
}

struct list_ctx {
	struct node *node;
	struct cw *w;
	const char *glob;
	struct names_ctx *names;
	size_t n;
	int count_only;
};

static int
obj_one(void *ctx, uint64_t id, uint32_t instance, int alive,
	const char *json, size_t len)
{
	struct list_ctx *x = ctx;
	const struct kv_entry *e;
	json_error_t jerr;
	json_t *r = json_loadb(json, len, 0, &jerr);
	const char *tn = jstr(r, "typename"), *p;
	struct store_perm owner;
	size_t k, nn = 0;

	if (x->glob && fnmatch(x->glob, tn, 0)) {
		json_decref(r);
		return 0;
	}
	x->n++;
	if (x->count_only) {
		json_decref(r);
		return 0;
	}
	/* [id, typename, nbytes, instance, alive, [names...],
	 *  [uid, gid, mode] | null] */
	cw_array(x->w, 7);
	cw_uint(x->w, id);
	cw_str(x->w, tn);
	cw_uint(x->w, juint(r, "nbytes"));
	cw_uint(x->w, instance);
	cw_bool(x->w, alive);
	e = kvmap_get(&x->names->by_id, &id, sizeof(id));
	for (k = 0; e && k < e->vlen; k++)
		nn += e->val[k] == '\0';
	cw_array(x->w, nn);
	for (p = e ? (const char *)e->val : NULL; nn--; p += strlen(p) + 1)
		cw_str(x->w, p);
	if (json_is_object(r) && remote_owner(x->node, id, r, &owner)) {
		cw_array(x->w, 3);
		cw_uint(x->w, owner.uid);
		cw_uint(x->w, owner.gid);
		cw_uint(x->w, owner.mode);
	} else {
		cw_null(x->w);
	}
	json_decref(r);
	return 0;
}

int
node_cluster_list(struct node *n, const char *glob, struct cw *w,
		  const char **why)
{
	struct names_ctx names;
	struct list_ctx x = { n, w, glob, &names, 0, 1 };
	int rc;

	if ((rc = not_joined(n, why)) < 0)
		return rc;
	kvmap_init(&names.by_id);
	cluster_each_name(n->c, name_collect, &names);
	/* counted first: the array header comes before the entries (the
	 * cache may change between the passes; the count is re-checked) */
	cluster_each_object(n->c, obj_one, &x);
	{
		struct cw body;
		size_t want = x.n;

		cw_init(&body);
		x.w = &body;
		x.n = 0;
		x.count_only = 0;
		cluster_each_object(n->c, obj_one, &x);
		(void)want;
		cw_array(w, x.n);
		cw_raw(w, body.buf, body.len);
		cw_release(&body);
	}
	kvmap_release(&names.by_id);
	return 0;
}

int
node_remote_meta(struct node *n, uint64_t id, struct cw *json)
{
	char *rec = NULL, *s;
	uint32_t inst = 0;
	int alive = 0, rc;
	json_error_t jerr;
	json_t *m;

	if ((rc = cluster_object(n->c, id, &rec, &inst, &alive)) < 0)
		return rc;
	m = json_loads(rec, 0, &jerr);
	free(rec);
	if (!json_is_object(m)) {
		json_decref(m);
		return -EBADMSG;
	}
	json_object_set_new(m, "instance", json_integer(inst));
	json_object_set_new(m, "available", json_boolean(alive));
	if (json_is_true(json_object_get(m, "global")))
		global_annotate(n, m);
	s = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	if (!s)
		return -ENOMEM;
	cw_raw(json, s, strlen(s));
	cw_raw(json, "\n", 1);
	free(s);
	return 0;
}

int
node_remote_info(struct node *n, uint64_t id, struct node_remote *r)
{
	char *rec = NULL;
	json_error_t jerr;
	json_t *m;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = cluster_object(n->c, id, &rec, &r->instance, &r->alive)) < 0)
		return rc;
	m = json_loads(rec, 0, &jerr);
	free(rec);
	snprintf(r->typename, sizeof(r->typename), "%s", jstr(m, "typename"));
	r->nbytes = juint(m, "nbytes");
	r->has_owner = json_is_object(m) && remote_owner(n, id, m, &r->owner);
	json_decref(m);
	return 0;
}

static int
id_collect(void *ctx, uint64_t id, uint32_t instance, int alive,
	   const char *json, size_t len)
{
	idlist_add(ctx, id);
	return 0;
}

int
node_remote_ids(struct node *n, uint64_t **ids, size_t *count)
{
	struct idlist l = { 0 };
	size_t i, k = 0;

	/* collected first (the cache's lock), then filtered (the store's):
	 * never one lock inside the other */
	cluster_each_object(n->c, id_collect, &l);
	for (i = 0; i < l.n; i++)
		if (!store_has(n->s, l.ids[i]))
			l.ids[k++] = l.ids[i];
	*ids = l.ids;
	*count = k;
	return 0;
}

static int
inst_json(void *ctx, uint32_t id, const char *json, size_t len)
{
	json_t *arr = ctx;
	json_error_t jerr;
	json_t *r = json_loadb(json, len, 0, &jerr);

	if (json_is_object(r)) {
		json_object_set_new(r, "alive", json_true());
		json_array_append_new(arr, r);
	} else {
		json_decref(r);
	}
	return 0;
}

void
node_cluster_json(struct node *n, struct cw *out)
{
	char err[600], *s;
	enum cluster_state st = cluster_state(n->c, err, sizeof(err));
	json_t *o = json_object(), *arr = json_array();

	json_object_set_new(o, "state", json_string(cluster_state_name(st)));
	json_object_set_new(o, "instance",
			    json_integer(cluster_instance(n->c)));
	json_object_set_new(o, "prefix", json_string(cluster_prefix(n->c)));
	json_object_set_new(o, "message",
			    json_string(st == CLUSTER_JOINED ? "" : err));
	cluster_each_instance(n->c, inst_json, arr);
	json_object_set_new(o, "instances", arr);
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (s) {
		cw_raw(out, s, strlen(s));
		cw_raw(out, "\n", 1);
		free(s);
	}
}
