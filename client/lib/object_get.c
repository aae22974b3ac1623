/*
 * object_get: vy_get, vy_get_meta, vy_get_by_name and vy_object_release.
 * A get receives every object and blob of the tree in one reply, maps the
 * blobs and links the nodes by id; the release gives it all back. Over
 * TCP nothing can be mapped: the tree comes as metadata and each blob's
 * bytes are copied into memory of the tree's own (copy_blobs).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "object_int.h"
#include "banned.h"

static void
node_free(struct vy_object *o)
{
	size_t i;

	for (i = 0; i < o->nmembers; i++)
		free(o->mnames[i]);
	for (i = 0; i < o->nstrs; i++)
		free(o->strs[i]);
	free(o->strs);
	free(o->mnames);
	free(o->members);
	free(o->meta);
	free(o->typebuf);
	free(o);
}

static void
tree_free(struct vy_tree *t)
{
	struct vy_object *o;
	size_t pos = 0;

	while ((o = idtab_next(&t->nodes, &pos))) {
		if (t->copied && o->is_blob)
			vy__copy_free((void *)(uintptr_t)o->data,
				      (size_t)o->nbytes);
		node_free(o);
	}
	idtab_release(&t->nodes);
	free(t->pinned);
	free(t);
}

static struct vy_object *
node_new(struct vy_tree *t, vy_id id)
{
	struct vy_object *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->id = id;
	o->tree = t;
	if (idtab_put(&t->nodes, o)) {
		free(o);
		return NULL;
	}
	return o;
}

/* Links each composite node's members to the nodes of the tree. */
static int
link_members(struct vy_tree *t, struct vy_object *o)
{
	struct meta_members it;
	size_t i, n = o->view.nmembers;

	o->mnames = calloc(n ? n : 1, sizeof(*o->mnames));
	o->members = calloc(n ? n : 1, sizeof(*o->members));
	if (!o->mnames || !o->members)
		return -ENOMEM;
	meta_members_init(&it, &o->view);
	for (i = 0; i < n; i++) {
		if (meta_members_next(&it) <= 0)
			return -EPROTO;
		o->members[i] = idtab_get(&t->nodes, it.id);
		o->mnames[i] = strndup(it.name, it.namelen);
		o->nmembers = i + 1;
		if (!o->mnames[i])
			return -ENOMEM;
		if (!o->members[i])
			return -EPROTO;
	}
	return 0;
}

static int
parse_get(struct vy_client *c, const struct vy_reply *rep, int meta_only,
	  struct vy_tree *t)
{
	struct vy_object *o;
	struct cr r;
	uint64_t root;
	size_t n, i, k;
	int rc;

	cr_init(&r, rep->body, rep->len);
	if (cr_array(&r, &n) || n != 3 || cr_uint(&r, &root) ||
	    cr_array(&r, &n))
		return -EPROTO;
	for (i = 0; i < n; i++) {
		const void *meta;
		size_t ml;
		uint64_t id, nb;

		if (cr_array(&r, &k) || k != 3 || cr_uint(&r, &id) ||
		    cr_bytes(&r, &meta, &ml) || cr_uint(&r, &nb))
			return -EPROTO;
		o = node_new(t, id);
		if (!o)
			return -ENOMEM;
		o->nbytes = nb;
		o->meta = malloc(ml ? ml : 1);
		if (!o->meta)
			return -ENOMEM;
		memcpy(o->meta, meta, ml);
		o->metalen = ml;
		if (meta_view_parse(o->meta, ml, &o->view))
			return -EPROTO;
		o->typebuf = strndup(o->view.typename, o->view.typelen);
		if (!o->typebuf)
			return -ENOMEM;
		o->typename = o->typebuf;
	}
	if (cr_array(&r, &n))
		return -EPROTO;
	t->pinned = calloc(n ? n : 1, sizeof(*t->pinned));
	if (!t->pinned)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		uint64_t id, len, kind, seg, off;
		int64_t fdidx;
		int fd = -1;

		if (cr_array(&r, &k) || k != 6 || cr_uint(&r, &id) ||
		    cr_uint(&r, &len) || cr_uint(&r, &kind) ||
		    cr_int(&r, &fdidx) || cr_uint(&r, &seg) ||
		    cr_uint(&r, &off))
			return -EPROTO;
		if (fdidx >= rep->nfds || fdidx < -1)
			return -EPROTO;
		o = node_new(t, id);
		if (!o)
			return -ENOMEM;
		o->is_blob = 1;
		o->nbytes = len;
		o->typename = META_BLOB_TYPENAME;
		if (meta_only)
			continue;
		if (fdidx >= 0)
			fd = c->rfds[fdidx];
		rc = vy__map_blob(c, id, len, (int)kind, fd, seg, off,
				  &o->data);
		if (rc)
			return rc;
		t->pinned[t->npinned++] = id;
	}
	t->root = idtab_get(&t->nodes, root);
	if (!t->root)
		return -EPROTO;
	for (i = 0, o = NULL; (o = idtab_next(&t->nodes, &i));)
		if (!o->is_blob && (rc = link_members(t, o)))
			return rc;
	return 0;
}

/* TCP: reads every blob of a metadata-only tree into malloc'd memory. A
 * blob deleted meanwhile (or cut short) fails the get whole. */
static int
copy_blobs(struct vy_client *c, struct vy_tree *t)
{
	struct vy_object *o;
	size_t pos = 0, got;
	void *buf;
	int rc;

	t->copied = 1;
	while ((o = idtab_next(&t->nodes, &pos))) {
		if (!o->is_blob || !o->nbytes)
			continue;
		if (o->nbytes > SIZE_MAX ||
		    !(buf = vy__copy_alloc((size_t)o->nbytes)))
			return vy__fail(c, -ENOMEM, "out of memory for a copy "
					"of %llu bytes",
					(unsigned long long)o->nbytes);
		o->data = buf;
		rc = vy__read_copy(c, o->id, 0, buf, o->nbytes, &got);
		if (rc)
			return rc;
		if (got != o->nbytes)
			return vy__fail(c, -EIO, "blob read short over TCP: "
					"%zu of %llu bytes", got,
					(unsigned long long)o->nbytes);
	}
	return 0;
}

static int
get_once(struct vy_client *c, vy_id id, const char *name, int timeout_ms,
	 unsigned flags, struct vy_object **out)
{
	struct vy_reply rep;
	struct vy_tree *t;
	int want_meta = (flags & GET_F_META) != 0;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return vy__fail(c, -ENOMEM, "out of memory");
	idtab_init(&t->nodes);
	/* TCP: the tree first, the bytes by copy after. The get still says
	 * whether it wants them (no GET_F_META): then the daemon fetches an
	 * object another instance holds before answering. */
	if (c->tcp)
		flags &= ~GET_F_MAPPED;
	t->meta_only = c->tcp || (flags & GET_F_META) != 0;
	vy__req(c);
	cw_array(&c->req, 4);
	cw_uint(&c->req, name ? 0 : id);
	vy__str_or_null(&c->req, name);
	cw_uint(&c->req, timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
	cw_uint(&c->req, flags);
	rc = vy__rt(c, MSG_GET, 0, &rep);
	if (rc) {
		tree_free(t);
		return rc;
	}
	rc = parse_get(c, &rep, t->meta_only, t);
	vy__close_fds(c, 0);
	if (rc == 0 && c->tcp && !want_meta) {
		rc = copy_blobs(c, t);
		if (rc) {
			tree_free(t);
			return rc;
		}
	}
	if (rc) {
		/* Give back what was mapped and pinned before the failure. */
		vy__unmap_blobs(c, t->pinned, t->npinned);
		tree_free(t);
		if (rc == -ESTALE && (flags & GET_F_MAPPED))
			return rc; /* do_get asks again */
		if (rc == -EPROTO)
			c->broken = 1;
		return vy__fail(c, rc, rc == -EPROTO ? "malformed get reply" :
				"mapping a blob: %s", strerror(-rc));
	}
	*out = t->root;
	return 0;
}

/* Blobs this connection maps already come without a descriptor and are
 * not mapped again (vy__map_blob reuses the mapping). Should the daemon
 * believe one mapped that is not (a pin left over from a failed get), the
 * get is asked again with every descriptor. */
static int
do_get(struct vy_client *c, vy_id id, const char *name, int timeout_ms,
       unsigned flags, struct vy_object **out)
{
	int rc;

	if (flags & GET_F_META)
		return get_once(c, id, name, timeout_ms, flags, out);
	rc = get_once(c, id, name, timeout_ms, flags | GET_F_MAPPED, out);
	if (rc == -ESTALE)
		rc = get_once(c, id, name, timeout_ms, flags, out);
	return rc;
}

/* A get with the wire's flags, by name when name is not NULL. */
int
vy__get(struct vy_client *c, vy_id id, const char *name, int timeout_ms,
	unsigned flags, struct vy_object **out)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	if (name)
		rc = vy__check_name(c, name);
	if (rc == 0)
		rc = do_get(c, id, name, timeout_ms, flags, out);
	vy__leave(c);
	return rc;
}

/* A stream's chunk (stream.c): a MSG_GET-shaped reply already received.
 * Streams need descriptor passing, so never over TCP. */
int
vy__get_reply(struct vy_client *c, const struct vy_reply *rep,
	      unsigned flags, struct vy_object **out)
{
	struct vy_tree *t;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		vy__close_fds(c, 0);
		return vy__fail(c, -ENOMEM, "out of memory");
	}
	idtab_init(&t->nodes);
	t->meta_only = (flags & GET_F_META) != 0;
	rc = parse_get(c, rep, t->meta_only, t);
	vy__close_fds(c, 0);
	if (rc) {
		vy__unmap_blobs(c, t->pinned, t->npinned);
		tree_free(t);
		if (rc == -EPROTO)
			c->broken = 1;
		return vy__fail(c, rc, rc == -EPROTO ? "malformed get reply" :
				"mapping a blob: %s", strerror(-rc));
	}
	*out = t->root;
	return 0;
}

VY_API int
vy_get(struct vy_client *c, vy_id id, struct vy_object **out)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	rc = do_get(c, id, NULL, 0, 0, out);
	vy__leave(c);
	return rc;
}

VY_API int
vy_get_meta(struct vy_client *c, vy_id id, struct vy_object **out)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	rc = do_get(c, id, NULL, 0, GET_F_META, out);
	vy__leave(c);
	return rc;
}

VY_API int
vy_get_by_name(struct vy_client *c, const char *name, int timeout_ms,
	       struct vy_object **out)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	rc = vy__check_name(c, name);
	if (rc == 0)
		rc = do_get(c, 0, name, timeout_ms, 0, out);
	vy__leave(c);
	return rc;
}

VY_API void
vy_object_release(struct vy_client *c, struct vy_object *o)
{
	struct vy_tree *t;

	if (!o)
		return;
	t = o->tree;
	if (vy__enter(c) == 0) {
		vy__unmap_blobs(c, t->pinned, t->npinned);
		vy__leave(c);
	}
	tree_free(t);
}
