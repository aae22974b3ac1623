/*
 * node_reply: the cluster's replies, rendered from the node's view of
 * etcd (cluster.h's cache): `vineyardctl cluster` and the mount's
 * cluster.json, `ls --cluster`, and the meta, info and owner of objects
 * published by other instances. Publishing and names are node.c's.
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
