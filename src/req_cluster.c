/*
 * req_cluster: the cluster requests (MSG_CLUSTER, MSG_CLUSTER_LIST), answered
 * from the cluster's local cache through the node (src/cluster/node.h):
 * never a wait on etcd; and MSG_GLOBAL_PUT, which creates a global object
 * (src/cluster/global.h). A daemon without --etcd says so.
 */
#include <errno.h>
#include <string.h>

#include "cluster/global.h"
#include "cluster/node.h"
#include "server_int.h"
#include "banned.h"

static int
no_cluster(struct conn *c, uint16_t type)
{
	return reply_error(c, type, -EOPNOTSUPP, "this daemon is not in a "
			   "cluster (start it with vineyardd --etcd URL)");
}

int
req_cluster(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	const char *why = NULL;
	size_t n;
	int rc;

	if (cr_array(&q->r, &n) || n != 0)
		return BAD(c, q->type, "cluster");
	if (!sv->cfg.node)
		return no_cluster(c, q->type);
	reply_begin(sv);
	rc = node_cluster_info(sv->cfg.node, &sv->out, &why);
	if (rc)
		return reply_error(c, q->type, rc, why);
	return reply_send(c, q->type, 0);
}

int
req_cluster_list(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	const char *why = NULL;
	char glob[256];
	size_t n, gl;
	int has, rc;

	if (cr_array(&q->r, &n) || n != 1 ||
	    (has = read_opt_str(&q->r, glob, sizeof(glob), &gl)) < 0)
		return BAD(c, q->type, "cluster-list");
	if (!sv->cfg.node)
		return no_cluster(c, q->type);
	reply_begin(sv);
	rc = node_cluster_list(sv->cfg.node, has ? glob : NULL, &sv->out, &why);
	if (rc)
		return reply_error(c, q->type, rc, why);
	return reply_send(c, q->type, 0);
}

int
req_global_put(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	const void *tree;
	char msg[700];
	uint64_t id;
	size_t n, len;
	int rc;

	if (cr_array(&q->r, &n) || n != 1 || cr_bytes(&q->r, &tree, &len))
		return BAD(c, q->type, "global-put");
	if (!sv->cfg.node)
		return no_cluster(c, q->type);
	if ((rc = global_put(sv->cfg.node, tree, len, &id, msg, sizeof(msg))))
		return reply_error(c, q->type, rc, msg);
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_uint(&sv->out, id);
	return reply_send(c, q->type, 0);
}
