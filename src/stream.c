/*
 * stream: the state of streams kept beside their objects (see stream.h):
 * the chunks held, the writer, the readers and their positions, the
 * threshold that makes writers wait, and the hooks the rest of the store
 * calls when an owner goes away or a stream object is deleted. The mount's
 * reads are in stream_mount.c, persist and restore in stream_persist.c.
 *
 * A stream holds a reference on each chunk it holds (as a parent on a
 * member), so a chunk cannot be deleted from under it; freeing a chunk
 * drops that reference and deletes the chunk when nothing else holds it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cborio.h"
#include "meta.h"
#include "store_int.h"
#include "stream.h"
#include "stream_int.h"
#include "banned.h"

const char *
stream_sid_str(uint64_t id, char buf[META_ID_LEN])
{
	meta_id_format(id, buf);
	return buf;
}

void
stream_changed(struct store *s, struct stream *st)
{
	store_notify(s, STORE_EV_STREAM, st->id, NULL);
}

/* The stream id names, or NULL with the error set. */
struct stream *
stream_find(struct store *s, uint64_t id, int *rc)
{
	struct stream *st = idtab_get(&s->streams, id);
	char buf[META_ID_LEN];

	if (st)
		return st;
	if (store_lookup(s, id))
		*rc = store_fail(-EINVAL, "object %s is not a stream",
				 stream_sid_str(id, buf));
	else
		*rc = store_fail(-ENOENT, "no stream %s", stream_sid_str(id, buf));
	return NULL;
}

static int
not_writer(struct stream *st)
{
	char buf[META_ID_LEN];

	return store_fail(-EPERM, "this client is not the writer of stream "
			  "%s (open it for writing first)", stream_sid_str(st->id, buf));
}

static int
ended(struct stream *st)
{
	char buf[META_ID_LEN];

	if (st->state == STREAM_FAILED)
		return store_fail(-EIO, "stream %s failed: %s",
				  stream_sid_str(st->id, buf), st->why);
	return store_fail(-EINVAL, "stream %s is finished: no more chunks can "
			  "be added", stream_sid_str(st->id, buf));
}

void
store_stream_threshold(struct store *s, double fraction)
{
	store_lock(s);
	if (fraction <= 0 || fraction > 1)
		fraction = STREAM_DEFAULT_THRESHOLD;
	s->stream_limit = s->limit == UINT64_MAX ? UINT64_MAX :
		(uint64_t)((double)s->limit * fraction);
	store_unlock(s);
}

/* Whether len more bytes may be held by st now. */
static int
fits(struct store *s, struct stream *st, uint64_t len)
{
	if (st->held_bytes == 0)
		return 1;
	return s->stream_used + len >= len &&
	       s->stream_used + len <= s->stream_limit;
}

static int
no_room(struct store *s, struct stream *st, uint64_t len)
{
	char a[32], b[32], c[32], buf[META_ID_LEN];

	human_bytes(s->stream_used, a, sizeof(a));
	human_bytes(len, b, sizeof(b));
	human_bytes(s->stream_limit, c, sizeof(c));
	return store_fail(-EAGAIN, "stream %s: unread chunks hold %s; %s more "
			  "would pass the threshold of %s (vineyardd "
			  "--stream-threshold); waiting for readers to move on",
			  stream_sid_str(st->id, buf), a, b, c);
}

int
store_stream_create(struct store *s, struct store_owner *ow,
		    const char *typename, size_t typelen, int objects,
		    const char *name, size_t namelen, unsigned mode,
		    uint64_t *id)
{
	struct stream *st;
	struct object *o;
	struct cw w;
	int rc;

	cw_init(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_strn(&w, typename, typelen);
	cw_str(&w, "fields");
	cw_map(&w, 1);
	cw_str(&w, "kind");
	cw_str(&w, objects ? "objects" : "bytes");
	cw_str(&w, "members");
	cw_map(&w, 0);
	if (w.oom)
		fatalx("out of memory encoding a stream");
	rc = store_obj_put(s, ow, w.buf, w.len, NULL, 0, name, namelen, 0,
			   mode, id, NULL);
	cw_release(&w);
	if (rc)
		return rc;
	st = xcalloc(1, sizeof(*st));
	st->id = *id;
	st->state = STREAM_OPEN;
	st->objects = objects;
	store_lock(s);
	o = idtab_get(&s->objs, *id);
	if (!o) { /* deleted already by another thread: nothing to add */
		store_unlock(s);
		free(st);
		return store_fail(-ENOENT, "the stream was deleted as it was "
				  "created");
	}
	o->flags |= OBJ_STREAM;
	tab_put(&s->streams, st);
	stream_changed(s, st);
	store_unlock(s);
	return 0;
}

int
store_stream_open_writer(struct store *s, struct store_owner *ow,
			 uint64_t id)
{
	struct stream *st;
	char buf[META_ID_LEN];
	int rc = 0;

	store_lock(s);
	if (!(st = stream_find(s, id, &rc)))
		goto out;
	if (!obj_may(ow, store_lookup(s, id), PERM_W))
		rc = perm_deny(ow, store_lookup(s, id), "write");
	else if (st->state != STREAM_OPEN)
		rc = ended(st);
	else if (st->writer && st->writer != ow)
		rc = store_fail(-EBUSY, "stream %s already has a writer (%s)",
				stream_sid_str(id, buf), st->writer->label);
	else
		st->writer = ow;
out:
	store_unlock(s);
	return rc;
}

int
store_stream_open_reader(struct store *s, struct store_owner *ow,
			 uint64_t id, uint64_t *rid)
{
	struct stream *st;
	struct sreader *r;
	int rc = 0;

	store_lock(s);
	if (!(st = stream_find(s, id, &rc)))
		goto out;
	if (!obj_may(ow, store_lookup(s, id), PERM_R)) {
		rc = perm_deny(ow, store_lookup(s, id), "read");
		goto out;
	}
	r = xcalloc(1, sizeof(*r));
	r->rid = *rid = ++s->stream_rids;
	r->ow = ow;
	r->pos = r->keep = st->first;
	r->next = st->readers;
	st->readers = r;
	stream_changed(s, st);
out:
	store_unlock(s);
	return rc;
}

/* Drops the stream's hold on chunk c: deleted unless something else
 * (a name, a parent) keeps it. */
static void
chunk_free(struct store *s, struct stream *st, const struct schunk *c,
	   struct pjob **jp)
{
	struct object *o = idtab_get(&s->objs, c->id);
	size_t count = 0;

	st->held_bytes -= c->len;
	s->stream_used -= c->len;
	if (!o)
		return;
	if (o->refs)
		o->refs--;
	if (!o->refs && !o->names)
		obj_delete(s, o, 1, &count, jp, 0, NULL);
}

/* Frees the chunks every reader has moved past. */
void
stream_trim(struct store *s, struct stream *st)
{
	struct pjob *job = NULL;
	struct sreader *r;
	uint64_t keep = UINT64_MAX;
	int any = 0;

	if (!st->readers || st->kept)
		return; /* held for the reader to come, or for good */
	for (r = st->readers; r; r = r->next)
		if (r->keep < keep)
			keep = r->keep;
	while (st->head < st->n && st->first < keep) {
		chunk_free(s, st, &st->chunks[st->head], &job);
		st->head++;
		st->first++;
		any = 1;
	}
	if (st->head == st->n)
		st->head = st->n = 0;
	job_submit(s, job, 0);
	if (any)
		stream_changed(s, st);
}

/* Gives back the chunk being written, if any: its blob, never sealed,
 * goes at once (a writer's spare chunk, asked for with an append, that
 * the stream's end or a chunk of another size made useless). */
static void
drop_pending(struct store *s, struct stream *st)
{
	struct object *o;

	if (!st->pending)
		return;
	if ((o = idtab_del(&s->unsealed, st->pending)))
		obj_destroy(s, o);
	st->held_bytes -= st->pending_len;
	s->stream_used -= st->pending_len;
	st->pending = st->pending_len = 0;
}

int
store_stream_chunk(struct store *s, struct store_owner *ow, uint64_t id,
		   size_t len, uint64_t *chunk, int *fd)
{
	struct object *so;
	unsigned mode;
	struct stream *st;
	char buf[META_ID_LEN];
	int rc = 0;

	store_lock(s);
	if (!(st = stream_find(s, id, &rc)))
		goto out;
	if (st->writer != ow)
		rc = not_writer(st);
	else if (st->state != STREAM_OPEN)
		rc = ended(st);
	else if (st->objects)
		rc = store_fail(-EINVAL, "stream %s is an object stream: put "
				"each chunk as an object and append it",
				stream_sid_str(id, buf));
	else if (len == 0)
		rc = store_fail(-EINVAL, "a stream chunk needs at least one "
				"byte");
	if (rc)
		goto out;
	/* readers of the stream may read its chunks */
	so = store_lookup(s, id);
	mode = so ? so->mode : STORE_MODE_DEFAULT;
	/* A chunk asked for and never appended (the spare an append asked
	 * for, of another size than this one) is replaced. */
	drop_pending(s, st);
	if (!fits(s, st, len)) {
		rc = no_room(s, st, len);
		goto out;
	}
	store_unlock(s);
	rc = blob_create(s, ow, len, mode, 1, 0, chunk, fd, NULL);
	store_lock(s);
	if (rc)
		goto out;
	/* The server thread is the only one that changes streams, so st is
	 * still there: count the chunk from now on. */
	st->pending = *chunk;
	st->pending_len = len;
	st->held_bytes += len;
	s->stream_used += len;
out:
	store_unlock(s);
	return rc;
}

static int
hold_blob(struct store *s, struct object *o, void *ctx)
{
	(void)s;
	(void)ctx;
	if (o->flags & OBJ_BLOB)
		o->flags |= OBJ_HELD;
	return 0;
}

int
store_stream_append(struct store *s, struct store_owner *ow, uint64_t id,
		    uint64_t chunk)
{
	struct stream *st;
	struct object *o;
	char buf[META_ID_LEN], cb[META_ID_LEN];
	int rc = 0;

	store_lock(s);
	if (!(st = stream_find(s, id, &rc)))
		goto out;
	if (st->writer != ow) {
		rc = not_writer(st);
		goto out;
	}
	if (st->state != STREAM_OPEN) {
		rc = ended(st);
		goto out;
	}
	if (st->pending && chunk == st->pending) {
		int ro;

		if ((rc = find_unsealed(s, ow, chunk, &o)) ||
		    (rc = seal_prepare(s, o, &ro)))
			goto out;
		seal_commit(s, o, ro);
		o->flags |= OBJ_HELD; /* never spilled while readers come */
		st->pending = 0;
		/* its bytes stay counted, now as a chunk held */
		st->held_bytes -= st->pending_len;
		s->stream_used -= st->pending_len;
		st->pending_len = 0;
	} else if (!st->objects) {
		rc = store_fail(-EINVAL, "stream %s: a byte stream's chunk is "
				"the blob its writer asked for (stream-chunk)",
				stream_sid_str(id, buf));
		goto out;
	} else {
		if (!(o = idtab_get(&s->objs, chunk))) {
			rc = store_fail(-ENOENT, "no object %s to append",
					stream_sid_str(chunk, cb));
			goto out;
		}
		if (o->flags & OBJ_STREAM) {
			rc = store_fail(-EINVAL, "a stream cannot be a chunk "
					"of a stream");
			goto out;
		}
		if (!fits(s, st, o->nbytes)) {
			rc = no_room(s, st, o->nbytes);
			goto out;
		}
		/* its blobs stay in memory: a reader's get must not wait
		 * for a read back (one already spilled still would) */
		store_walk(s, o, hold_blob, NULL);
	}
	if (st->n == st->cap) {
		if (st->head > 0) {
			memmove(st->chunks, st->chunks + st->head,
				(st->n - st->head) * sizeof(*st->chunks));
			st->n -= st->head;
			st->head = 0;
		}
		if (st->n == st->cap) {
			st->cap = st->cap ? 2 * st->cap : 16;
			st->chunks = xreallocarray(st->chunks, st->cap,
						   sizeof(*st->chunks));
		}
	}
	st->chunks[st->n].id = chunk;
	st->chunks[st->n].start = st->bytes;
	st->chunks[st->n].len = o->nbytes;
	st->n++;
	o->refs++;
	st->bytes += o->nbytes;
	st->held_bytes += o->nbytes;
	s->stream_used += o->nbytes;
	if ((o = idtab_get(&s->objs, id)))
		o->nbytes = st->bytes;
	stream_changed(s, st);
out:
	store_unlock(s);
	return rc;
}


static void
end(struct store *s, struct stream *st, int failed, const char *why)
{
	drop_pending(s, st);
	st->state = failed ? STREAM_FAILED : STREAM_FINISHED;
	snprintf(st->why, sizeof(st->why), "%s", failed ? why : "");
	st->writer = NULL;
	stream_changed(s, st);
}

int
store_stream_end(struct store *s, struct store_owner *ow, uint64_t id,
		 int failed, const char *why)
{
	struct stream *st;
	int rc = 0;

	store_lock(s);
	if (!(st = stream_find(s, id, &rc)))
		goto out;
	if (st->writer != ow)
		rc = not_writer(st);
	else if (st->state != STREAM_OPEN)
		rc = ended(st);
	else
		end(s, st, failed, why && *why ? why :
		    "the writer failed it");
out:
	store_unlock(s);
	return rc;
}

struct sreader *
stream_reader_of(struct store *s, struct stream *st, struct store_owner *ow,
		 uint64_t rid, int *rc)
{
	struct sreader *r;

	for (r = st->readers; r; r = r->next)
		if (r->rid == rid && r->ow == ow)
			return r;
	(void)s;
	*rc = store_fail(-EBADF, "no reader %" PRIu64 " of this client on "
			 "the stream", rid);
	return NULL;
}

int
store_stream_next(struct store *s, struct store_owner *ow, uint64_t id,
		  uint64_t rid, uint64_t *chunk)
{
	struct stream *st;
	struct sreader *r;
	char buf[META_ID_LEN];
	int rc = 0;

	store_lock(s);
	if (!(st = stream_find(s, id, &rc)) || !(r = stream_reader_of(s, st, ow, rid, &rc)))
		goto out;
	/* It moved past the chunk it had. */
	r->keep = r->pos;
	if (r->pos < st->first)
		r->pos = r->keep = st->first;
	stream_trim(s, st);
	if (r->pos < st->first + (st->n - st->head)) {
		*chunk = st->chunks[st->head + (r->pos - st->first)].id;
		r->keep = r->pos++;
	} else if (st->state == STREAM_FINISHED) {
		rc = 1;
	} else if (st->state == STREAM_FAILED) {
		rc = store_fail(-EIO, "stream %s failed: %s",
				stream_sid_str(id, buf), st->why);
	} else {
		rc = store_fail(-EAGAIN, "stream %s: no chunk yet",
				stream_sid_str(id, buf));
	}
out:
	store_unlock(s);
	return rc;
}

static void
reader_drop(struct store *s, struct stream *st, struct sreader *r)
{
	struct sreader **pp;

	for (pp = &st->readers; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r);
	stream_trim(s, st);
	stream_changed(s, st);
}

int
store_stream_close(struct store *s, struct store_owner *ow, uint64_t id,
		   uint64_t rid)
{
	struct stream *st;
	struct sreader *r;
	int rc = 0;

	store_lock(s);
	if (!(st = stream_find(s, id, &rc)))
		goto out;
	if (rid == 0) {
		if (st->writer != ow)
			rc = not_writer(st);
		else if (st->state == STREAM_OPEN)
			end(s, st, 1, "the writer closed it without finishing");
	} else if ((r = stream_reader_of(s, st, ow, rid, &rc))) {
		reader_drop(s, st, r);
	}
out:
	store_unlock(s);
	return rc;
}

int
store_stream_info(struct store *s, uint64_t id, struct store_stream_info *out)
{
	struct stream *st;
	struct sreader *r;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	store_lock(s);
	if ((st = stream_find(s, id, &rc))) {
		out->state = st->state;
		out->objects = st->objects;
		out->writer = st->writer != NULL;
		for (r = st->readers; r; r = r->next)
			out->readers++;
		out->first = st->first;
		out->held = st->n - st->head;
		out->appended = st->first + out->held;
		out->held_bytes = st->held_bytes;
		out->bytes = st->bytes;
		snprintf(out->why, sizeof(out->why), "%s", st->why);
	}
	store_unlock(s);
	return rc;
}

int
store_stream_chunks(struct store *s, uint64_t id,
		    int (*fn)(void *ctx, const char *name, size_t len,
			      uint64_t chunk),
		    void *ctx)
{
	struct stream *st;
	char name[24];
	size_t i;
	int rc = 0;

	store_lock(s);
	st = idtab_get(&s->streams, id);
	if (st && st->kept) /* its chunks are members already */
		st = NULL;
	for (i = st && st->objects ? st->head : 0; st && st->objects &&
	     i < st->n && rc == 0; i++) {
		int k = snprintf(name, sizeof(name), "%" PRIu64,
				 st->first + (i - st->head));

		rc = fn(ctx, name, (size_t)k, st->chunks[i].id);
	}
	store_unlock(s);
	return rc;
}

void
store_stream_totals(struct store *s, struct store_stream_totals *t)
{
	struct stream *st;
	size_t pos = 0;

	memset(t, 0, sizeof(*t));
	store_lock(s);
	while ((st = idtab_next(&s->streams, &pos))) {
		t->streams++;
		t->open += st->state == STREAM_OPEN;
	}
	t->held_bytes = s->stream_used;
	t->threshold = s->stream_limit == UINT64_MAX ? 0 : s->stream_limit;
	store_unlock(s);
}

/* ---- hooks (store lock held) ---- */

void
stream_owner_gone(struct store *s, struct store_owner *ow)
{
	struct stream *st;
	size_t pos = 0;

	while ((st = idtab_next(&s->streams, &pos))) {
		struct sreader *r, *next;

		if (st->writer == ow) {
			if (st->state == STREAM_OPEN) {
				char why[240];

				snprintf(why, sizeof(why), "its writer (%s) "
					 "went away before finishing",
					 ow->label);
				end(s, st, 1, why);
			} else {
				st->writer = NULL;
			}
		}
		for (r = st->readers; r; r = next) {
			next = r->next;
			if (r->ow == ow)
				reader_drop(s, st, r);
		}
	}
}

void
stream_forget(struct store *s, uint64_t id, struct pjob **jp)
{
	struct stream *st = idtab_del(&s->streams, id);
	struct sreader *r;

	if (!st)
		return;
	drop_pending(s, st);
	/* (kept: its chunks are members now, which the delete lets go) */
	while (!st->kept && st->head < st->n)
		chunk_free(s, st, &st->chunks[st->head++], jp);
	while ((r = st->readers)) {
		st->readers = r->next;
		free(r);
	}
	store_notify(s, STORE_EV_STREAM, id, NULL);
	free(st->chunks);
	free(st);
}

int
stream_state_of(struct store *s, uint64_t id)
{
	struct stream *st = idtab_get(&s->streams, id);

	return st ? st->state : STREAM_NONE;
}

void
stream_free_all(struct store *s)
{
	struct stream *st;
	size_t pos = 0;

	while ((st = idtab_next(&s->streams, &pos))) {
		struct sreader *r;

		while ((r = st->readers)) {
			st->readers = r->next;
			free(r);
		}
		free(st->chunks);
		free(st);
	}
	idtab_release(&s->streams);
}
