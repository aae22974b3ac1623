/*
 * req_streams: the stream requests (stream.h has the model): create, open
 * for writing or reading, a writable chunk, append, end (finish or fail),
 * read the next chunk, close, and info. A writer that must wait for room
 * (backpressure) and a reader waiting for the next chunk are parked like a
 * name wait and re-run whenever a stream changes, until their wait_ms run
 * out; the server thread never blocks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cborio.h"
#include "meta.h"
#include "proto.h"
#include "server_int.h"
#include "store.h"
#include "stream.h"
#include "banned.h"

/* Waits are capped (a client's "forever"), so deadlines cannot wrap. */
#define WAIT_MAX_MS (1ull << 40)

/* -EAGAIN from the store: park until a stream changes, or, on the last
 * try, say that the wait ran out. */
static int
wait_or_time_out(struct conn *c, struct req *q, uint64_t wait_ms,
		 const char *what)
{
	char msg[512];

	if (wait_ms && !q->final) {
		conn_park_name(c, q, NULL, wait_ms > WAIT_MAX_MS ?
			       WAIT_MAX_MS : wait_ms);
		return 0;
	}
	snprintf(msg, sizeof(msg), "%s within %" PRIu64 " ms (%s)", what,
		 wait_ms, store_errmsg());
	return reply_error(c, q->type, -ETIMEDOUT, msg);
}

int
req_stream_create(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	const char *tn;
	char name[256];
	size_t n, tl, nl = 0;
	uint64_t id;
	unsigned mode = PROTO_MODE_DEFAULT;
	int objects, hasname, rc;

	if (cr_array(r, &n) || (n != 3 && n != 4) || cr_str(r, &tn, &tl) ||
	    cr_bool(r, &objects))
		return BAD(c, q->type, "stream-create");
	if (tl == 0 || tl > META_MAX_TYPENAME || memchr(tn, 0, tl))
		return reply_error(c, q->type, -EINVAL, "a stream's typename "
				   "is 1-255 bytes without NUL");
	hasname = read_opt_str(r, name, sizeof(name), &nl);
	if (hasname < 0)
		return reply_error(c, q->type, -EINVAL, "invalid name: a name "
				   "is 1-255 bytes without NUL");
	if (n == 4 && (rc = read_mode(r, &mode)))
		return reply_bad_mode(c, q->type, rc);
	rc = store_stream_create(sv->store, c->owner, tn, tl, objects,
				 hasname ? name : NULL, nl, mode, &id);
	if (rc)
		return reply_store_error(c, q->type, rc);
	if (hasname)
		sv->names_changed = 1;
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_uint(&sv->out, id);
	return reply_send(c, q->type, 0);
}

/* Reads [id|0, name|null, ...] and finds the stream's id, parking the
 * request while a name is awaited: 1 found, 0 answered or parked, -1
 * close. */
static int
stream_id(struct conn *c, struct req *q, uint64_t wait_ms, uint64_t *id,
	  int *rc)
{
	struct server *sv = c->sv;
	char name[256], msg[320];
	size_t nl;
	int has = read_opt_str(&q->r, name, sizeof(name), &nl);

	if (has < 0) {
		*rc = reply_error(c, q->type, -EINVAL, "invalid name: a name "
				  "is 1-255 bytes without NUL");
		return 0;
	}
	if (!has)
		return 1;
	if (store_name_get(sv->store, name, nl, id) == 0)
		return 1;
	if (wait_ms && !q->final) {
		conn_park_name(c, q, name, wait_ms > WAIT_MAX_MS ?
			       WAIT_MAX_MS : wait_ms);
		*rc = 0;
		return 0;
	}
	if (wait_ms) {
		snprintf(msg, sizeof(msg), "no stream named '%s' appeared "
			 "within %" PRIu64 " ms", name, wait_ms);
		*rc = reply_error(c, q->type, -ETIMEDOUT, msg);
	} else {
		snprintf(msg, sizeof(msg), "no stream named '%s'", name);
		*rc = reply_error(c, q->type, -ENOENT, msg);
	}
	return 0;
}

int
req_stream_open(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	struct store_info info;
	struct store_stream_info si;
	uint64_t id, wait_ms, rid = 0;
	size_t n;
	int write, rc;
	struct cr peek;

	/* wait_ms is last; read it first for the name wait */
	if (cr_array(r, &n) || n != 4 || cr_uint(r, &id))
		return BAD(c, q->type, "stream-open");
	peek = *r;
	if (cr_skip(&peek, 1) || cr_bool(&peek, &write) ||
	    cr_uint(&peek, &wait_ms))
		return BAD(c, q->type, "stream-open");
	if (stream_id(c, q, wait_ms, &id, &rc) != 1)
		return rc;
	if (write)
		rc = store_stream_open_writer(sv->store, c->owner, id);
	else
		rc = store_stream_open_reader(sv->store, c->owner, id, &rid);
	if (rc == 0)
		rc = store_info(sv->store, id, &info);
	if (rc == 0)
		rc = store_stream_info(sv->store, id, &si);
	if (rc)
		return reply_store_error(c, q->type, rc);
	reply_begin(sv);
	cw_array(&sv->out, 4);
	cw_uint(&sv->out, id);
	cw_uint(&sv->out, rid);
	cw_str(&sv->out, info.typename);
	cw_bool(&sv->out, si.objects);
	return reply_send(c, q->type, 0);
}

int
req_stream_chunk(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	uint64_t id, len, wait_ms, chunk;
	size_t n;
	int fd, rc;

	if (c->tcp)
		return TCP_REFUSE(c, q->type, "a stream chunk");
	if (cr_array(r, &n) || n != 3 || cr_uint(r, &id) || cr_uint(r, &len) ||
	    cr_uint(r, &wait_ms))
		return BAD(c, q->type, "stream-chunk");
	rc = store_stream_chunk(sv->store, c->owner, id, (size_t)len, &chunk,
				&fd);
	if (rc == -EAGAIN)
		return wait_or_time_out(c, q, wait_ms, "no room for the chunk");
	if (rc)
		return reply_store_error(c, q->type, rc);
	reply_begin(sv);
	reply_fd(sv, fd);
	cw_array(&sv->out, 1);
	cw_uint(&sv->out, chunk);
	return reply_send(c, q->type, 0);
}

int
req_stream_append(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	uint64_t id, chunk, wait_ms, next_len = 0, next;
	size_t n;
	int rc, fd;

	if (cr_array(r, &n) || (n != 3 && n != 4) || cr_uint(r, &id) ||
	    cr_uint(r, &chunk) || cr_uint(r, &wait_ms) ||
	    (n == 4 && cr_uint(r, &next_len)))
		return BAD(c, q->type, "stream-append");
	rc = store_stream_append(sv->store, c->owner, id, chunk);
	if (rc == -EAGAIN)
		return wait_or_time_out(c, q, wait_ms,
					"no room for the chunk");
	if (rc)
		return reply_store_error(c, q->type, rc);
	reply_begin(sv);
	/* The writer's next chunk in the same round trip, when asked for
	 * and there is room now (never waited for: without it the writer
	 * asks with stream-chunk, which may wait). Halves a writer's round
	 * trips, which on a busy machine wait for the loop's turn on a CPU
	 * the readers keep busy. */
	if (next_len && !c->tcp &&
	    store_stream_chunk(sv->store, c->owner, id, (size_t)next_len,
			       &next, &fd) == 0) {
		reply_fd(sv, fd);
		cw_array(&sv->out, 1);
		cw_uint(&sv->out, next);
		return reply_send(c, q->type, 0);
	}
	cw_array(&sv->out, 0);
	return reply_send(c, q->type, 0);
}

int
req_stream_end(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	char why[240];
	uint64_t id;
	size_t n, wl;
	int failed, has, rc;

	if (cr_array(r, &n) || n != 3 || cr_uint(r, &id) ||
	    cr_bool(r, &failed))
		return BAD(c, q->type, "stream-end");
	has = read_opt_str(r, why, sizeof(why), &wl);
	if (has < 0)
		return BAD(c, q->type, "stream-end (why: at most 239 bytes)");
	rc = store_stream_end(sv->store, c->owner, id, failed,
			      has ? why : NULL);
	if (rc)
		return reply_store_error(c, q->type, rc);
	reply_begin(sv);
	cw_array(&sv->out, 0);
	return reply_send(c, q->type, 0);
}

int
req_stream_read(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	uint64_t id, rid, wait_ms, chunk;
	size_t n;
	int rc;

	if (c->tcp)
		return TCP_REFUSE(c, q->type, "a stream read");
	if (cr_array(r, &n) || n != 3 || cr_uint(r, &id) || cr_uint(r, &rid) ||
	    cr_uint(r, &wait_ms))
		return BAD(c, q->type, "stream-read");
	rc = store_stream_next(sv->store, c->owner, id, rid, &chunk);
	if (rc == 0)
		return reply_tree(c, q->type, chunk, 0);
	if (rc == -EAGAIN)
		return wait_or_time_out(c, q, wait_ms, "no chunk came");
	if (rc < 0)
		return reply_store_error(c, q->type, rc);
	/* the end: no tree */
	reply_begin(sv);
	cw_array(&sv->out, 3);
	cw_uint(&sv->out, 0);
	cw_array(&sv->out, 0);
	cw_array(&sv->out, 0);
	return reply_send(c, q->type, 0);
}

int
req_stream_close(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	uint64_t id, rid;
	size_t n;
	int rc;

	if (cr_array(r, &n) || n != 2 || cr_uint(r, &id) || cr_uint(r, &rid))
		return BAD(c, q->type, "stream-close");
	rc = store_stream_close(sv->store, c->owner, id, rid);
	if (rc)
		return reply_store_error(c, q->type, rc);
	reply_begin(sv);
	cw_array(&sv->out, 0);
	return reply_send(c, q->type, 0);
}

int
req_stream_info(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	struct store_info info;
	struct store_stream_info si;
	uint64_t id;
	size_t n;
	int rc;

	if (cr_array(r, &n) || n != 2 || cr_uint(r, &id))
		return BAD(c, q->type, "stream-info");
	if (stream_id(c, q, 0, &id, &rc) != 1)
		return rc;
	/* Its state and figures are read as its chunks are: the same
	 * permission as an open for reading. */
	rc = store_stream_info(sv->store, id, &si);
	if (rc == 0)
		rc = store_may_read(sv->store, c->owner, id, "read");
	if (rc == 0)
		rc = store_info(sv->store, id, &info);
	if (rc)
		return reply_store_error(c, q->type, rc);
	reply_begin(sv);
	cw_array(&sv->out, 12);
	cw_uint(&sv->out, id);
	cw_str(&sv->out, info.typename);
	cw_bool(&sv->out, si.objects);
	cw_uint(&sv->out, (uint64_t)si.state);
	cw_bool(&sv->out, si.writer);
	cw_uint(&sv->out, si.readers);
	cw_uint(&sv->out, si.appended);
	cw_uint(&sv->out, si.first);
	cw_uint(&sv->out, si.held);
	cw_uint(&sv->out, si.held_bytes);
	cw_uint(&sv->out, si.bytes);
	cw_str(&sv->out, si.why);
	return reply_send(c, q->type, 0);
}
