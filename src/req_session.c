/*
 * req_session: the session requests: hello (the handshake) and status
 * (the daemon's figures, struct status of src/wire/status.h, filled here
 * for the socket's reply and for the mount's status.json).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cborio.h"
#include "proto.h"
#include "cluster/cluster.h"
#include "cluster/node.h"
#include "cluster/fetch.h"
#include "server_int.h"
#include "status.h"
#include "store.h"
#include "stream.h"
#include "banned.h"

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

/* The daemon's figures; also called from the FUSE view's threads
 * (status.json), so it reads only the store (locked), constants and the
 * atomic nconns. */
static void
status_fill(struct server *sv, struct status *out)
{
	struct store_status st;

	store_status(sv->store, &st);
	memset(out, 0, sizeof(*out));
	STATUS_SET(out, version, VY_VERSION);
	out->protocol = PROTO_VERSION;
	out->pid = (uint64_t)getpid();
	out->uptime_s = (uint64_t)(time(NULL) - sv->started);
	STATUS_SET(out, socket, sv->socket_path);
	out->clients = __atomic_load_n(&sv->nconns, __ATOMIC_RELAXED);
	out->input_bytes = __atomic_load_n(&sv->inbytes, __ATOMIC_RELAXED);
	out->input_limit_bytes = sv->cfg.input_limit;
	out->objects = st.objects;
	out->blobs = st.blobs;
	out->unsealed_blobs = st.unsealed;
	out->deleted_in_use = st.zombies;
	out->names = st.names;
	out->payload_bytes = st.payload;
	out->used_bytes = st.used;
	out->limit_bytes = st.limit;
	out->segment_bytes = st.segments;
	out->idle_segment_bytes = st.idle_segments;
	STATUS_SET(out, huge_pages, st.huge);
	STATUS_SET(out, mount, sv->cfg.mount);
	STATUS_SET(out, fs_mode, sv->cfg.fs_mode ?
		   sv->cfg.fs_mode(sv->cfg.fs_ctx) : NULL);
	STATUS_SET(out, data_dir, sv->cfg.data_dir);
	out->persisted_objects = st.persisted;
	out->disk_bytes = st.disk_bytes;
	out->disk_raw_bytes = st.disk_raw;
	out->damaged_files = st.damaged;
	out->reserve_bytes = st.reserve;
	out->reserve_filled_bytes = st.reserve_filled;
	out->reserve_target_bytes = st.reserve_target;
	STATUS_SET(out, spill_dir, st.spill_dir);
	out->spilled_bytes = st.spilled;
	out->spill_file_bytes = st.spill_disk;
	out->spills = st.spills;
	{
		struct store_stream_totals t;

		store_stream_totals(sv->store, &t);
		out->streams = t.streams;
		out->streams_open = t.open;
		out->stream_held_bytes = t.held_bytes;
		out->stream_threshold_bytes = t.threshold;
	}
	if (sv->cfg.node) {	/* the cluster (--etcd) */
		uint32_t inst = 0;

		STATUS_SET(out, cluster, node_state(sv->cfg.node, &inst));
		out->cluster_instance = inst;
		out->cluster_objects =
			cluster_object_count(node_cluster(sv->cfg.node));
	}
	if (sv->cfg.fetch) {	/* objects fetched from other instances */
		struct fetch_figures ff;

		fetch_figures(sv->cfg.fetch, &ff);
		out->transfers_active = ff.active;
		out->transfers_done = ff.done;
		out->transfers_failed = ff.failed;
		out->transfer_bytes = ff.bytes;
		out->transfer_wire_bytes = ff.wire;
	}
}

int
req_status(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct status st;

	status_fill(sv, &st);
	reply_begin(sv);
	status_encode(&st, &sv->out);
	return reply_send(c, MSG_STATUS, 0);
}

int
server_status_json(struct server *sv, struct cw *out)
{
	struct status st;

	status_fill(sv, &st);
	return status_json(&st, out);
}
