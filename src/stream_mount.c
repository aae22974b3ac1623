/*
 * stream_mount: what the mount reads of a byte stream: bytes at an offset
 * across its chunks (a reader at the end waits in the fs, not here), and
 * the size sealed so far. A mount reader is a stream reader like any
 * other, so chunks every reader has passed are freed.
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
	if (!(st = stream_find(s, id, &rc)))
		goto out;
	*size = st->bytes;
	if (st->objects) {
		rc = store_fail(-EINVAL, "an object stream has no bytes");
		goto out;
	}
	if (rid && !(r = stream_reader_of(s, st, ow, rid, &rc)))
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
			stream_trim(s, st);
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
		rc = store_fail(-EIO, "stream %s failed: %s", stream_sid_str(id, b),
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
	if ((st = stream_find(s, id, &rc)))
		*size = st->bytes;
	if (st && st->objects)
		rc = -EINVAL;
	store_unlock(s);
	return rc;
}
