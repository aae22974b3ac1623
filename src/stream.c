/*
 * stream: the state of streams kept beside their objects (see stream.h):
 * the chunks held, the writer, the readers and their positions, the
 * threshold that makes writers wait, and the hooks the rest of the store
 * calls when an owner goes away or a stream object is deleted.
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
#include "banned.h"

struct schunk {
	uint64_t id;
	uint64_t start;       /* byte offset in the stream */
	uint64_t len;
};

struct sreader {
	uint64_t rid;
	struct store_owner *ow;
	uint64_t pos;         /* index of the next chunk to hand out */
	uint64_t keep;        /* chunks from here on are still needed */
	struct sreader *next;
};

struct stream {
	uint64_t id;          /* first: idtab key (the stream object's) */
	int state;            /* enum stream_state */
	int objects;
	struct store_owner *writer;
	uint64_t pending;     /* byte streams: the blob being written, 0 */
	uint64_t pending_len;
	struct schunk *chunks; /* held, in order: chunks[head..n) */
	size_t head, n, cap;
	uint64_t first;       /* stream index of chunks[head] */
	uint64_t held_bytes;  /* of chunks held, plus pending_len */
	uint64_t bytes;       /* ever appended */
	struct sreader *readers;
	int kept;             /* persisted: its chunks are members, kept */
	char why[240];
};

static const char *
sid_str(uint64_t id, char buf[META_ID_LEN])
{
	meta_id_format(id, buf);
	return buf;
}

static void
changed(struct store *s, struct stream *st)
{
	store_notify(s, STORE_EV_STREAM, st->id, NULL);
}

/* The stream id names, or NULL with the error set. */
static struct stream *
find(struct store *s, uint64_t id, int *rc)
{
	struct stream *st = idtab_get(&s->streams, id);
	char buf[META_ID_LEN];

	if (st)
		return st;
	if (store_lookup(s, id))
		*rc = store_fail(-EINVAL, "object %s is not a stream",
				 sid_str(id, buf));
	else
		*rc = store_fail(-ENOENT, "no stream %s", sid_str(id, buf));
	return NULL;
}

static int
not_writer(struct stream *st)
{
	char buf[META_ID_LEN];

	return store_fail(-EPERM, "this client is not the writer of stream "
			  "%s (open it for writing first)", sid_str(st->id, buf));
}

static int
ended(struct stream *st)
{
	char buf[META_ID_LEN];

	if (st->state == STREAM_FAILED)
		return store_fail(-EIO, "stream %s failed: %s",
				  sid_str(st->id, buf), st->why);
	return store_fail(-EINVAL, "stream %s is finished: no more chunks can "
			  "be added", sid_str(st->id, buf));
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
			  sid_str(st->id, buf), a, b, c);
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
	changed(s, st);
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
	if (!(st = find(s, id, &rc)))
		goto out;
	if (!obj_may(ow, store_lookup(s, id), PERM_W))
		rc = perm_deny(ow, store_lookup(s, id), "write");
	else if (st->state != STREAM_OPEN)
		rc = ended(st);
	else if (st->writer && st->writer != ow)
		rc = store_fail(-EBUSY, "stream %s already has a writer (%s)",
				sid_str(id, buf), st->writer->label);
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
	if (!(st = find(s, id, &rc)))
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
	changed(s, st);
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
static void
trim(struct store *s, struct stream *st)
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
		changed(s, st);
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
	if (!(st = find(s, id, &rc)))
		goto out;
	if (st->writer != ow)
		rc = not_writer(st);
	else if (st->state != STREAM_OPEN)
		rc = ended(st);
	else if (st->objects)
		rc = store_fail(-EINVAL, "stream %s is an object stream: put "
				"each chunk as an object and append it",
				sid_str(id, buf));
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
	rc = blob_create(s, ow, len, mode, 1, 0, chunk, fd);
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
	if (!(st = find(s, id, &rc)))
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
				sid_str(id, buf));
		goto out;
	} else {
		if (!(o = idtab_get(&s->objs, chunk))) {
			rc = store_fail(-ENOENT, "no object %s to append",
					sid_str(chunk, cb));
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
	changed(s, st);
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
	changed(s, st);
}

int
store_stream_end(struct store *s, struct store_owner *ow, uint64_t id,
		 int failed, const char *why)
{
	struct stream *st;
	int rc = 0;

	store_lock(s);
	if (!(st = find(s, id, &rc)))
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

static struct sreader *
reader_of(struct store *s, struct stream *st, struct store_owner *ow,
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
	if (!(st = find(s, id, &rc)) || !(r = reader_of(s, st, ow, rid, &rc)))
		goto out;
	/* It moved past the chunk it had. */
	r->keep = r->pos;
	if (r->pos < st->first)
		r->pos = r->keep = st->first;
	trim(s, st);
	if (r->pos < st->first + (st->n - st->head)) {
		*chunk = st->chunks[st->head + (r->pos - st->first)].id;
		r->keep = r->pos++;
	} else if (st->state == STREAM_FINISHED) {
		rc = 1;
	} else if (st->state == STREAM_FAILED) {
		rc = store_fail(-EIO, "stream %s failed: %s",
				sid_str(id, buf), st->why);
	} else {
		rc = store_fail(-EAGAIN, "stream %s: no chunk yet",
				sid_str(id, buf));
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
	trim(s, st);
	changed(s, st);
}

int
store_stream_close(struct store *s, struct store_owner *ow, uint64_t id,
		   uint64_t rid)
{
	struct stream *st;
	struct sreader *r;
	int rc = 0;

	store_lock(s);
	if (!(st = find(s, id, &rc)))
		goto out;
	if (rid == 0) {
		if (st->writer != ow)
			rc = not_writer(st);
		else if (st->state == STREAM_OPEN)
			end(s, st, 1, "the writer closed it without finishing");
	} else if ((r = reader_of(s, st, ow, rid, &rc))) {
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
	if ((st = find(s, id, &rc))) {
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

/* ---- the mount ---- */

/* Copies from chunk c at byte off of the stream; the lock is held, and
 * the chunk is a sealed blob. */
static size_t
copy_out(struct store *s, const struct schunk *c, uint64_t off, void *buf,
	 size_t len)
{
	struct object *o = idtab_get(&s->objs, c->id);
	uint64_t at = off - c->start;
	size_t n = len;
	ssize_t k;

	if (!o || !(o->flags & OBJ_BLOB) || (o->flags & OBJ_LAZY))
		return 0;
	if (n > c->len - at)
		n = (size_t)(c->len - at);
	if (o->flags & OBJ_SMALL) {
		memcpy(buf, slab_ptr(&s->slab, o->u.small.seg,
				     o->u.small.off) + at, n);
		return n;
	}
	k = pread(o->u.big.rofd, buf, n, (off_t)at);
	return k > 0 ? (size_t)k : 0;
}

int
store_stream_pread(struct store *s, struct store_owner *ow, uint64_t id,
		   uint64_t rid, uint64_t off, uint64_t back, void *buf,
		   size_t len, size_t *n, uint64_t *size)
{
	struct stream *st;
	struct sreader *r = NULL;
	char b[META_ID_LEN];
	size_t i;
	int rc = 0;

	*n = 0;
	store_lock(s);
again:
	if (!(st = find(s, id, &rc)))
		goto out;
	*size = st->bytes;
	if (st->objects) {
		rc = store_fail(-EINVAL, "an object stream has no bytes");
		goto out;
	}
	if (rid && !(r = reader_of(s, st, ow, rid, &rc)))
		goto out;
	/* The reader moves past the chunks wholly before off - back (a
	 * window kept for reads that step back, as tail's do). */
	if (r) {
		uint64_t k = st->first, to = off > back ? off - back : 0;

		for (i = st->head; i < st->n; i++, k++)
			if (st->chunks[i].start + st->chunks[i].len > to)
				break;
		if (k > r->keep) {
			r->keep = r->pos = k;
			trim(s, st);
		}
	}
	if (off < st->bytes && (st->head == st->n ||
				off < st->chunks[st->head].start)) {
		rc = store_fail(-ENODATA, "those bytes were freed once every "
				"reader had read them");
		goto out;
	}
	if (off < st->bytes) {
		for (i = st->head; i < st->n; i++) {
			const struct schunk *c = &st->chunks[i];

			struct object *co;

			if (off >= c->start + c->len)
				continue;
			/* a persisted stream's chunk restored or spilled:
			 * read back first (the lock is let go meanwhile,
			 * so look again after) */
			co = idtab_get(&s->objs, c->id);
			if (co && (co->flags & OBJ_LAZY)) {
				if ((rc = load_blob(s, c->id)))
					goto out;
				goto again;
			}
			*n = copy_out(s, c, off, buf, len);
			break;
		}
		if (*n == 0 && len)
			rc = store_fail(-EIO, "a chunk could not be read");
	} else if (len && st->state == STREAM_FAILED) {
		rc = store_fail(-EIO, "stream %s failed: %s", sid_str(id, b),
				st->why);
	} else if (len && st->state == STREAM_OPEN) {
		rc = -EAGAIN;
	}
out:
	store_unlock(s);
	return rc;
}

int
store_stream_size(struct store *s, uint64_t id, uint64_t *size)
{
	struct stream *st;
	int rc = 0;

	store_lock(s);
	if ((st = find(s, id, &rc)))
		*size = st->bytes;
	if (st && st->objects)
		rc = -EINVAL;
	store_unlock(s);
	return rc;
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
stream_keep(struct store *s, struct object *o)
{
	struct stream *st = idtab_get(&s->streams, o->id);
	struct meta_view v;
	char buf[META_ID_LEN], name[24];
	struct cw w;
	size_t i;

	if (!st || st->kept)
		return 0;
	meta_id_format(o->id, buf);
	if (st->state == STREAM_OPEN)
		return store_fail(-EBUSY, "stream %s is still open: it can be "
				  "persisted once its writer finishes it", buf);
	if (st->state == STREAM_FAILED)
		return store_fail(-ENOTSUP, "stream %s failed (%s): only a "
				  "finished stream can be persisted", buf,
				  st->why);
	if (st->first > 0)
		return store_fail(-ENOTSUP, "stream %s: its first %" PRIu64
				  " chunks were freed once every reader had "
				  "read them; only a stream that still holds "
				  "every chunk can be persisted", buf,
				  st->first);
	if (meta_view_parse(o->u.meta, o->metalen, &v))
		fatalx("store: stored metadata of stream %s is corrupt", buf);
	/* The chunks become members: the stream's hold on each (a parent's
	 * reference) is theirs now. */
	cw_init(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_strn(&w, v.typename, v.typelen);
	cw_str(&w, "fields");
	cw_map(&w, 2);
	cw_str(&w, "kind");
	cw_str(&w, st->objects ? "objects" : "bytes");
	cw_str(&w, "stream");
	cw_str(&w, "finished");
	cw_str(&w, "members");
	cw_map(&w, st->n - st->head);
	for (i = st->head; i < st->n; i++) {
		snprintf(name, sizeof(name), "%zu", i - st->head);
		cw_str(&w, name);
		cw_uint(&w, st->chunks[i].id);
	}
	if (w.oom)
		fatalx("out of memory encoding a stream");
	free(o->u.meta);
	o->u.meta = xmemdup(w.buf, w.len);
	o->metalen = (uint32_t)w.len;
	cw_release(&w);
	/* no longer unread chunks that hold writers back */
	s->stream_used -= st->held_bytes;
	st->held_bytes = 0;
	st->kept = 1;
	changed(s, st);
	return 0;
}

/* The value of fields[key] if a string, else NULL. */
static const char *
field_str(const struct meta_view *v, const char *key, size_t *len)
{
	struct cr r;
	struct cr_item k;
	const char *val;
	size_t n, i;

	cr_init(&r, v->fields, v->fieldslen);
	if (cr_map(&r, &n))
		return NULL;
	for (i = 0; i < n; i++) {
		if (cr_next(&r, &k))
			return NULL;
		if (k.kind == CR_STR && cr_streq(&k, key)) {
			if (cr_str(&r, &val, len))
				return NULL;
			return val;
		}
		if (cr_skip(&r, 16))
			return NULL;
	}
	return NULL;
}

void
stream_restored(struct store *s, struct object *o)
{
	struct meta_members it;
	struct meta_view v;
	struct stream *st;
	const char *f;
	size_t len;

	if ((o->flags & OBJ_BLOB) ||
	    meta_view_parse(o->u.meta, o->metalen, &v) ||
	    !(f = field_str(&v, "stream", &len)) || len != 8 ||
	    memcmp(f, "finished", 8) != 0)
		return;
	st = xcalloc(1, sizeof(*st));
	st->id = o->id;
	st->state = STREAM_FINISHED;
	st->kept = 1;
	f = field_str(&v, "kind", &len);
	st->objects = f && len == 7 && memcmp(f, "objects", 7) == 0;
	meta_members_init(&it, &v);
	while (meta_members_next(&it) > 0) {
		struct object *m = idtab_get(&s->objs, it.id);

		if (st->n == st->cap) {
			st->cap = st->cap ? 2 * st->cap : 16;
			st->chunks = xreallocarray(st->chunks, st->cap,
						   sizeof(*st->chunks));
		}
		st->chunks[st->n].id = it.id;
		st->chunks[st->n].start = st->bytes;
		st->chunks[st->n].len = m ? m->nbytes : 0;
		st->bytes += st->chunks[st->n].len;
		st->n++;
	}
	o->flags |= OBJ_STREAM;
	tab_put(&s->streams, st);
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
