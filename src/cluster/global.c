/*
 * global: creating global objects and describing where their members
 * live (global.h). The record is the object's meta.json as vineyardctl
 * meta shows it, less the local-only "names" and "persisted", plus
 * "instance" (the creator) and "global": true, like any published record,
 * so listing and name lookups treat it as one more published object.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cborio.h"
#include "cluster/cluster.h"
#include "cluster/global.h"
#include "cluster/node.h"
#include "meta.h"
#include "object.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

/* The nbytes of a published record (0 when it has none). */
static uint64_t
record_nbytes(const char *json)
{
	json_error_t jerr;
	json_t *r = json_loads(json, 0, &jerr);
	json_int_t v = json_integer_value(json_object_get(r, "nbytes"));

	json_decref(r);
	return v > 0 ? (uint64_t)v : 0;
}

/* Checks one member and adds its size: persisted here (and published),
 * or published by some instance. */
static int
check_member(struct node *n, const struct meta_member *m, uint64_t *nbytes,
	     char *msg, size_t msglen)
{
	struct store_info info;
	char ids[META_ID_LEN], *rec = NULL;

	meta_id_format(m->id, ids);
	if (store_info(node_store(n), m->id, &info) == 0) {
		if (!(info.flags & OBJ_PERSISTED)) {
			snprintf(msg, msglen, "member %.*s (%s) is not "
				 "persisted: persist the members of a global "
				 "object first, so the cluster knows them",
				 (int)(m->namelen > 64 ? 64 : m->namelen),
				 m->name, ids);
			return -EINVAL;
		}
		node_publish(n, m->id);
		*nbytes += info.nbytes;
		return 0;
	}
	if (cluster_object(node_cluster(n), m->id, &rec, NULL, NULL) == 0) {
		*nbytes += record_nbytes(rec);
		free(rec);
		return 0;
	}
	snprintf(msg, msglen, "member %.*s: no instance of the cluster has "
		 "published %s (persist it where it lives)",
		 (int)(m->namelen > 64 ? 64 : m->namelen), m->name, ids);
	return -ENOENT;
}

/* The record of the global object id made of tree node 0. */
static char *
record_of(struct node *n, const struct meta_tree *t, uint64_t id,
	  uint64_t nbytes)
{
	struct meta_json mj;
	struct meta_view v;
	struct cw doc, out;
	json_error_t jerr;
	json_t *m;
	char *typename, *s = NULL;

	cw_init(&doc);
	cw_init(&out);
	meta_node_encode(t, 0, &id, &doc);
	typename = xmalloc(t->nodes[0].typelen + 1);
	memcpy(typename, t->nodes[0].typename, t->nodes[0].typelen);
	typename[t->nodes[0].typelen] = '\0';
	if (cw_finish(&doc) == 0 && meta_view_parse(doc.buf, doc.len, &v) == 0) {
		memset(&mj, 0, sizeof(mj));
		mj.id = id;
		mj.typename = typename;
		mj.nbytes = nbytes;
		mj.view = &v;
		meta_json(&out, &mj);
		if (cw_finish(&out) == 0 &&
		    (m = json_loadb((const char *)out.buf, out.len, 0, &jerr))) {
			json_object_del(m, "names");
			json_object_del(m, "persisted");
			json_object_set_new(m, "global", json_true());
			json_object_set_new(m, "instance", json_integer(
				cluster_instance(node_cluster(n))));
			s = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
			json_decref(m);
		}
	}
	free(typename);
	cw_release(&doc);
	cw_release(&out);
	return s;
}

int
global_put(struct node *n, const void *tree, size_t len, uint64_t *id,
	   char *msg, size_t msglen)
{
	struct cluster *c = node_cluster(n);
	struct meta_tree t;
	char err[600], *rec;
	uint64_t nbytes = 0;
	size_t i;
	int rc;

	if (cluster_state(c, err, sizeof(err)) != CLUSTER_JOINED) {
		snprintf(msg, msglen, "the cluster is unreachable (%s): a global "
			 "object cannot be published now", err);
		return -ENOTCONN;
	}
	if ((rc = meta_tree_parse(tree, len, &t))) {
		snprintf(msg, msglen, "bad metadata: %s", t.err);
		return rc;
	}
	if (t.nnodes != 1) {
		meta_tree_release(&t);
		snprintf(msg, msglen, "the members of a global object are "
			 "objects already stored (ids), not new ones");
		return -EINVAL;
	}
	for (i = 0; i < t.nmembers; i++) {
		if ((rc = check_member(n, &t.members[i], &nbytes, msg,
				       msglen))) {
			meta_tree_release(&t);
			return rc;
		}
	}
	*id = store_new_id(node_store(n));
	rec = record_of(n, &t, *id, nbytes);
	meta_tree_release(&t);
	if (!rec) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	cluster_publish(c, *id, rec, strlen(rec));
	free(rec);
	return 0;
}

int
global_is(struct node *n, uint64_t id)
{
	char *rec = NULL;
	json_error_t jerr;
	json_t *r;
	int is;

	if (cluster_object(node_cluster(n), id, &rec, NULL, NULL) < 0)
		return 0;
	r = json_loads(rec, 0, &jerr);
	free(rec);
	is = json_is_true(json_object_get(r, "global"));
	json_decref(r);
	return is;
}

void
global_annotate(struct node *n, json_t *rec)
{
	struct cluster *c = node_cluster(n);
	json_t *members = json_object_get(rec, "members"), *out, *v;
	uint32_t here = cluster_instance(c), inst = 0;
	const char *name;
	uint64_t id;
	int alive = 0;

	if (!json_is_object(members))
		return;
	out = json_object();
	json_object_foreach(members, name, v) {
		json_t *e = json_object();
		const char *ids = json_string_value(v);

		json_object_set(e, "id", v);
		if (!ids || meta_id_parse(ids, &id)) {
			json_object_set_new(out, name, e);
			continue;
		}
		if (store_has(node_store(n), id)) {
			json_object_set_new(e, "instance", json_integer(here));
			json_object_set_new(e, "local", json_true());
			json_object_set_new(e, "available", json_true());
		} else if (cluster_object(c, id, NULL, &inst, &alive) == 0) {
			json_object_set_new(e, "instance", json_integer(inst));
			json_object_set_new(e, "local", json_false());
			json_object_set_new(e, "available",
					    json_boolean(alive));
		} else {
			json_object_set_new(e, "instance", json_null());
			json_object_set_new(e, "local", json_false());
			json_object_set_new(e, "available", json_false());
		}
		json_object_set_new(out, name, e);
	}
	json_object_set_new(rec, "member_instances", out);
}
