/*
 * server: request decoding and reply encoding. Replies are built in scratch
 * buffers owned by the server and sent at once when the socket has room;
 * only what the kernel does not take is copied into the connection's output
 * queue, with its descriptors dup'ed (the store may close its own before the
 * queue drains). While a connection has queued output or a parked name wait,
 * its further requests stay buffered, which keeps replies in order.
 *
 * Disk work (persistence) parks a connection on a store ticket: a reply
 * that must wait until something is durable is built and held, a get that
 * needs blobs read back from disk is re-run, when the ticket completes
 * (the store's eventfd wakes the loop).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cborio.h"
#include "fdpass.h"
#include "log.h"
#include "loop.h"
#include "meta.h"
#include "proto.h"
#include "server.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

#define VERSION_STRING "0.1.0"
#define IN_INITIAL (16u << 10)

struct chunk {
	struct chunk *next;
	uint8_t *buf;
	size_t len, off;
	int *fds; /* dup'ed; closed once sent */
	int nfds;
};

struct conn {
	struct server *sv;
	int fd;
	struct loop_watch *watch;
	struct store_owner *owner;
	char label[48];
	uint8_t *in;       /* received bytes not yet handled */
	size_t inlen, incap;
	struct chunk *out, *out_tail;
	uint8_t *segs;     /* segs[i]: segment i's fd was sent */
	size_t nsegs;
	/* A parked request waiting for a name (NAME_GET or GET). */
	int waiting;
	uint16_t wait_type;
	uint8_t *wait_body;
	size_t wait_len;
	uint64_t wait_deadline; /* loop_now_ms() */
	uint32_t events;        /* what the loop watches for */
	char wait_name[256];
	/* persistence: parked on a store ticket (disk work) */
	uint64_t ticket;        /* 0 = not parked */
	uint16_t tk_type;       /* the request's type */
	uint8_t *tk_held;       /* reply to send when done, or NULL: re-run */
	size_t tk_len;          /* bytes of tk_held or tk_body */
	uint8_t *tk_body;       /* the request to re-run */
	uint64_t tk_undo;       /* put with persist: deleted if it fails */
	struct conn *prev, *next;
};

struct server {
	struct store *store;
	struct loop *loop;
	struct server_cfg cfg;
	char *socket_path;
	int lfd;
	struct loop_watch *lwatch;
	struct conn conns;      /* list head */
	size_t nconns;
	size_t nwaiting;
	int names_changed;      /* set by the store watcher */
	struct loop_watch *dwatch; /* the store's done eventfd */
	time_t started;
	/* scratch for replies */
	struct cw out, objs, blobs;
	int *fds;
	size_t nfds, fdcap;
};

/* ---- listening ---- */

int
server_listen(const char *path, mode_t mode, int *fdp, int *lockfdp,
	      char *err, size_t errlen)
{
	struct sockaddr_un sa;
	char lockpath[sizeof(sa.sun_path) + 8];
	int fd = -1, lfd = -1, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path %s is longer than %zu "
			 "bytes; pick a shorter one with --socket PATH", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	/* The lock serialises daemons on one path; the socket alone cannot
	 * tell a stale file from one a starting daemon is about to use. */
	snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
	lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lfd < 0)
		goto syserr;
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(lfd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		snprintf(err, errlen, "another vineyardd%s%s%s is already "
			 "serving %s; stop it first or pick another path with "
			 "--socket PATH", pid[0] ? " (pid " : "", pid,
			 pid[0] ? ")" : "", path);
		close(lfd);
		return -EADDRINUSE;
	}
	if (ftruncate(lfd, 0) == 0) {
		char pid[32];
		int k = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

		if (pwrite(lfd, pid, (size_t)k, 0) < 0) {
			/* only informative */
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto syserr;
	/* We hold the lock, so whatever socket file is there is stale. */
	if (unlink(path) < 0 && errno != ENOENT)
		goto syserr;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto syserr;
	if (chmod(path, mode) < 0 || listen(fd, 512) < 0)
		goto syserr;
	*fdp = fd;
	*lockfdp = lfd;
	return 0;
syserr:
	e = errno;
	snprintf(err, errlen, "cannot create socket %s: %s; run as a user "
		 "who may write there, or pick another path with --socket "
		 "PATH (for example --socket /tmp/vineyard.sock) and point "
		 "clients at it with VINEYARD_IPC_SOCKET", path, strerror(e));
	if (fd >= 0)
		close(fd);
	if (lfd >= 0)
		close(lfd);
	return -e;
}

/* ---- output ---- */

static void conn_close(struct conn *c);

static int *
dup_fds(const int *fds, int n)
{
	int *v = xcalloc((size_t)n, sizeof(int));
	int i;

	for (i = 0; i < n; i++) {
		v[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (v[i] < 0)
			fatal("server: dup");
	}
	return v;
}

static void
queue_chunk(struct conn *c, const uint8_t *buf, size_t len, const int *fds,
	    int nfds)
{
	struct chunk *k = xcalloc(1, sizeof(*k));

	k->buf = xmemdup(buf, len);
	k->len = len;
	if (nfds) {
		k->fds = dup_fds(fds, nfds);
		k->nfds = nfds;
	}
	if (c->out_tail)
		c->out_tail->next = k;
	else
		c->out = k;
	c->out_tail = k;
}

static void
free_chunk(struct chunk *k)
{
	int i;

	for (i = 0; i < k->nfds; i++)
		close(k->fds[i]);
	free(k->fds);
	free(k->buf);
	free(k);
}

/* Sends queued chunks; 0 when drained or blocked, -1 if the peer is gone. */
static int
flush_out(struct conn *c)
{
	while (c->out) {
		struct chunk *k = c->out;
		struct iovec iov = { k->buf + k->off, k->len - k->off };
		ssize_t n = fdpass_sendv(c->fd, &iov, 1, k->fds,
					 k->off ? 0 : k->nfds);

		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		if (k->nfds && k->off == 0) {
			int i;

			for (i = 0; i < k->nfds; i++)
				close(k->fds[i]);
			k->nfds = 0;
		}
		k->off += (size_t)n;
		if (k->off == k->len) {
			c->out = k->next;
			if (!c->out)
				c->out_tail = NULL;
			free_chunk(k);
		}
	}
	return 0;
}

/* Stops reading while a reply is queued or a wait is parked, so a client
 * cannot make the daemon buffer without bound; EPOLLRDHUP still reports a
 * peer that goes away meanwhile. */
static void
update_events(struct conn *c)
{
	uint32_t ev = EPOLLRDHUP;

	if (!c->waiting && !c->ticket && !c->out)
		ev |= EPOLLIN;
	if (c->out)
		ev |= EPOLLOUT;
	if (ev != c->events && loop_mod(c->sv->loop, c->watch, ev) == 0)
		c->events = ev;
}

/* Sends buf with fds (any number: the ones past FDPASS_MAX on carriers),
 * queueing what the socket does not take now. */
static int
conn_send(struct conn *c, const uint8_t *buf, size_t len, const int *fds,
	  int nfds)
{
	static const uint8_t zero = 0;
	int first = nfds < FDPASS_MAX ? nfds : FDPASS_MAX, done;

	if (!c->out) {
		struct iovec iov = { (void *)(uintptr_t)buf, len };
		ssize_t n = fdpass_sendv(c->fd, &iov, 1, fds, first);

		if (n < 0 && n != -EAGAIN)
			return -1;
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			/* fds is NULL for a reply without descriptors, and
			 * NULL + 0 is undefined: step only over real ones. */
			if (first) {
				fds += first;
				nfds -= first;
			}
			first = 0;
		}
	}
	if (len)
		queue_chunk(c, buf, len, fds, first);
	if (first) {
		fds += first;
		nfds -= first;
	}
	for (done = 0; done < nfds; done += FDPASS_MAX) {
		int k = nfds - done < FDPASS_MAX ? nfds - done : FDPASS_MAX;

		if (!c->out) {
			struct iovec iov = { (void *)(uintptr_t)&zero, 1 };
			ssize_t n = fdpass_sendv(c->fd, &iov, 1, fds + done, k);

			if (n == 1)
				continue;
			if (n != -EAGAIN)
				return -1;
		}
		queue_chunk(c, &zero, 1, fds + done, k);
	}
	if (c->out)
		update_events(c);
	return 0;
}

/* ---- reply building ---- */

static void
reply_begin(struct server *sv)
{
	static const uint8_t hdr[PROTO_HDR_LEN];

	cw_reset(&sv->out);
	cw_raw(&sv->out, hdr, sizeof(hdr));
	sv->nfds = 0;
}

static void
add_fd(struct server *sv, int fd)
{
	if (sv->nfds == sv->fdcap) {
		sv->fdcap = sv->fdcap ? sv->fdcap * 2 : 64;
		sv->fds = xreallocarray(sv->fds, sv->fdcap, sizeof(int));
	}
	sv->fds[sv->nfds++] = fd;
}

static void
reply_pack(struct server *sv, uint16_t type, int status)
{
	struct proto_hdr h;

	if (sv->out.oom)
		fatalx("server: out of memory building a reply");
	if (sv->cfg.fs_sync)
		sv->cfg.fs_sync(sv->cfg.fs_ctx);
	h.magic = PROTO_MAGIC;
	h.version = PROTO_VERSION;
	h.type = type;
	h.len = (uint32_t)(sv->out.len - PROTO_HDR_LEN);
	h.status = status < 0 ? (uint32_t)status : (uint32_t)sv->nfds;
	proto_hdr_pack(&h, sv->out.buf);
}

/* Finishes the reply in sv->out with status (0 or -errno) and sends it. */
static int
reply_send(struct conn *c, uint16_t type, int status)
{
	struct server *sv = c->sv;

	reply_pack(sv, type, status);
	return conn_send(c, sv->out.buf, sv->out.len, sv->fds,
			 status < 0 ? 0 : (int)sv->nfds);
}

/* persistence: parks c on ticket t; the reply in sv->out (no fds) goes
 * when t completes, or, with rerun, the request body is handled again. */
static void
park_ticket(struct conn *c, uint64_t t, uint16_t type, const uint8_t *body,
	    size_t len, int rerun)
{
	struct server *sv = c->sv;

	c->ticket = t;
	c->tk_type = type;
	if (rerun) {
		c->tk_body = xmemdup(body, len ? len : 1);
		c->tk_len = len;
	} else {
		reply_pack(sv, type, 0);
		c->tk_held = xmemdup(sv->out.buf, sv->out.len);
		c->tk_len = sv->out.len;
	}
	update_events(c);
}

/* Sends the success reply in sv->out now, or once the disk work that the
 * last store call queued is durable. */
static int
reply_durable(struct conn *c, uint16_t type)
{
	uint64_t t = store_ticket();

	if (!t)
		return reply_send(c, type, 0);
	park_ticket(c, t, type, NULL, 0, 0);
	return 0;
}

static int
reply_error(struct conn *c, uint16_t type, int rc, const char *msg)
{
	reply_begin(c->sv);
	cw_str(&c->sv->out, msg);
	log_debug("%s: %s: %s", c->label, proto_type_name(type), msg);
	return reply_send(c, type, rc);
}

static int
reply_store_error(struct conn *c, uint16_t type, int rc)
{
	return reply_error(c, type, rc, store_errmsg());
}

/* ---- request decoding helpers ---- */

#define BAD(c, type, what) reply_error(c, type, -EPROTO, "malformed " what)

/* Reads [[u64...]] style id lists: checks the count before allocating. */
static int
read_ids(struct cr *r, uint64_t **ids, size_t *n)
{
	size_t i, k;

	if (cr_array(r, &k) || k > PROTO_MAX_BATCH)
		return -EPROTO;
	*ids = xcalloc(k, sizeof(**ids));
	for (i = 0; i < k; i++)
		if (cr_uint(r, &(*ids)[i])) {
			free(*ids);
			*ids = NULL;
			return -EPROTO;
		}
	*n = k;
	return 0;
}

/* Copies an optional text item into buf as a C string. 1 set, 0 null. */
static int
read_opt_str(struct cr *r, char *buf, size_t cap, size_t *len)
{
	const char *s;
	size_t l;
	int rc = cr_null(r);

	if (rc < 0)
		return -EPROTO;
	if (rc == 1)
		return 0;
	if (cr_str(r, &s, &l) || l >= cap || memchr(s, 0, l))
		return -EPROTO;
	memcpy(buf, s, l);
	buf[l] = 0;
	*len = l;
	return 1;
}

/* ---- handlers ---- */

static int
do_hello(struct conn *c, struct cr *r)
{
	struct server *sv = c->sv;
	struct store_status st;
	uint64_t ver, pid;
	size_t n;

	if (cr_array(r, &n) || n < 2 || cr_uint(r, &ver) || cr_uint(r, &pid))
		return BAD(c, MSG_HELLO, "hello");
	snprintf(c->label, sizeof(c->label), "client pid %" PRIu64, pid);
	store_status(sv->store, &st);
	reply_begin(sv);
	cw_array(&sv->out, 4);
	cw_uint(&sv->out, PROTO_VERSION);
	cw_uint(&sv->out, (uint64_t)getpid());
	cw_uint(&sv->out, st.limit);
	cw_uint(&sv->out, PROTO_SMALL_MAX);
	return reply_send(c, MSG_HELLO, 0);
}

static void
kv_uint(struct cw *w, const char *k, uint64_t v)
{
	cw_str(w, k);
	cw_uint(w, v);
}

static void
kv_str(struct cw *w, const char *k, const char *v)
{
	cw_str(w, k);
	if (v)
		cw_str(w, v);
	else
		cw_null(w);
}

/* The status map; also called from the FUSE view's threads (status.json),
 * so it reads only the store (locked), constants and the atomic nconns. */
static void
status_encode(struct server *sv, struct cw *w)
{
	struct store_status st;

	store_status(sv->store, &st);
	cw_map(w, 23);
	kv_str(w, "version", VERSION_STRING);
	kv_uint(w, "protocol", PROTO_VERSION);
	kv_uint(w, "pid", (uint64_t)getpid());
	kv_uint(w, "uptime_s", (uint64_t)(time(NULL) - sv->started));
	kv_str(w, "socket", sv->socket_path);
	kv_uint(w, "clients", __atomic_load_n(&sv->nconns, __ATOMIC_RELAXED));
	kv_uint(w, "objects", st.objects);
	kv_uint(w, "blobs", st.blobs);
	kv_uint(w, "unsealed_blobs", st.unsealed);
	kv_uint(w, "deleted_in_use", st.zombies);
	kv_uint(w, "names", st.names);
	kv_uint(w, "payload_bytes", st.payload);
	kv_uint(w, "used_bytes", st.used);
	kv_uint(w, "limit_bytes", st.limit);
	kv_uint(w, "segment_bytes", st.segments);
	kv_str(w, "huge_pages", st.huge);
	kv_str(w, "mount", sv->cfg.mount);
	kv_str(w, "fs_mode", sv->cfg.fs_mode ? sv->cfg.fs_mode(sv->cfg.fs_ctx)
					      : NULL);
	kv_str(w, "data_dir", sv->cfg.data_dir);
	kv_uint(w, "persisted_objects", st.persisted);
	kv_uint(w, "disk_bytes", st.disk_bytes);
	kv_uint(w, "disk_raw_bytes", st.disk_raw);
	kv_uint(w, "damaged_files", st.damaged);
}

static int
do_status(struct conn *c)
{
	struct server *sv = c->sv;

	reply_begin(sv);
	status_encode(sv, &sv->out);
	return reply_send(c, MSG_STATUS, 0);
}

int
server_status_json(struct server *sv, struct cw *out)
{
	struct cw w;
	struct cr r;
	int rc;

	cw_init(&w);
	status_encode(sv, &w);
	rc = cw_finish(&w);
	if (rc == 0) {
		cr_init(&r, w.buf, w.len);
		rc = meta_json_value(out, &r, 0, 0);
		cw_raw(out, "\n", 1);
	}
	cw_release(&w);
	return rc ? rc : cw_finish(out);
}

static int
do_blob_create(struct conn *c, struct cr *r)
{
	struct server *sv = c->sv;
	uint64_t *lens, *ids;
	size_t n, i;
	int rc = 0;

	if (cr_array(r, &n) || n != 1 || read_ids(r, &lens, &n))
		return BAD(c, MSG_BLOB_CREATE, "blob-create");
	ids = xcalloc(n, sizeof(*ids));
	reply_begin(sv);
	for (i = 0; i < n && rc == 0; i++) {
		int fd;

		rc = store_blob_create(sv->store, c->owner, (size_t)lens[i],
				       &ids[i], &fd);
		if (rc == 0)
			add_fd(sv, fd);
	}
	if (rc) {
		char msg[320];

		snprintf(msg, sizeof(msg), "%s", store_errmsg());
		while (i-- > 1)
			store_blob_abort(sv->store, c->owner, ids[i - 1]);
		free(lens);
		free(ids);
		return reply_error(c, MSG_BLOB_CREATE, rc, msg);
	}
	cw_array(&sv->out, 1);
	cw_array(&sv->out, n);
	for (i = 0; i < n; i++)
		cw_uint(&sv->out, ids[i]);
	free(lens);
	free(ids);
	return reply_send(c, MSG_BLOB_CREATE, 0);
}

static int
do_id_batch(struct conn *c, uint16_t type, struct cr *r, uint32_t flags)
{
	struct server *sv = c->sv;
	uint64_t *ids;
	size_t n, i;
	int rc = 0;

	if (cr_array(r, &n) || n != 1 || read_ids(r, &ids, &n))
		return BAD(c, type, "id list");
	if (type == MSG_RELEASE) {
		store_release(sv->store, c->owner, ids, n);
	} else {
		for (i = 0; i < n && rc == 0; i++)
			rc = type == MSG_BLOB_SEAL ?
				store_blob_seal(sv->store, c->owner, ids[i]) :
				store_blob_abort(sv->store, c->owner, ids[i]);
	}
	free(ids);
	if (rc)
		return reply_store_error(c, type, rc);
	if (flags & PROTO_F_NOREPLY)
		return 0;
	reply_begin(sv);
	cw_array(&sv->out, 0);
	return reply_send(c, type, 0);
}

static int
do_blob_put(struct conn *c, struct cr *r)
{
	struct server *sv = c->sv;
	size_t n, i;
	int rc = 0;

	uint64_t *ids;
	struct cr check;

	if (cr_array(r, &n) || n != 1 || cr_array(r, &n) ||
	    n > PROTO_MAX_BATCH)
		return BAD(c, MSG_BLOB_PUT, "blob-put");
	/* All or nothing: the client learns no id when the request fails,
	 * so a bad item or a full store must not leave the blobs stored
	 * before it. Check every item first, undo on a store error. */
	check = *r;
	for (i = 0; i < n; i++) {
		const void *p;
		size_t len;

		if (cr_bytes(&check, &p, &len))
			return BAD(c, MSG_BLOB_PUT, "blob-put");
	}
	ids = xcalloc(n, sizeof(*ids));
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_array(&sv->out, n);
	for (i = 0; i < n && rc == 0; i++) {
		const void *p;
		size_t len;

		cr_bytes(r, &p, &len);
		rc = store_blob_put_small(sv->store, p, len, &ids[i]);
		if (rc == 0)
			cw_uint(&sv->out, ids[i]);
	}
	if (rc) {
		char msg[320];
		size_t gone;

		snprintf(msg, sizeof(msg), "%s", store_errmsg());
		store_delete(sv->store, ids, i - 1, DELETE_F_SHALLOW, &gone);
		free(ids);
		return reply_error(c, MSG_BLOB_PUT, rc, msg);
	}
	free(ids);
	return reply_send(c, MSG_BLOB_PUT, 0);
}

static int
do_obj_put(struct conn *c, struct cr *r)
{
	struct server *sv = c->sv;
	char name[256];
	const void *tree;
	uint64_t *seal = NULL, id, tk;
	size_t n, treelen, namelen = 0, nseal = 0;
	int persist, hasname, rc;

	if (cr_array(r, &n) || n != 4 || cr_bytes(r, &tree, &treelen) ||
	    read_ids(r, &seal, &nseal))
		return BAD(c, MSG_OBJ_PUT, "obj-put");
	hasname = read_opt_str(r, name, sizeof(name), &namelen);
	if (hasname < 0 || cr_bool(r, &persist)) {
		free(seal);
		return reply_error(c, MSG_OBJ_PUT, -EINVAL, hasname < 0 ?
				   "invalid name: a name is 1-255 bytes "
				   "without NUL" : "malformed obj-put");
	}
	rc = store_obj_put(sv->store, c->owner, tree, treelen, seal, nseal,
			   hasname ? name : NULL, namelen, persist, &id);
	tk = store_ticket();
	free(seal);
	if (rc)
		return reply_store_error(c, MSG_OBJ_PUT, rc);
	if (hasname)
		sv->names_changed = 1;
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_uint(&sv->out, id);
	if (tk) {
		park_ticket(c, tk, MSG_OBJ_PUT, NULL, 0, 0);
		/* A put with persist succeeds or fails whole. */
		c->tk_undo = persist ? id : 0;
		return 0;
	}
	return reply_send(c, MSG_OBJ_PUT, 0);
}

struct get_ctx {
	struct conn *c;
	size_t nobjs, nblobs;
};

static int
get_obj(void *ctx, uint64_t id, const uint8_t *meta, size_t len,
	uint64_t nbytes)
{
	struct get_ctx *g = ctx;
	struct cw *w = &g->c->sv->objs;

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

	if (b->kind == BLOB_KIND_MEMFD) {
		fdidx = (int64_t)sv->nfds;
		add_fd(sv, b->fd);
	} else {
		if (b->seg >= c->nsegs) {
			size_t k = b->seg + 16;

			c->segs = xrealloc(c->segs, k);
			memset(c->segs + c->nsegs, 0, k - c->nsegs);
			c->nsegs = k;
		}
		if (!c->segs[b->seg]) {
			c->segs[b->seg] = 1;
			fdidx = (int64_t)sv->nfds;
			add_fd(sv, b->seg_fd);
		}
	}
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

static void
park(struct conn *c, uint16_t type, const char *name, uint64_t wait_ms,
     const uint8_t *body, size_t len)
{
	c->waiting = 1;
	c->wait_type = type;
	snprintf(c->wait_name, sizeof(c->wait_name), "%s", name);
	c->wait_deadline = loop_now_ms() + wait_ms;
	c->wait_body = xmemdup(body, len ? len : 1);
	c->wait_len = len;
	c->sv->nwaiting++;
	update_events(c);
}

static int
do_get(struct conn *c, struct cr *r, const uint8_t *body, size_t blen,
       int final)
{
	struct server *sv = c->sv;
	struct get_ctx g = { c, 0, 0 };
	char name[256];
	uint64_t id, wait_ms, flags;
	size_t n, namelen = 0;
	int hasname, rc;

	if (cr_array(r, &n) || n != 4 || cr_uint(r, &id))
		return BAD(c, MSG_GET, "get");
	hasname = read_opt_str(r, name, sizeof(name), &namelen);
	if (hasname < 0 || cr_uint(r, &wait_ms) || cr_uint(r, &flags))
		return BAD(c, MSG_GET, "get");
	if (hasname) {
		rc = store_name_get(sv->store, name, namelen, &id);
		if (rc == -ENOENT && wait_ms && !final) {
			park(c, MSG_GET, name, wait_ms, body, blen);
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
	if (!(flags & GET_F_META)) {
		/* persistence: blobs restored lazily are read back on the
		 * store's loader thread first, never here. */
		store_prefetch(sv->store, id);
		if (store_ticket()) {
			park_ticket(c, store_ticket(), MSG_GET, body, blen, 1);
			return 0;
		}
	}
	reply_begin(sv);
	cw_reset(&sv->objs);
	cw_reset(&sv->blobs);
	rc = store_get(sv->store, c->owner, id, (unsigned)flags, get_obj,
		       (flags & GET_F_META) ? get_blob_meta : get_blob, &g);
	if (rc)
		return reply_store_error(c, MSG_GET, rc);
	cw_array(&sv->out, 3);
	cw_uint(&sv->out, id);
	cw_array(&sv->out, g.nobjs);
	cw_raw(&sv->out, sv->objs.buf, sv->objs.len);
	cw_array(&sv->out, g.nblobs);
	cw_raw(&sv->out, sv->blobs.buf, sv->blobs.len);
	if (sv->objs.oom || sv->blobs.oom)
		fatalx("server: out of memory building a reply");
	return reply_send(c, MSG_GET, 0);
}

static int
do_delete(struct conn *c, struct cr *r)
{
	struct server *sv = c->sv;
	uint64_t *ids, flags, tk;
	size_t n, count;
	int rc;

	if (cr_array(r, &n) || n != 2 || read_ids(r, &ids, &n))
		return BAD(c, MSG_DELETE, "delete");
	if (cr_uint(r, &flags)) {
		free(ids);
		return BAD(c, MSG_DELETE, "delete");
	}
	rc = store_delete(sv->store, ids, n, (unsigned)flags, &count);
	tk = store_ticket();
	free(ids);
	if (rc)
		return reply_store_error(c, MSG_DELETE, rc);
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_uint(&sv->out, count);
	if (tk) {
		park_ticket(c, tk, MSG_DELETE, NULL, 0, 0);
		return 0;
	}
	return reply_send(c, MSG_DELETE, 0);
}

struct list_ctx {
	struct cw *w;
	size_t n;
};

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
	cw_array(l->w, 5);
	cw_uint(l->w, info->id);
	cw_str(l->w, info->typename);
	cw_uint(l->w, info->nbytes);
	cw_uint(l->w, flags);
	cw_array(l->w, nnames);
	for (i = 0; i < nnames; i++)
		cw_str(l->w, names[i]);
	l->n++;
	return 0;
}

static int
do_list(struct conn *c, struct cr *r)
{
	struct server *sv = c->sv;
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

/* persist and unpersist: the reply waits until the change is durable. */
static int
do_persist(struct conn *c, uint16_t type, struct cr *r, const uint8_t *body,
	   size_t blen)
{
	uint64_t id;
	size_t n;
	int rc;

	if (cr_array(r, &n) || n != 1 || cr_uint(r, &id))
		return BAD(c, type, "persist");
	if (type == MSG_UNPERSIST) {
		/* Bytes still on disk only must come into memory before
		 * their file goes; that happens on the loader thread. */
		store_prefetch(c->sv->store, id);
		if (store_ticket()) {
			park_ticket(c, store_ticket(), type, body, blen, 1);
			return 0;
		}
		rc = store_unpersist(c->sv->store, id);
	} else {
		rc = store_persist(c->sv->store, id);
	}
	if (rc)
		return reply_store_error(c, type, rc);
	reply_begin(c->sv);
	cw_array(&c->sv->out, 0);
	return reply_durable(c, type);
}

static int
do_meta(struct conn *c, struct cr *r)
{
	struct server *sv = c->sv;
	uint64_t id;
	size_t n;
	int rc;

	if (cr_array(r, &n) || n != 1 || cr_uint(r, &id))
		return BAD(c, MSG_META, "meta");
	cw_reset(&sv->objs);
	rc = store_meta_json(sv->store, id, &sv->objs);
	if (rc)
		return reply_store_error(c, MSG_META, rc);
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_strn(&sv->out, (const char *)sv->objs.buf, sv->objs.len);
	return reply_send(c, MSG_META, 0);
}

static int
do_name(struct conn *c, uint16_t type, struct cr *r, const uint8_t *body,
	size_t blen, int final)
{
	struct server *sv = c->sv;
	char name[256];
	size_t n, nl;
	uint64_t id = 0, wait_ms = 0, tk = 0;
	int rc;

	if (cr_array(r, &n) || n < 1 || read_opt_str(r, name, sizeof(name),
						     &nl) != 1) {
		/* A name with NUL or longer than the buffer is invalid, not
		 * a protocol error: answer like the store would. */
		return reply_error(c, type, -EINVAL, "invalid name: a name is "
				   "1-255 bytes without NUL");
	}
	if (type == MSG_NAME_PUT || type == MSG_NAME_GET) {
		if (n != 2 || cr_uint(r, type == MSG_NAME_PUT ? &id : &wait_ms))
			return BAD(c, type, "name request");
	}
	switch (type) {
	case MSG_NAME_PUT:
		rc = store_name_put(sv->store, name, nl, id);
		tk = store_ticket();
		if (rc == 0)
			sv->names_changed = 1;
		break;
	case MSG_NAME_GET:
		rc = store_name_get(sv->store, name, nl, &id);
		if (rc == -ENOENT && wait_ms && !final) {
			park(c, type, name, wait_ms, body, blen);
			return 0;
		}
		if (rc == -ENOENT && wait_ms) {
			char msg[320];

			snprintf(msg, sizeof(msg), "name '%s' did not appear "
				 "within %" PRIu64 " ms", name, wait_ms);
			return reply_error(c, type, -ETIMEDOUT, msg);
		}
		break;
	default:
		rc = store_name_drop(sv->store, name, nl);
		tk = store_ticket();
	}
	if (rc)
		return reply_store_error(c, type, rc);
	reply_begin(sv);
	if (type == MSG_NAME_GET) {
		cw_array(&sv->out, 1);
		cw_uint(&sv->out, id);
	} else {
		cw_array(&sv->out, 0);
	}
	if (tk) { /* persistence: a persisted object's names changed */
		park_ticket(c, tk, type, NULL, 0, 0);
		return 0;
	}
	return reply_send(c, type, 0);
}

static int
name_list_one(void *ctx, const char *name, uint64_t id)
{
	struct list_ctx *l = ctx;

	cw_array(l->w, 2);
	cw_str(l->w, name);
	cw_uint(l->w, id);
	l->n++;
	return 0;
}

static int
do_name_list(struct conn *c, struct cr *r)
{
	struct server *sv = c->sv;
	struct list_ctx l = { &sv->objs, 0 };
	char glob[256];
	size_t n, gl;
	int hasglob;

	if (cr_array(r, &n) || n != 1)
		return BAD(c, MSG_NAME_LIST, "name-list");
	hasglob = read_opt_str(r, glob, sizeof(glob), &gl);
	if (hasglob < 0)
		return BAD(c, MSG_NAME_LIST, "name-list");
	cw_reset(&sv->objs);
	store_name_list(sv->store, hasglob ? glob : NULL, name_list_one, &l);
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_array(&sv->out, l.n);
	cw_raw(&sv->out, sv->objs.buf, sv->objs.len);
	return reply_send(c, MSG_NAME_LIST, 0);
}

/* Handles one request. final: a parked request's last try (timed out).
 * Returns -1 when the connection must close. */
static int
handle(struct conn *c, uint16_t type, uint32_t flags, const uint8_t *body,
       size_t len, int final)
{
	struct cr r;

	cr_init(&r, body, len);
	switch (type) {
	case MSG_HELLO: return do_hello(c, &r);
	case MSG_STATUS: return do_status(c);
	case MSG_BLOB_CREATE: return do_blob_create(c, &r);
	case MSG_BLOB_SEAL:
	case MSG_BLOB_ABORT:
	case MSG_RELEASE: return do_id_batch(c, type, &r, flags);
	case MSG_BLOB_PUT: return do_blob_put(c, &r);
	case MSG_OBJ_PUT: return do_obj_put(c, &r);
	case MSG_GET: return do_get(c, &r, body, len, final);
	case MSG_DELETE: return do_delete(c, &r);
	case MSG_LIST: return do_list(c, &r);
	case MSG_PERSIST:
	case MSG_UNPERSIST: return do_persist(c, type, &r, body, len);
	case MSG_META: return do_meta(c, &r);
	case MSG_NAME_PUT:
	case MSG_NAME_GET:
	case MSG_NAME_DROP: return do_name(c, type, &r, body, len, final);
	case MSG_NAME_LIST: return do_name_list(c, &r);
	}
	reply_error(c, type, -EPROTO, "unknown request type");
	return -1;
}

/* Runs the frames buffered in c->in until blocked or out of input.
 * Returns -1 when it closed (and freed) c. */
static int
conn_process(struct conn *c)
{
	size_t pos = 0;

	while (!c->waiting && !c->ticket && !c->out &&
	       c->inlen - pos >= PROTO_HDR_LEN) {
		struct proto_hdr h;
		int rc = proto_hdr_unpack(c->in + pos, &h);

		if (rc) {
			char msg[160];

			if (h.magic == PROTO_MAGIC && h.version != PROTO_VERSION)
				snprintf(msg, sizeof(msg), "protocol version "
					 "%u not supported; this daemon speaks "
					 "%u", h.version, PROTO_VERSION);
			else
				snprintf(msg, sizeof(msg), "bad frame (magic, "
					 "version or length over %u bytes)",
					 PROTO_MAX_BODY);
			log_info("%s: %s; closing", c->label, msg);
			reply_error(c, 0, -EPROTO, msg);
			conn_close(c);
			return -1;
		}
		if (c->inlen - pos - PROTO_HDR_LEN < h.len)
			break;
		if (handle(c, h.type, h.status, c->in + pos + PROTO_HDR_LEN,
			   h.len, 0) < 0) {
			conn_close(c);
			return -1;
		}
		pos += PROTO_HDR_LEN + h.len;
	}
	if (pos) {
		memmove(c->in, c->in + pos, c->inlen - pos);
		c->inlen -= pos;
	}
	return 0;
}

static void
conn_input(struct conn *c)
{
	ssize_t n;
	size_t want = IN_INITIAL;

	/* Make room for a whole frame once its header is in. */
	if (c->inlen >= PROTO_HDR_LEN) {
		struct proto_hdr h;

		if (proto_hdr_unpack(c->in, &h) == 0)
			want = PROTO_HDR_LEN + h.len;
	}
	if (want < c->inlen + 4096)
		want = c->inlen + 4096;
	if (c->incap < want) {
		size_t cap = c->incap ? c->incap : IN_INITIAL;

		while (cap < want)
			cap *= 2;
		/* Doubling suits a stream of small frames; for one big frame
		 * (up to PROTO_MAX_BODY) it would reserve nearly twice the
		 * frame for nothing. */
		if (want >= (1u << 20))
			cap = (want + 4095) & ~(size_t)4095;
		c->in = xrealloc(c->in, cap);
		c->incap = cap;
	}
	n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n > 0)
		c->inlen += (size_t)n;
	if (conn_process(c) < 0)
		return;
	/* Shrink a buffer grown for one big frame once it is idle. */
	if (c->inlen == 0 && c->incap > 4 * IN_INITIAL) {
		free(c->in);
		c->in = NULL;
		c->incap = 0;
	}
}

static void
conn_event(void *ctx, uint32_t events)
{
	struct conn *c = ctx;

	if (events & EPOLLOUT) {
		if (flush_out(c) < 0) {
			conn_close(c);
			return;
		}
		if (!c->out) {
			update_events(c);
			if (conn_process(c) < 0)
				return;
		}
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_input(c);
}

static void
conn_close(struct conn *c)
{
	struct server *sv = c->sv;

	if (c->fd < 0)
		return;
	log_debug("%s: disconnected", c->label);
	loop_del(sv->loop, c->watch);
	close(c->fd);
	c->fd = -1;
	store_owner_free(sv->store, c->owner);
	if (c->waiting) {
		sv->nwaiting--;
		free(c->wait_body);
	}
	/* A ticket still pending completes later, for nobody. */
	free(c->tk_held);
	free(c->tk_body);
	while (c->out) {
		struct chunk *k = c->out;

		c->out = k->next;
		free_chunk(k);
	}
	c->prev->next = c->next;
	c->next->prev = c->prev;
	__atomic_fetch_sub(&sv->nconns, 1, __ATOMIC_RELAXED);
	free(c->in);
	free(c->segs);
	free(c);
}

static void
accept_event(void *ctx, uint32_t events)
{
	struct server *sv = ctx;
	int i;

	(void)events;
	for (i = 0; i < 64; i++) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct conn *c;
		int fd = accept4(sv->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("server: accept");
			return;
		}
		c = xcalloc(1, sizeof(*c));
		c->sv = sv;
		c->fd = fd;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
			snprintf(c->label, sizeof(c->label),
				 "client pid %d uid %u", (int)cred.pid,
				 (unsigned)cred.uid);
		else
			snprintf(c->label, sizeof(c->label), "client");
		c->owner = store_owner_new(sv->store, c->label);
		c->events = EPOLLIN | EPOLLRDHUP;
		c->watch = loop_add(sv->loop, fd, c->events, conn_event, c);
		if (!c->watch) {
			log_warn("server: watch client");
			store_owner_free(sv->store, c->owner);
			close(fd);
			free(c);
			continue;
		}
		c->next = &sv->conns;
		c->prev = sv->conns.prev;
		c->prev->next = c;
		sv->conns.prev = c;
		__atomic_fetch_add(&sv->nconns, 1, __ATOMIC_RELAXED);
		log_debug("%s: connected", c->label);
	}
}

static void
on_store_event(void *ctx, enum store_event ev, uint64_t id, const char *name)
{
	struct server *sv = ctx;

	(void)id;
	(void)name;
	if (ev == STORE_EV_NAME_SET)
		sv->names_changed = 1;
}

/* persistence: disk jobs finished; answer the connections parked on them
 * and let their queued requests run. */
static void
done_event(void *ctx, uint32_t events)
{
	struct server *sv = ctx;
	uint64_t t;
	char msg[320];
	int rc;

	(void)events;
	while (store_done_next(sv->store, &t, &rc, msg, sizeof(msg))) {
		struct conn *c;
		uint8_t *held, *body;
		size_t len;
		uint16_t type;

		for (c = sv->conns.next; c != &sv->conns; c = c->next)
			if (c->ticket == t)
				break;
		if (c == &sv->conns)
			continue; /* the client went away */
		held = c->tk_held;
		body = c->tk_body;
		len = c->tk_len;
		type = c->tk_type;
		c->ticket = 0;
		c->tk_held = c->tk_body = NULL;
		update_events(c);
		if (rc && c->tk_undo) {
			size_t n;

			if (store_delete(sv->store, &c->tk_undo, 1, 0, &n) == 0)
				snprintf(msg + strlen(msg), sizeof(msg) -
					 strlen(msg), "; the put was undone");
		}
		c->tk_undo = 0;
		if (rc) {
			free(held);
			free(body);
			if (reply_error(c, type, rc, msg) < 0) {
				conn_close(c);
				continue;
			}
		} else if (held) {
			rc = conn_send(c, held, len, NULL, 0);
			free(held);
			if (rc < 0) {
				conn_close(c);
				continue;
			}
		} else {
			rc = handle(c, type, 0, body, len, 0);
			free(body);
			if (rc < 0) {
				conn_close(c);
				continue;
			}
		}
		/* Requests that queued up behind it go now. */
		conn_process(c);
	}
}

struct server *
server_new(struct store *s, struct loop *l, const struct server_cfg *cfg,
	   int lfd)
{
	struct server *sv = xcalloc(1, sizeof(*sv));

	sv->store = s;
	sv->loop = l;
	sv->cfg = *cfg;
	sv->socket_path = xstrdup(cfg->socket_path);
	sv->lfd = lfd;
	sv->started = time(NULL);
	sv->conns.next = sv->conns.prev = &sv->conns;
	cw_init(&sv->out);
	cw_init(&sv->objs);
	cw_init(&sv->blobs);
	sv->lwatch = loop_add(l, lfd, EPOLLIN, accept_event, sv);
	if (!sv->lwatch)
		fatal("server: watch listening socket");
	if (store_done_fd(s) >= 0) {
		sv->dwatch = loop_add(l, store_done_fd(s), EPOLLIN, done_event,
				      sv);
		if (!sv->dwatch)
			fatal("server: watch the store's disk jobs");
	}
	store_watch(s, on_store_event, sv);
	return sv;
}

void
server_free(struct server *sv)
{
	if (!sv)
		return;
	while (sv->conns.next != &sv->conns)
		conn_close(sv->conns.next);
	loop_del(sv->loop, sv->lwatch);
	loop_del(sv->loop, sv->dwatch);
	close(sv->lfd);
	unlink(sv->socket_path);
	cw_release(&sv->out);
	cw_release(&sv->objs);
	cw_release(&sv->blobs);
	free(sv->fds);
	free(sv->socket_path);
	free(sv);
}

int
server_timeout(void *ctx)
{
	struct server *sv = ctx;
	uint64_t now, best = UINT64_MAX;
	struct conn *c;

	if (!sv->nwaiting)
		return -1;
	for (c = sv->conns.next; c != &sv->conns; c = c->next)
		if (c->waiting && c->wait_deadline < best)
			best = c->wait_deadline;
	now = loop_now_ms();
	if (best <= now)
		return 0;
	return best - now > 60000 ? 60000 : (int)(best - now);
}

/* Re-runs parked requests whose name may have appeared or whose time is
 * up. A re-run that still misses parks again (final = 0) or answers
 * ETIMEDOUT (final = 1). */
void
server_tick(void *ctx)
{
	struct server *sv = ctx;
	struct conn *c, *next;
	uint64_t now;
	int changed = sv->names_changed;

	if (!sv->nwaiting) {
		sv->names_changed = 0;
		return;
	}
	sv->names_changed = 0;
	now = loop_now_ms();
	for (c = sv->conns.next; c != &sv->conns; c = next) {
		uint8_t *body;
		size_t len;
		uint16_t type;
		uint64_t deadline;
		int final;

		next = c->next;
		if (!c->waiting)
			continue;
		final = now >= c->wait_deadline;
		if (!final && !changed)
			continue;
		if (!final) {
			uint64_t id;

			if (store_name_get(sv->store, c->wait_name,
					   strlen(c->wait_name), &id))
				continue;
		}
		body = c->wait_body;
		len = c->wait_len;
		type = c->wait_type;
		deadline = c->wait_deadline;
		c->waiting = 0;
		c->wait_body = NULL;
		sv->nwaiting--;
		if (handle(c, type, 0, body, len, final) < 0) {
			free(body);
			conn_close(c);
			continue;
		}
		if (c->waiting)
			c->wait_deadline = deadline;
		update_events(c);
		free(body);
		/* Requests that queued up behind the wait go now. */
		next = c->next;
		conn_process(c);
	}
}
