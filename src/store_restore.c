/*
 * store_restore: start-up: scans the data directory, checks what
 * each file needs, and rebuilds objects, names and persistence
 * bookkeeping from the files that pass; the rest moves to damaged/.
 * Owners and modes come from the files (format 2); objects and names of
 * format-1 files belong to the daemon's user and group, mode 0640.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"
#include "banned.h"

/* ---- start-up: restoring the data directory ---- */

struct rent {
	uint64_t id;          /* first: idtab key */
	uint8_t content;      /* its .blob or .obj passed the checks */
	uint8_t anchor;       /* its .anchor passed them */
	uint8_t state;        /* graph check: 0 new, 1 on the path, 2 good,
			       * 3 bad (a member missing, damaged or a cycle) */
	uint8_t keep;         /* reachable from an anchor or a root file */
	uint8_t root;         /* its content file has DISKFMT_F_ROOT */
	uint8_t explicit_;
	uint64_t content_len; /* file bytes */
	uint64_t anchor_len;
	uint64_t raw;         /* blob bytes, or document bytes */
	uint8_t *small;       /* small blob: its bytes, already decoded */
	uint8_t *doc;         /* composite: its document */
	uint64_t *members;    /* composite: member ids, one per entry */
	size_t nmembers;
	uint64_t seq;         /* anchor */
	char **names;
	struct diskfmt_owner *name_owners; /* nnames: who bound each */
	size_t nnames;
	struct diskfmt_owner owner;  /* content file's */
	uint8_t has_owner;    /* format 2: owner is set */
};

struct restore {
	struct store *s;
	struct idtab t;       /* struct rent */
	struct rent **order;  /* good rents, members before parents */
	size_t norder;
	uint64_t damaged;     /* files moved aside */
	uint64_t removed;     /* leftover files of unfinished persists */
};

static struct rent *
rent_get(struct restore *r, uint64_t id)
{
	struct rent *x = idtab_get(&r->t, id);

	if (!x) {
		x = xcalloc(1, sizeof(*x));
		x->id = id;
		tab_put(&r->t, x);
	}
	return x;
}

static const char *
restore_blob(struct restore *r, const struct persist_entry *e)
{
	const struct diskfmt_hdr *h = &e->hdr;
	struct rent *x;
	const char *why;
	uint8_t *b = NULL;

	if (!meta_id_is_blob(h->id))
		return "a blob file named after an object id";
	if (h->raw_len > SIZE_MAX / 2)
		return "blob too large for this machine";
	if (e->body && h->raw_len <= PROTO_SMALL_MAX) {
		/* Small: decoded now, checksum included. */
		b = xmalloc(h->raw_len ? (size_t)h->raw_len : 1);
		if (diskfmt_blob_decode_mem(e->body, (size_t)h->body_len, b,
					    h->raw_len, &why)) {
			free(b);
			return why;
		}
	}
	x = rent_get(r, h->id);
	x->content = 1;
	x->root = (h->flags & DISKFMT_F_ROOT) != 0;
	x->content_len = e->file_len;
	x->raw = h->raw_len;
	x->small = b;
	x->owner = h->owner;
	x->has_owner = (uint8_t)h->has_owner;
	return NULL;
}

static const char *
restore_object(struct restore *r, const struct persist_entry *e)
{
	const struct diskfmt_hdr *h = &e->hdr;
	struct meta_members it;
	struct meta_view v;
	struct rent *x;
	const char *why;
	const void *doc;
	size_t dl, n, i;
	uint64_t *members;

	if (meta_id_is_blob(h->id))
		return "an object file named after a blob id";
	if (diskfmt_object_parse(h, e->body, &doc, &dl, &why))
		return why;
	if (dl > META_MAX_LEN || meta_view_parse(doc, dl, &v))
		return "malformed metadata document";
	n = v.nmembers;
	members = xcalloc(n ? n : 1, sizeof(*members));
	meta_members_init(&it, &v);
	for (i = 0; i < n; i++) {
		if (meta_members_next(&it) <= 0 || it.id == 0 ||
		    it.id == h->id) {
			free(members);
			return "malformed member list";
		}
		members[i] = it.id;
	}
	x = rent_get(r, h->id);
	x->content = 1;
	x->root = (h->flags & DISKFMT_F_ROOT) != 0;
	x->content_len = e->file_len;
	x->raw = dl;
	x->doc = xmemdup(doc, dl);
	x->members = members;
	x->nmembers = n;
	x->owner = h->owner;
	x->has_owner = (uint8_t)h->has_owner;
	return NULL;
}

static const char *
restore_anchor(struct restore *r, const struct persist_entry *e)
{
	struct diskfmt_anchor a;
	struct rent *x;
	const char *why;
	size_t i;

	if (diskfmt_anchor_parse(&e->hdr, e->body, &a, &why))
		return why;
	x = rent_get(r, e->hdr.id);
	x->names = xcalloc(a.nnames ? a.nnames : 1, sizeof(*x->names));
	x->name_owners = xcalloc(a.nnames ? a.nnames : 1,
				 sizeof(*x->name_owners));
	for (i = 0; i < a.nnames; i++) {
		const char *nm;
		size_t len;

		/* Format 1 records no owner: the daemon's. */
		x->name_owners[i].uid = r->s->uid;
		x->name_owners[i].gid = r->s->gid;
		diskfmt_anchor_name(&a, &nm, &len, &x->name_owners[i]);
		if (names_check(nm, len, &why)) {
			while (i-- > 0)
				free(x->names[i]);
			free(x->names);
			free(x->name_owners);
			x->names = NULL;
			x->name_owners = NULL;
			return "an invalid name in the anchor";
		}
		x->names[i] = xmalloc(len + 1);
		memcpy(x->names[i], nm, len);
		x->names[i][len] = 0;
	}
	x->nnames = a.nnames;
	x->anchor = 1;
	x->anchor_len = e->file_len;
	x->seq = a.seq;
	x->explicit_ = a.explicit_ != 0;
	return NULL;
}

static const char *
restore_file(void *ctx, const struct persist_entry *e)
{
	struct restore *r = ctx;

	switch (e->hdr.kind) {
	case DISKFMT_BLOB: return restore_blob(r, e);
	case DISKFMT_OBJECT: return restore_object(r, e);
	default: return restore_anchor(r, e);
	}
}

static void
restore_aside(struct restore *r, struct rent *x, const char *why)
{
	if (x->content) {
		persist_quarantine(r->s->disk, meta_id_is_blob(x->id) ?
				   DISKFMT_BLOB : DISKFMT_OBJECT, x->id, why);
		r->damaged++;
	}
	if (x->anchor) {
		persist_quarantine(r->s->disk, DISKFMT_ANCHOR, x->id, why);
		r->damaged++;
	}
	x->content = x->anchor = 0;
}

static void
order_add(struct restore *r, struct rent *x)
{
	x->state = 2;
	r->order = xreallocarray(r->order, r->norder + 1, sizeof(*r->order));
	r->order[r->norder++] = x;
}

/* Marks root and what it needs good (every member present and good, no
 * cycle) or bad, depth first without recursion: files can describe
 * arbitrarily long chains, and cycles no writer of ours produces. */
static void
restore_check(struct restore *r, struct rent *root)
{
	struct frame {
		struct rent *x;
		size_t next;
	} *st = xmalloc(sizeof(*st));
	size_t depth = 0, cap = 1;
	int bad = 0;

	st[depth++] = (struct frame){ root, 0 };
	root->state = 1;
	while (depth > 0) {
		struct frame *f = &st[depth - 1];
		struct rent *x = f->x, *m;

		if (bad) {
			/* Whatever is on the path contains the bad one. */
			x->state = 3;
			depth--;
			continue;
		}
		if (f->next == x->nmembers) {
			order_add(r, x);
			depth--;
			continue;
		}
		m = idtab_get(&r->t, x->members[f->next++]);
		if (!m || !m->content || m->state == 1 || m->state == 3) {
			bad = 1;
			continue;
		}
		if (m->state == 2)
			continue;
		if (depth == cap) {
			cap *= 2;
			st = xreallocarray(st, cap, sizeof(*st));
		}
		m->state = 1;
		st[depth++] = (struct frame){ m, 0 };
	}
	free(st);
}

static void
restore_keep(struct restore *r, struct rent *root)
{
	struct rent **st = xmalloc(sizeof(*st));
	size_t depth = 0, cap = 1, i;

	root->keep = 1;
	st[depth++] = root;
	while (depth > 0) {
		struct rent *x = st[--depth];

		for (i = 0; i < x->nmembers; i++) {
			struct rent *m = idtab_get(&r->t, x->members[i]);

			if (m->keep)
				continue;
			m->keep = 1;
			if (depth == cap) {
				cap *= 2;
				st = xreallocarray(st, cap, sizeof(*st));
			}
			st[depth++] = m;
		}
	}
	free(st);
}

struct rname {
	uint64_t seq;
	struct object *o;
	const char *name;
	const struct diskfmt_owner *owner;
};

static int
rname_cmp(const void *a, const void *b)
{
	const struct rname *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Makes the store objects, members before parents. */
static void
restore_build(struct restore *r, uint64_t *nlazy)
{
	struct store *s = r->s;
	size_t i, k;

	for (i = 0; i < r->norder; i++) {
		struct rent *x = r->order[i];
		struct object *o;
		struct pobj *p;

		if (!x->keep)
			continue;
		o = xcalloc(1, sizeof(*o));
		o->id = x->id;
		o->flags = OBJ_SEALED | OBJ_PERSISTED;
		if (x->has_owner) {
			o->uid = x->owner.uid;
			o->gid = x->owner.gid;
			o->mode = x->owner.mode;
		} else {
			o->uid = s->uid;
			o->gid = s->gid;
			o->mode = STORE_MODE_DEFAULT;
		}
		if (meta_id_is_blob(x->id)) {
			uint32_t seg, off;

			o->flags |= OBJ_BLOB;
			o->nbytes = x->raw;
			if (x->small && slab_alloc(&s->slab, (size_t)x->raw,
						   &seg, &off) == 0) {
				if (x->raw)
					memcpy(slab_ptr(&s->slab, seg, off),
					       x->small, (size_t)x->raw);
				o->flags |= OBJ_SMALL;
				o->u.small.seg = seg;
				o->u.small.off = off;
				s->payload += x->raw;
			} else {
				o->flags |= OBJ_LAZY;
				o->u.big.fd = o->u.big.rofd = -1;
				s->lazy_bytes += x->raw;
				(*nlazy)++;
			}
			s->nblobs++;
		} else {
			o->u.meta = x->doc;
			o->metalen = (uint32_t)x->raw;
			x->doc = NULL;
			for (k = 0; k < x->nmembers; k++) {
				struct object *m = idtab_get(&s->objs,
							     x->members[k]);

				m->refs++;
				o->nbytes += m->nbytes;
				((struct pobj *)idtab_get(&s->pobjs,
							  m->id))->prefs++;
			}
		}
		tab_put(&s->objs, o);
		if (!(o->flags & OBJ_BLOB)) /* a persisted stream: again */
			stream_restored(s, o);
		p = xcalloc(1, sizeof(*p));
		p->id = x->id;
		p->explicit_ = x->explicit_ || x->root;
		p->rootfile = x->root;
		p->anchored = x->anchor;
		p->content = x->content_len;
		p->anchor = x->anchor_len;
		p->raw = x->raw;
		tab_put(&s->pobjs, p);
		s->disk_bytes += p->content + p->anchor;
		s->disk_raw += p->raw;
		s->npersisted++;
	}
}

/* Binds the names anchors carry; where two claim one name (a crash
 * between rewriting both), the later write wins. */
static uint64_t
restore_names(struct restore *r)
{
	struct rname *v = NULL;
	struct rent *x;
	size_t n = 0, pos = 0, i;
	uint64_t maxseq = 0;

	while ((x = idtab_next(&r->t, &pos))) {
		if (x->seq > maxseq)
			maxseq = x->seq;
		if (!x->keep || !x->anchor)
			continue;
		for (i = 0; i < x->nnames; i++) {
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n].seq = x->seq;
			v[n].o = idtab_get(&r->s->objs, x->id);
			v[n].name = x->names[i];
			v[n].owner = &x->name_owners[i];
			n++;
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), rname_cmp);
	for (i = 0; i < n; i++) {
		struct object *old;
		struct name *nm;

		nm = names_bind(&r->s->names, v[i].name, strlen(v[i].name),
				v[i].o, &old);
		nm->uid = v[i].owner->uid;
		nm->gid = v[i].owner->gid;
	}
	free(v);
	r->s->seq = maxseq + 1;
	return n;
}

int
store_restore(struct store *s)
{
	struct persist_scan_stats st;
	struct restore r;
	struct rent *x;
	struct timespec t0, t1;
	size_t pos, i;
	uint64_t nlazy = 0;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&r, 0, sizeof(r));
	r.s = s;
	idtab_init(&r.t);
	rc = persist_scan(s->disk, restore_file, &r, &st);
	if (rc)
		fatalx("%s", persist_errmsg());
	r.damaged = st.damaged;
	/* An anchor whose object's file is gone or damaged. */
	pos = 0;
	while ((x = idtab_next(&r.t, &pos)))
		if (x->anchor && !x->content)
			restore_aside(&r, x, "the object's own file is missing "
				      "or damaged");
	/* Blobs are whole by themselves; composites need all members. */
	pos = 0;
	while ((x = idtab_next(&r.t, &pos)))
		if (x->content && meta_id_is_blob(x->id))
			order_add(&r, x);
	pos = 0;
	while ((x = idtab_next(&r.t, &pos)))
		if (x->content && x->state == 0)
			restore_check(&r, x);
	pos = 0;
	while ((x = idtab_next(&r.t, &pos)))
		if (x->state == 3)
			restore_aside(&r, x, "a member is missing or damaged; "
				      "not restored half");
	/* What anchors and root files reach comes back. */
	for (i = 0; i < r.norder; i++)
		if ((r.order[i]->anchor || r.order[i]->root) &&
		    !r.order[i]->keep)
			restore_keep(&r, r.order[i]);
	/* The rest was written by a persist a crash cut short. When files
	 * were damaged, an anchor may be what is missing: keep them aside
	 * rather than remove them. */
	for (i = 0; i < r.norder; i++) {
		x = r.order[i];
		if (x->keep)
			continue;
		if (r.damaged) {
			restore_aside(&r, x, "no persisted object refers to "
				      "it and other files are damaged");
		} else {
			persist_remove(s->disk, meta_id_is_blob(x->id) ?
				       DISKFMT_BLOB : DISKFMT_OBJECT, x->id);
			persist_remove(s->disk, DISKFMT_ANCHOR, x->id);
			r.removed++;
		}
	}
	if (r.removed) {
		persist_sync_dir(s->disk);
		log_info("persist: removed %" PRIu64 " file%s of an "
			 "unfinished persist", r.removed,
			 r.removed == 1 ? "" : "s");
	}
	slab_limit_update(s);
	restore_build(&r, &nlazy);
	i = restore_names(&r);
	s->damaged = r.damaged;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("persist: restored %" PRIu64 " objects (%" PRIu64 " blobs, %"
		 PRIu64 " read back on first use) and %zu names from %s in %.0f "
		 "ms", s->npersisted, s->nblobs, nlazy, i,
		 persist_dir(s->disk), (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		 (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (r.damaged)
		log_warnx("persist: %" PRIu64 " damaged file%s skipped; see %s/"
			  "damaged", r.damaged, r.damaged == 1 ? "" : "s",
			  persist_dir(s->disk));
	pos = 0;
	while ((x = idtab_next(&r.t, &pos))) {
		for (i = 0; i < x->nnames; i++)
			free(x->names[i]);
		free(x->names);
		free(x->name_owners);
		free(x->small);
		free(x->doc);
		free(x->members);
		free(x);
	}
	idtab_release(&r.t);
	free(r.order);
	return 0;
}
