/*
 * req_session: the session requests: hello (the handshake) and status
 * (the daemon's status map, also rendered as JSON for the mount's
 * status.json).
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cborio.h"
#include "meta.h"
#include "proto.h"
#include "server_int.h"
#include "store.h"
#include "banned.h"

#define VERSION_STRING "0.1.0"

int
req_hello(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
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

int
req_status(struct conn *c, struct req *q)
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
