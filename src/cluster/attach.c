/* attach: the cluster's start and stop for vineyardd (see attach.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cluster/attach.h"
#include "cluster/cluster.h"
#include "cluster/fetch.h"
#include "cluster/node.h"
#include "cborio.h"
#include "fs.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

#define ID_FILE "cluster-instance"

struct attach {
	struct store *s;
	struct loop *l;
	struct cluster *c;
	struct node *n;
	struct loop_watch *w;
	char *id_path;		/* NULL: no data directory */
	uint32_t iid;		/* the instance id the store uses */
	void (*changed)(void *ctx);
	void *changed_ctx;
	struct fetch *fetch;	/* atomic: the mount's threads read it */
};

/* The id this data directory had in its cluster (0: none yet). Kept so a
 * restarted daemon is the same instance: its persisted objects' ids and
 * records name it. */
static uint32_t
read_id(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned long v;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtoul(buf, NULL, 10);
	return v <= CLUSTER_MAX_INSTANCE ? (uint32_t)v : 0;
}

static void
write_id(const char *path, uint32_t id)
{
	char tmp[PATH_MAX], buf[32];
	int fd, n = snprintf(buf, sizeof(buf), "%" PRIu32 "\n", id);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, (size_t)n) != n || fsync(fd) < 0 ||
	    rename(tmp, path) < 0)
		log_warn("cluster: cannot keep the instance id in %s", path);
	if (fd >= 0)
		close(fd);
}

static void
on_cluster(void *ctx, uint32_t events)
{
	struct attach *a = ctx;
	uint32_t iid;

	if (node_dispatch(a->n) && a->changed)
		a->changed(a->changed_ctx);
	iid = cluster_instance(a->c);
	if (iid && iid != a->iid &&
	    cluster_state(a->c, NULL, 0) == CLUSTER_JOINED) {
		/* first join (or a new id): new ids carry it from now on,
		 * and what is persisted is published under it */
		a->iid = iid;
		store_set_instance(a->s, iid);
		if (a->id_path)
			write_id(a->id_path, iid);
		node_publish_persisted(a->n);
	}
}

struct attach *
attach_start(struct store *s, struct loop *l, const struct attach_cfg *cfg,
	     char *err, size_t errlen)
{
	struct cluster_cfg cc;
	struct attach *a = xcalloc(1, sizeof(*a));
	char host[256] = "", sock[PATH_MAX];
	const char *why = NULL;

	a->s = s;
	a->l = l;
	if (cfg->data_dir) {
		size_t n = strlen(cfg->data_dir) + sizeof("/" ID_FILE);

		a->id_path = xmalloc(n);
		snprintf(a->id_path, n, "%s/%s", cfg->data_dir, ID_FILE);
	}
	gethostname(host, sizeof(host) - 1);
	if (!realpath(cfg->socket, sock))
		snprintf(sock, sizeof(sock), "%s", cfg->socket);
	memset(&cc, 0, sizeof(cc));
	cc.endpoints = cfg->etcd;
	cc.prefix = cfg->prefix;
	cc.ttl_s = cfg->ttl_s;
	cc.host = host;
	cc.socket = sock;
	cc.rpc = cfg->rpc ? cfg->rpc : "";
	cc.want_id = a->id_path ? read_id(a->id_path) : 0;
	if (!(a->c = cluster_new(&cc, &why))) {
		snprintf(err, errlen, "--etcd %s: %s", cfg->etcd, why);
		free(a->id_path);
		free(a);
		return NULL;
	}
	a->n = node_new(s, a->c, cc.want_id);
	/* ids are unique cluster-wide once they carry the instance id; the
	 * one this directory had is taken back at once */
	if (cc.want_id) {
		a->iid = cc.want_id;
		store_set_instance(s, cc.want_id);
	}
	if (!(a->w = loop_add(l, cluster_fd(a->c), EPOLLIN, on_cluster, a)) ||
	    cluster_start(a->c) < 0)
		fatal("cluster: cannot start");
	log_info("cluster: following etcd %s, prefix %s%s", cfg->etcd,
		 cluster_prefix(a->c),
		 cc.want_id ? " (taking back our instance id)" : "");
	return a;
}

struct node *
attach_node(struct attach *a)
{
	return a ? a->n : NULL;
}

void
attach_on_change(struct attach *a, void (*fn)(void *ctx), void *ctx)
{
	if (!a)
		return;
	a->changed = fn;
	a->changed_ctx = ctx;
}

void
attach_set_fetch(struct attach *a, struct fetch *f)
{
	if (a)
		__atomic_store_n(&a->fetch, f, __ATOMIC_RELEASE);
}

void
attach_stop(struct attach *a)
{
	if (!a)
		return;
	loop_del(a->l, a->w);
	node_free(a->n);	/* first: it watches the store */
	cluster_free(a->c);
	free(a->id_path);
	free(a);
}

/* ---- the mount's view (fs.h) ---- */

static struct node *
fs_node(void *ctx)
{
	struct attach *a = __atomic_load_n((struct attach **)ctx,
					   __ATOMIC_ACQUIRE);

	return a ? a->n : NULL;
}

static int
fs_json(void *ctx, struct cw *out)
{
	struct node *n = fs_node(ctx);

	if (!n)
		return -EAGAIN;
	node_cluster_json(n, out);
	return 0;
}

static int
fs_info(void *ctx, uint64_t id, struct fs_remote *r)
{
	struct node *n = fs_node(ctx);
	struct node_remote nr;
	int rc;

	if (!n)
		return -ENOENT;
	if ((rc = node_remote_info(n, id, &nr)))
		return rc;
	memset(r, 0, sizeof(*r));
	snprintf(r->typename, sizeof(r->typename), "%s", nr.typename);
	r->nbytes = nr.nbytes;
	r->instance = nr.instance;
	r->alive = nr.alive;
	r->has_owner = nr.has_owner;
	r->uid = nr.owner.uid;
	r->gid = nr.owner.gid;
	r->mode = nr.owner.mode;
	return 0;
}

static int
fs_meta(void *ctx, uint64_t id, struct cw *out)
{
	struct node *n = fs_node(ctx);

	return n ? node_remote_meta(n, id, out) : -ENOENT;
}

static int
fs_ids(void *ctx, uint64_t **ids, size_t *count)
{
	struct node *n = fs_node(ctx);

	if (!n) {
		*ids = NULL;
		*count = 0;
		return 0;
	}
	return node_remote_ids(n, ids, count);
}

static int
fs_fetch(void *ctx, uint64_t id, const int *stop, char *msg, size_t len)
{
	struct attach *a = __atomic_load_n((struct attach **)ctx,
					   __ATOMIC_ACQUIRE);
	struct fetch *f = a ? __atomic_load_n(&a->fetch, __ATOMIC_ACQUIRE) :
			  NULL;
	int rc;

	if (!f) {
		snprintf(msg, len, "the daemon is starting");
		return -EAGAIN;
	}
	rc = fetch_wait(f, id, stop, msg, len);
	/* nothing to fetch from: the bytes are elsewhere, as before */
	if (rc == -EHOSTUNREACH)
		rc = -EREMOTE;
	return rc;
}

static int
fs_name(void *ctx, const char *name, uint64_t *id)
{
	struct node *n = fs_node(ctx);

	return n ? node_name_get(n, name, id) : -ENOENT;
}

const struct fs_cluster attach_fs_ops = {
	.json = fs_json, .info = fs_info, .meta = fs_meta, .ids = fs_ids,
	.fetch = fs_fetch, .name = fs_name,
};
