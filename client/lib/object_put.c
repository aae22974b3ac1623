/*
 * object_put: vy_put_object. A put sends the whole tree (nested members
 * included) in one request, after one more for any small blobs being
 * written; on failure nothing it made is left behind.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "object_int.h"
#include "banned.h"

/* Collects the writers of the tree into *ws (growing it); -EINVAL when
 * objects nest deeper than max. */
static int
collect_writers(struct vy_meta *m, struct vy_writer ***ws, size_t *n,
		int depth, int max)
{
	size_t i;
	int rc;

	if (depth > max)
		return -EINVAL;
	for (i = 0; i < m->nmembers; i++) {
		struct vy_meta_member *mm = &m->members[i];

		if (mm->kind == MEM_WRITER) {
			/* Capacity doubles at 16, 32, 64...: a tree may hold
			 * tens of thousands of writers. */
			if (*n == 0 || (*n >= 16 && !(*n & (*n - 1)))) {
				size_t cap = *n ? 2 * *n : 16;
				struct vy_writer **v = realloc(*ws, cap *
							       sizeof(*v));

				if (!v)
					return -ENOMEM;
				*ws = v;
			}
			(*ws)[(*n)++] = mm->w;
		} else if (mm->kind == MEM_META) {
			rc = collect_writers(mm->child, ws, n, depth + 1, max);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void
encode_tree(const struct vy_meta *m, struct cw *w)
{
	size_t i;

	cw_map(w, 3);
	cw_str(w, "typename");
	cw_str(w, m->typename);
	cw_str(w, "fields");
	cw_map(w, m->nfields);
	cw_raw(w, m->fields.buf, m->fields.len);
	cw_str(w, "members");
	cw_map(w, m->nmembers);
	for (i = 0; i < m->nmembers; i++) {
		const struct vy_meta_member *mm = &m->members[i];

		cw_str(w, mm->name);
		if (mm->kind == MEM_META)
			encode_tree(mm->child, w);
		else
			cw_uint(w, mm->kind == MEM_WRITER ? mm->w->id : mm->id);
	}
}

/* Forgets the writers (they are consumed) so vy_meta_free skips them. */
static void
drop_writers(struct vy_meta *m)
{
	size_t i;

	for (i = 0; i < m->nmembers; i++) {
		if (m->members[i].kind == MEM_WRITER) {
			m->members[i].kind = MEM_ID;
			m->members[i].id = m->members[i].w->id;
			m->members[i].w = NULL;
		} else if (m->members[i].kind == MEM_META) {
			drop_writers(m->members[i].child);
		}
	}
}

VY_API int
vy_put_object(struct vy_client *c, struct vy_meta *m, const char *name,
	      int persist, vy_id *id)
{
	struct vy_writer **ws = NULL;
	struct vy_reply rep;
	struct cw tree;
	size_t nw = 0, i, nbig = 0;
	unsigned mode;
	int rc;

	cw_init(&tree);
	rc = vy__enter(c);
	if (rc)
		goto consume;
	rc = collect_writers(m, &ws, &nw, 0, META_MAX_DEPTH);
	if (rc) {
		vy__fail(c, rc, rc == -ENOMEM ? "out of memory" :
			 "objects nested deeper than %d", META_MAX_DEPTH);
		/* Collect them all, at any depth: every writer is consumed
		 * and its blob dropped at the daemon (below). */
		free(ws);
		ws = NULL;
		nw = 0;
		collect_writers(m, &ws, &nw, 0, INT_MAX);
		goto out;
	}
	mode = m->has_mode ? m->mode : c->mode;
	/* Small blobs first: they need ids before the tree can name them. */
	rc = vy__put_small(c, ws, nw, mode);
	if (rc)
		goto out;
	encode_tree(m, &tree);
	if ((rc = cw_finish(&tree))) {
		vy__fail(c, rc, "out of memory");
		goto out;
	}
	vy__req(c);
	cw_array(&c->req, 5);
	cw_bytes(&c->req, tree.buf, tree.len);
	for (i = 0; i < nw; i++)
		if (ws[i]->fd >= 0) {
			nbig++;
			vy__writer_unmap(ws[i]);
		}
	cw_array(&c->req, nbig);
	for (i = 0; i < nw; i++)
		if (ws[i]->fd >= 0)
			cw_uint(&c->req, ws[i]->id);
	vy__str_or_null(&c->req, name);
	cw_bool(&c->req, persist);
	cw_uint(&c->req, mode);
	rc = vy__rt(c, MSG_OBJ_PUT, 0, &rep);
	if (rc == 0)
		rc = vy__reply_uint(c, &rep, "obj-put", id);
out:
	if (rc && !c->broken) {
		/* Leave nothing half-made: unsealed blobs go, and small ones
		 * already stored are deleted again. */
		char saved[sizeof(c->err)];

		memcpy(saved, c->err, sizeof(saved));
		for (i = 0; i < nw; i++) {
			if (ws[i]->fd >= 0) {
				vy__abort_big(c, ws[i]);
			} else if (ws[i]->id) {
				vy__delete(c, &ws[i]->id, 1, 0, NULL);
			}
		}
		memcpy(c->err, saved, sizeof(saved));
	}
	vy__leave(c);
consume:
	if (!ws)
		collect_writers(m, &ws, &nw, 0, INT_MAX);
	drop_writers(m);
	for (i = 0; i < nw; i++)
		vy__writer_free(ws[i]);
	free(ws);
	cw_release(&tree);
	return rc;
}

/* A global object: every member must already be stored (an id) on some
 * instance; m is not consumed. */
VY_API int
vy_put_global(struct vy_client *c, const struct vy_meta *m, vy_id *id)
{
	struct vy_reply rep;
	struct cw tree;
	size_t i;
	int rc;

	for (i = 0; i < m->nmembers; i++)
		if (m->members[i].kind != MEM_ID)
			return vy__fail(c, -EINVAL, "member %s of a global "
					"object: its members are stored "
					"objects (ids), not new ones",
					m->members[i].name);
	cw_init(&tree);
	encode_tree(m, &tree);
	if ((rc = cw_finish(&tree))) {
		cw_release(&tree);
		return vy__fail(c, rc, "out of memory");
	}
	if ((rc = vy__enter(c))) {
		cw_release(&tree);
		return rc;
	}
	vy__req(c);
	cw_array(&c->req, 1);
	cw_bytes(&c->req, tree.buf, tree.len);
	rc = vy__rt(c, MSG_GLOBAL_PUT, 0, &rep);
	if (rc == 0)
		rc = vy__reply_uint(c, &rep, "global-put", id);
	vy__leave(c);
	cw_release(&tree);
	return rc;
}
