/*
 * stream_persist: a stream that is persisted keeps its chunks as members
 * of its object (stream_keep), and a restored one comes back as a
 * finished stream whose chunks readers can read again (stream_restored).
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

int
stream_keep_check(struct store *s, struct object *o)
{
	struct stream *st = idtab_get(&s->streams, o->id);
	char buf[META_ID_LEN];

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
	return 0;
}

int
stream_keep(struct store *s, struct object *o)
{
	struct stream *st = idtab_get(&s->streams, o->id);
	struct meta_view v;
	char buf[META_ID_LEN], name[24];
	struct cw w;
	size_t i;
	int rc;

	if (!st || st->kept)
		return 0;
	if ((rc = stream_keep_check(s, o)))
		return rc;
	meta_id_format(o->id, buf);
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
	stream_changed(s, st);
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
