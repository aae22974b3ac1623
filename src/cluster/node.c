/*
 * node: publishing and name mirroring (the replies: node_reply.c). A published
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
#include "cluster/node_int.h"
#include "cluster/record.h"
#include "log.h"
#include "object.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"


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

void
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
