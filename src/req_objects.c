/*
 * req_objects: the object requests: put (a tree of blobs and members,
 * optionally named and persisted), get (the tree with its blobs' fds or
 * metadata only; may wait for a name or for blobs read back from disk),
 * delete, list, persist/unpersist, meta (meta.json text) and chmod. The
 * store checks the connection's credentials (its owner's) on each.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cborio.h"
#include "log.h"
#include "proto.h"
#include "cluster/cluster.h"
#include "cluster/global.h"
#include "cluster/fetch.h"
#include "cluster/node.h"
#include "server_int.h"
#include "store.h"
#include "stream.h"
#include "xmalloc.h"
#include "banned.h"

int
req_obj_put(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	char name[256];
	const void *tree;
	uint64_t *seal = NULL, id, tk;
	size_t n, treelen, namelen = 0, nseal = 0;
	unsigned mode;
	int persist, hasname, rc;

	if (cr_array(r, &n) || n != 5 || cr_bytes(r, &tree, &treelen))
		return BAD(c, MSG_OBJ_PUT, "obj-put");
	if ((rc = read_ids(r, &seal, &nseal)))
		return reply_batch_error(c, MSG_OBJ_PUT, rc, "obj-put");
	hasname = read_opt_str(r, name, sizeof(name), &namelen);
	if (hasname < 0 || cr_bool(r, &persist)) {
		free(seal);
		return reply_error(c, MSG_OBJ_PUT, -EINVAL, hasname < 0 ?
				   "invalid name: a name is 1-255 bytes "
				   "without NUL" : "malformed obj-put");
	}
	if ((rc = read_mode(r, &mode))) {
		free(seal);
		return reply_bad_mode(c, MSG_OBJ_PUT, rc);
	}
	if (hasname && sv->cfg.node) {
		char msg[800];

		if ((rc = node_names_writable(sv->cfg.node, msg, sizeof(msg)))) {
			free(seal);
			return reply_error(c, MSG_OBJ_PUT, rc, msg);
		}
	}
	rc = store_obj_put(sv->store, c->owner, tree, treelen, seal, nseal,
			   hasname ? name : NULL, namelen, persist, mode, &id,
			   &tk);
	free(seal);
	if (rc)
		return reply_store_error(c, MSG_OBJ_PUT, rc);
	if (hasname)
		sv->names_changed = 1;
	if (persist && sv->cfg.node)
		node_publish(sv->cfg.node, id);
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_uint(&sv->out, id);
	if (tk) {
		conn_park_ticket(c, tk, q, 0);
		/* A put with persist succeeds or fails whole. */
		c->tk_undo = persist ? id : 0;
		return 0;
	}
	return reply_send(c, MSG_OBJ_PUT, 0);
}

struct get_ctx {
	struct conn *c;
	uint64_t flags;     /* GET_F_* of the request */
	size_t nobjs, nblobs;
	/* GET_F_OWNERS: [uid, gid, mode] of each object, then of each blob */
	struct cw owo, owb;
	/* Undone if the get fails: the pins its blobs took, and the segment
	 * slots whose descriptors the reply would have carried. */
	uint64_t *pinned;
	uint32_t *sent;
	size_t npinned, nsent, pincap, sentcap;
};

static void
get_who(struct get_ctx *g, struct cw *w, const struct store_who *who)
{
	if (!(g->flags & GET_F_OWNERS))
		return;
	cw_array(w, 3);
	cw_uint(w, who->uid);
	cw_uint(w, who->gid);
	cw_uint(w, who->mode);
}

static int
get_obj(void *ctx, uint64_t id, const uint8_t *meta, size_t len,
	uint64_t nbytes, const struct store_who *who)
{
	struct get_ctx *g = ctx;
	struct cw *w = &g->c->sv->objs;

	get_who(g, &g->owo, who);
	cw_array(w, 3);
	cw_uint(w, id);
	cw_bytes(w, meta, len);
	cw_uint(w, nbytes);
	g->nobjs++;
	return 0;
}

static int
get_blob(void *ctx, const struct store_blobref *b)
{
	struct get_ctx *g = ctx;
	struct conn *c = g->c;
	struct server *sv = c->sv;
	struct cw *w = &sv->blobs;
	int64_t fdidx = -1;

	if (g->npinned == g->pincap) {
		g->pincap = g->pincap ? 2 * g->pincap : 64;
		g->pinned = xreallocarray(g->pinned, g->pincap,
					  sizeof(*g->pinned));
	}
	g->pinned[g->npinned++] = b->id;
	if (b->kind == BLOB_KIND_MEMFD) {
		/* A client that keeps its mappings needs no descriptor (and
		 * no new mmap) for a blob it holds already. */
		if (!(b->held && (g->flags & GET_F_MAPPED))) {
			fdidx = (int64_t)sv->nfds;
			reply_fd(sv, b->fd);
		}
	} else {
		if (b->seg >= c->nsegs) {
			size_t k = b->seg + 16;

			c->segs = xreallocarray(c->segs, k, sizeof(*c->segs));
			memset(c->segs + c->nsegs, 0,
			       (k - c->nsegs) * sizeof(*c->segs));
			c->nsegs = k;
		}
		/* Sent once per segment: again only when the slot holds a
		 * new one (the old went when its last blob did), and the
		 * client then replaces its mapping. */
		if (c->segs[b->seg] != b->seg_gen) {
			c->segs[b->seg] = b->seg_gen;
			if (g->nsent == g->sentcap) {
				g->sentcap = g->sentcap ? 2 * g->sentcap : 16;
				g->sent = xreallocarray(g->sent, g->sentcap,
							sizeof(*g->sent));
			}
			g->sent[g->nsent++] = b->seg;
			fdidx = (int64_t)sv->nfds;
			reply_fd(sv, b->seg_fd);
		}
	}
	get_who(g, &g->owb, &b->who);
	cw_array(w, 6);
	cw_uint(w, b->id);
	cw_uint(w, b->len);
	cw_uint(w, (uint64_t)b->kind);
	cw_int(w, fdidx);
	cw_uint(w, b->seg);
	cw_uint(w, b->off);
	g->nblobs++;
	return 0;
}

/* The metadata-only variant sends no descriptors. */
static int
get_blob_meta(void *ctx, const struct store_blobref *b)
{
	struct get_ctx *g = ctx;
	struct cw *w = &g->c->sv->blobs;

	get_who(g, &g->owb, &b->who);
	cw_array(w, 6);
	cw_uint(w, b->id);
	cw_uint(w, b->len);
	cw_uint(w, (uint64_t)b->kind);
	cw_int(w, -1);
	cw_uint(w, b->seg);
	cw_uint(w, b->off);
	g->nblobs++;
	return 0;
}

/* The reply of a get of id (also a stream's next chunk): the tree with
 * its blobs pinned for c and their descriptors. */
int
reply_tree(struct conn *c, uint16_t type, uint64_t id, unsigned flags)
{
	struct server *sv = c->sv;
	struct get_ctx g = { .c = c, .flags = flags };
	size_t i;
	int rc;

	cw_init(&g.owo);
	cw_init(&g.owb);
	reply_begin(sv);
	cw_reset(&sv->objs);
	cw_reset(&sv->blobs);
	rc = store_get(sv->store, c->owner, id, flags, get_obj,
		       (flags & GET_F_META) ? get_blob_meta : get_blob, &g);
	if (rc) {
		char msg[400];

		/* (the store's sentence first: the release clears it) */
		snprintf(msg, sizeof(msg), "%s", store_errmsg());
		/* published by another instance: say where, never a stale
		 * or partial answer */
		if (rc == -ENOENT && sv->cfg.node &&
		    node_remote_error(sv->cfg.node, id, msg, sizeof(msg)) ==
		    -EREMOTE)
			rc = -EREMOTE;
		if (g.npinned)
			store_release(sv->store, c->owner, g.pinned,
				      g.npinned);
		for (i = 0; i < g.nsent; i++)
			c->segs[g.sent[i]] = 0;
		free(g.pinned);
		free(g.sent);
		cw_release(&g.owo);
		cw_release(&g.owb);
		return reply_error(c, type, rc, msg);
	}
	free(g.pinned);
	free(g.sent);
	cw_array(&sv->out, (flags & GET_F_OWNERS) ? 4 : 3);
	cw_uint(&sv->out, id);
	cw_array(&sv->out, g.nobjs);
	cw_raw(&sv->out, sv->objs.buf, sv->objs.len);
	cw_array(&sv->out, g.nblobs);
	cw_raw(&sv->out, sv->blobs.buf, sv->blobs.len);
	if (flags & GET_F_OWNERS) {
		cw_array(&sv->out, g.nobjs + g.nblobs);
		cw_raw(&sv->out, g.owo.buf, g.owo.len);
		cw_raw(&sv->out, g.owb.buf, g.owb.len);
	}
	if (sv->objs.oom || sv->blobs.oom || g.owo.oom || g.owb.oom)
		fatalx("server: out of memory building a reply");
	cw_release(&g.owo);
	cw_release(&g.owb);
	return reply_send(c, type, 0);
}

int
req_get(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	char name[256];
	uint64_t id, wait_ms, flags, tk;
	size_t n, namelen = 0;
	int hasname, rc;

	if (cr_array(r, &n) || n != 4 || cr_uint(r, &id))
		return BAD(c, MSG_GET, "get");
	hasname = read_opt_str(r, name, sizeof(name), &namelen);
	if (hasname < 0 || cr_uint(r, &wait_ms) || cr_uint(r, &flags))
		return BAD(c, MSG_GET, "get");
	if (hasname) {
		rc = store_name_get(sv->store, name, namelen, &id);
		if (rc == -ENOENT && sv->cfg.node &&
		    node_name_get(sv->cfg.node, name, &id) == 0)
			rc = 0;
		if (rc == -ENOENT && wait_ms && !q->final) {
			conn_park_name(c, q, name, wait_ms);
			return 0;
		}
		if (rc == -ENOENT && wait_ms) {
			char msg[320];

			snprintf(msg, sizeof(msg), "name '%s' did not appear "
				 "within %" PRIu64 " ms", name, wait_ms);
			return reply_error(c, MSG_GET, -ETIMEDOUT, msg);
		}
		if (rc)
			return reply_store_error(c, MSG_GET, rc);
	}
	/* the cluster: an object another instance published is copied here
	 * first (one transfer for every client asking), then got as any.
	 * A TCP client's get without GET_F_META is one that wants the bytes
	 * (it copies them after): fetched too, then answered as a metadata
	 * get, since no descriptor crosses TCP. */
	if (!(flags & (GET_F_META | GET_F_NOFETCH)) && sv->cfg.fetch &&
	    !store_has(sv->store, id)) {
		char msg[480] = "";

		/* one the record says this client may not read is refused
		 * here, as its instance would, with no transfer */
		if (sv->cfg.node && (rc = node_remote_may_read(sv->cfg.node,
						c->owner, id, "read")))
			return reply_store_error(c, MSG_GET, rc);
		rc = fetch_start(sv->cfg.fetch, id, &tk, msg, sizeof(msg));
		if (rc == 0) {
			conn_park_ticket(c, tk, q, 1);
			return 0;
		}
		if (rc != -ENOENT)
			return reply_error(c, MSG_GET, rc, msg);
	}
	if (c->tcp)
		flags = (flags & ~(uint64_t)GET_F_MAPPED) | GET_F_META;
	if (!(flags & GET_F_META)) {
		/* persistence: blobs restored lazily are read back on the
		 * store's loader thread first, never here. */
		if ((rc = store_prefetch(sv->store, c->owner, id, 0, &tk)))
			return reply_store_error(c, MSG_GET, rc);
		if (tk) {
			conn_park_ticket(c, tk, q, 1);
			return 0;
		}
	}
	return reply_tree(c, MSG_GET, id, (unsigned)flags);
}

int
req_delete(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	uint64_t *ids, flags, tk;
	size_t n, count;
	int rc;

	if (cr_array(r, &n) || n != 2)
		return BAD(c, MSG_DELETE, "delete");
	if ((rc = read_ids(r, &ids, &n)))
		return reply_batch_error(c, MSG_DELETE, rc, "delete");
	if (cr_uint(r, &flags)) {
		free(ids);
		return BAD(c, MSG_DELETE, "delete");
	}
	rc = store_delete(sv->store, c->owner, ids, n, (unsigned)flags,
			  &count, &tk);
	/* a global object (metadata only) is withdrawn from the cluster */
	if (rc == -ENOENT && n == 1 && sv->cfg.node &&
	    global_is(sv->cfg.node, ids[0])) {
		cluster_unpublish(node_cluster(sv->cfg.node), ids[0]);
		rc = 0;
		count = 1;
		tk = 0;
	}
	free(ids);
	if (rc)
		return reply_store_error(c, MSG_DELETE, rc);
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_uint(&sv->out, count);
	if (tk) {
		conn_park_ticket(c, tk, q, 0);
		return 0;
	}
	return reply_send(c, MSG_DELETE, 0);
}

static int
list_one(void *ctx, const struct store_info *info, const char *const *names,
	 size_t nnames)
{
	struct list_ctx *l = ctx;
	uint64_t flags = 0;
	size_t i;

	if (info->flags & 0x01u)
		flags |= LIST_F_BLOB;
	if (info->flags & 0x08u)
		flags |= LIST_F_PERSISTED;
	if (info->flags & 0x20u) /* OBJ_LAZY: on disk only */
		flags |= LIST_F_SPILLED;
	if (info->stream == STREAM_OPEN)
		flags |= LIST_F_STREAM;
	else if (info->stream == STREAM_FINISHED)
		flags |= LIST_F_STREAM | LIST_F_STREAM_END;
	else if (info->stream == STREAM_FAILED)
		flags |= LIST_F_STREAM | LIST_F_STREAM_FAILED;
	cw_array(l->w, 8);
	cw_uint(l->w, info->id);
	cw_str(l->w, info->typename);
	cw_uint(l->w, info->nbytes);
	cw_uint(l->w, flags);
	cw_array(l->w, nnames);
	for (i = 0; i < nnames; i++)
		cw_str(l->w, names[i]);
	cw_uint(l->w, info->perm.uid);
	cw_uint(l->w, info->perm.gid);
	cw_uint(l->w, info->perm.mode);
	l->n++;
	return 0;
}

int
req_list(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	struct list_ctx l = { &sv->objs, 0 };
	char glob[256];
	uint64_t after, limit;
	size_t n, gl;
	int hasglob, more = 0;

	if (cr_array(r, &n) || n != 3)
		return BAD(c, MSG_LIST, "list");
	hasglob = read_opt_str(r, glob, sizeof(glob), &gl);
	if (hasglob < 0 || cr_uint(r, &after) || cr_uint(r, &limit))
		return BAD(c, MSG_LIST, "list");
	if (limit == 0 || limit > 100000)
		limit = 100000; /* keeps one reply far below PROTO_MAX_BODY */
	cw_reset(&sv->objs);
	store_list(sv->store, hasglob ? glob : NULL, after, (size_t)limit,
		   list_one, &l, &more);
	reply_begin(sv);
	cw_array(&sv->out, 2);
	cw_array(&sv->out, l.n);
	cw_raw(&sv->out, sv->objs.buf, sv->objs.len);
	cw_bool(&sv->out, more);
	return reply_send(c, MSG_LIST, 0);
}

/* persist and unpersist: the reply waits until the change is durable. A
 * persist may name many ids ([id...], at most PROTO_MAX_BATCH): they are
 * written as one group, all or none. */
int
req_persist(struct conn *c, struct req *q)
{
	struct cr *r = &q->r;
	struct node *node = c->sv->cfg.node;
	uint16_t type = q->type;
	uint64_t id, tk, *ids;
	size_t n, i, k = 0;
	int rc;

	if (cr_array(r, &n) || n < 1 || n > PROTO_MAX_BATCH ||
	    (type == MSG_UNPERSIST && n != 1))
		return BAD(c, type, "persist");
	if (type == MSG_UNPERSIST) {
		if (cr_uint(r, &id))
			return BAD(c, type, "persist");
		/* Bytes still on disk only must come into memory before
		 * their file goes; that happens on the loader thread. */
		if ((rc = store_prefetch(c->sv->store, c->owner, id,
					 PREFETCH_F_UNPERSIST, &tk)))
			return reply_store_error(c, type, rc);
		if (tk) {
			conn_park_ticket(c, tk, q, 1);
			return 0;
		}
		rc = store_unpersist(c->sv->store, c->owner, id, &tk);
		if (rc == 0 && node)
			node_unpublish(node, id);
	} else {
		ids = xreallocarray(NULL, n, sizeof(*ids));
		for (i = 0; i < n; i++) {
			if (cr_uint(r, &id)) {
				free(ids);
				return BAD(c, type, "persist");
			}
			/* a global object is published from its creation
			 * on: nothing to persist here */
			if (node && !store_has(c->sv->store, id) &&
			    global_is(node, id))
				continue;
			ids[k++] = id;
		}
		rc = k ? store_persist(c->sv->store, c->owner, ids, k, &tk) : 0;
		if (!k)
			tk = 0;
		/* in a cluster, persisting publishes the metadata tree */
		if (rc == 0 && node)
			node_publish_many(node, ids, k);
		free(ids);
	}
	if (rc)
		return reply_store_error(c, type, rc);
	reply_begin(c->sv);
	cw_array(&c->sv->out, 0);
	return reply_durable(c, q, tk);
}

int
req_meta(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	uint64_t id;
	size_t n;
	int rc;

	if (cr_array(r, &n) || n != 1 || cr_uint(r, &id))
		return BAD(c, MSG_META, "meta");
	cw_reset(&sv->objs);
	rc = store_meta_json(sv->store, c->owner, id, &sv->objs);
	/* published by another instance: its record, from the cache */
	if (rc == -ENOENT && sv->cfg.node &&
	    node_remote_meta(sv->cfg.node, id, &sv->objs) == 0)
		rc = 0;
	if (rc)
		return reply_store_error(c, MSG_META, rc);
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_strn(&sv->out, (const char *)sv->objs.buf, sv->objs.len);
	return reply_send(c, MSG_META, 0);
}

/* chmod: the reply waits until persisted objects' files say the new mode. */
int
req_chmod(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	uint64_t *ids, clear, set, flags, tk = 0;
	size_t n, count;
	int rc;

	if (cr_array(r, &n) || n != 4 || read_ids(r, &ids, &n))
		return BAD(c, MSG_CHMOD, "chmod");
	if (cr_uint(r, &clear) || cr_uint(r, &set) || cr_uint(r, &flags) ||
	    clear > UINT16_MAX || set > UINT16_MAX) {
		free(ids);
		return BAD(c, MSG_CHMOD, "chmod");
	}
	rc = store_chmod(sv->store, c->owner, ids, n, (unsigned)clear,
			 (unsigned)set, (unsigned)flags, &count, &tk);
	free(ids);
	/* the records of published objects say the new mode from now on */
	if (sv->cfg.node)
		node_republish(sv->cfg.node);
	if (rc)
		return reply_store_error(c, MSG_CHMOD, rc);
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_uint(&sv->out, count);
	return reply_durable(c, q, tk);
}
