/*
 * object: building metadata and putting objects, and the trees a get
 * returns. A put sends the whole tree (nested members included) in one
 * request, after one more for any small blobs being written. A get receives
 * every object and blob of the tree in one reply and links them by id.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client_int.h"
#include "meta.h"
#include "banned.h"

enum { MEM_ID, MEM_WRITER, MEM_META };

struct vy_meta_member {
	char *name;
	int kind;
	vy_id id;
	struct vy_writer *w;
	struct vy_meta *child;
};

struct vy_meta {
	char *typename;
	struct cw fields;      /* key/value pairs, already CBOR */
	char **keys;           /* nfields */
	size_t nfields;
	struct vy_meta_member *members;
	size_t nmembers;
	int oom;
};

VY_API struct vy_meta *
vy_meta_new(const char *typename)
{
	struct vy_meta *m;

	if (!typename)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->typename = strdup(typename);
	if (!m->typename) {
		free(m);
		return NULL;
	}
	cw_init(&m->fields);
	return m;
}

VY_API void
vy_meta_free(struct vy_meta *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nfields; i++)
		free(m->keys[i]);
	for (i = 0; i < m->nmembers; i++) {
		free(m->members[i].name);
		vy_meta_free(m->members[i].child);
	}
	free(m->keys);
	free(m->members);
	cw_release(&m->fields);
	free(m->typename);
	free(m);
}

/* Records key; the caller then appends the value to m->fields. */
static int
add_key(struct vy_meta *m, const char *key)
{
	size_t i, kl = key ? strlen(key) : 0;
	char **v;

	if (kl == 0 || kl > META_MAX_KEY)
		return -EINVAL;
	for (i = 0; i < m->nfields; i++)
		if (strcmp(m->keys[i], key) == 0)
			return -EEXIST;
	v = realloc(m->keys, (m->nfields + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->keys = v;
	v[m->nfields] = strdup(key);
	if (!v[m->nfields])
		return -ENOMEM;
	m->nfields++;
	cw_str(&m->fields, key);
	return 0;
}

#define SETTER(name, ctype, encode)                                      \
	VY_API int name(struct vy_meta *m, const char *key, ctype v)    \
	{                                                                \
		int rc = add_key(m, key);                                \
		if (rc)                                                  \
			return rc;                                       \
		encode;                                                  \
		return cw_finish(&m->fields);                            \
	}

SETTER(vy_meta_set_int, int64_t, cw_int(&m->fields, v))
SETTER(vy_meta_set_double, double, cw_double(&m->fields, v))
SETTER(vy_meta_set_bool, int, cw_bool(&m->fields, v))

VY_API int
vy_meta_set_null(struct vy_meta *m, const char *key)
{
	int rc = add_key(m, key);

	if (rc)
		return rc;
	cw_null(&m->fields);
	return cw_finish(&m->fields);
}

VY_API int
vy_meta_set_string(struct vy_meta *m, const char *key, const char *v)
{
	int rc;

	if (!v)
		return -EINVAL;
	rc = add_key(m, key);
	if (rc)
		return rc;
	cw_str(&m->fields, v);
	return cw_finish(&m->fields);
}

VY_API int
vy_meta_set_int_array(struct vy_meta *m, const char *key, const int64_t *v,
		      size_t n)
{
	size_t i;
	int rc = add_key(m, key);

	if (rc)
		return rc;
	cw_array(&m->fields, n);
	for (i = 0; i < n; i++)
		cw_int(&m->fields, v[i]);
	return cw_finish(&m->fields);
}

VY_API int
vy_meta_set_string_array(struct vy_meta *m, const char *key,
			 const char *const *v, size_t n)
{
	size_t i;
	int rc = add_key(m, key);

	if (rc)
		return rc;
	cw_array(&m->fields, n);
	for (i = 0; i < n; i++)
		cw_str(&m->fields, v[i] ? v[i] : "");
	return cw_finish(&m->fields);
}

VY_API int
vy_meta_set_cbor(struct vy_meta *m, const char *key, const void *cbor,
		 size_t len)
{
	struct cr r;
	int rc;

	cr_init(&r, cbor, len);
	if (cr_skip(&r, META_MAX_DEPTH) || !cr_done(&r))
		return -EBADMSG;
	rc = add_key(m, key);
	if (rc)
		return rc;
	cw_raw(&m->fields, cbor, len);
	return cw_finish(&m->fields);
}

static int
add_member(struct vy_meta *m, const char *name, struct vy_meta_member *tmpl)
{
	struct vy_meta_member *v;
	size_t i;

	if (!name || meta_check_member_name(name, strlen(name)))
		return -EINVAL;
	for (i = 0; i < m->nmembers; i++)
		if (strcmp(m->members[i].name, name) == 0)
			return -EEXIST;
	v = realloc(m->members, (m->nmembers + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->members = v;
	v[m->nmembers] = *tmpl;
	v[m->nmembers].name = strdup(name);
	if (!v[m->nmembers].name)
		return -ENOMEM;
	m->nmembers++;
	return 0;
}

VY_API int
vy_meta_add_member(struct vy_meta *m, const char *name, vy_id id)
{
	struct vy_meta_member t = { NULL, MEM_ID, id, NULL, NULL };

	return add_member(m, name, &t);
}

VY_API int
vy_meta_add_member_writer(struct vy_meta *m, const char *name,
			  struct vy_writer *w)
{
	struct vy_meta_member t = { NULL, MEM_WRITER, 0, w, NULL };

	if (!w)
		return -EINVAL;
	return add_member(m, name, &t);
}

VY_API int
vy_meta_add_member_meta(struct vy_meta *m, const char *name,
			struct vy_meta *child)
{
	struct vy_meta_member t = { NULL, MEM_META, 0, NULL, child };

	if (!child || child == m)
		return -EINVAL;
	return add_member(m, name, &t);
}

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
			struct vy_writer **v = realloc(*ws, (*n + 1) *
						       sizeof(*v));

			if (!v)
				return -ENOMEM;
			*ws = v;
			v[(*n)++] = mm->w;
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
	struct cr r;
	size_t nw = 0, i, n, nbig = 0;
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
	/* Small blobs first: they need ids before the tree can name them. */
	rc = vy__put_small(c, ws, nw);
	if (rc)
		goto out;
	encode_tree(m, &tree);
	if ((rc = cw_finish(&tree))) {
		vy__fail(c, rc, "out of memory");
		goto out;
	}
	vy__req(c);
	cw_array(&c->req, 4);
	cw_bytes(&c->req, tree.buf, tree.len);
	for (i = 0; i < nw; i++)
		if (ws[i]->fd >= 0) {
			nbig++;
			/* The kernel will not seal a blob mapped writable. */
			if (ws[i]->map) {
				munmap(ws[i]->map, ws[i]->len);
				ws[i]->map = NULL;
			}
		}
	cw_array(&c->req, nbig);
	for (i = 0; i < nw; i++)
		if (ws[i]->fd >= 0)
			cw_uint(&c->req, ws[i]->id);
	if (name)
		cw_str(&c->req, name);
	else
		cw_null(&c->req);
	cw_bool(&c->req, persist);
	rc = vy__rt(c, MSG_OBJ_PUT, 0, &rep);
	if (rc)
		goto out;
	cr_init(&r, rep.body, rep.len);
	if (cr_array(&r, &n) || n != 1 || cr_uint(&r, id)) {
		c->broken = 1;
		rc = vy__fail(c, -EPROTO, "malformed obj-put reply");
	}
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
				vy__req(c);
				cw_array(&c->req, 2);
				cw_array(&c->req, 1);
				cw_uint(&c->req, ws[i]->id);
				cw_uint(&c->req, 0);
				vy__rt(c, MSG_DELETE, 0, &rep);
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

/* ---- got objects ---- */

struct vy_tree;

struct vy_object {
	vy_id id;              /* first: idtab key */
	struct vy_tree *tree;
	int is_blob;
	uint64_t nbytes;
	const char *typename;  /* into meta, NUL-terminated copy */
	char *typebuf;
	uint8_t *meta;         /* stored document, copied */
	size_t metalen;
	struct meta_view view;
	const void *data;      /* blob bytes, NULL when metadata only */
	size_t nmembers;
	char **mnames;
	struct vy_object **members;
	char **strs;           /* strings handed out by field_string */
	size_t nstrs;
};

struct vy_tree {
	struct idtab nodes;    /* struct vy_object by id */
	struct vy_object *root;
	uint64_t *pinned;      /* blob ids to release */
	size_t npinned;
	int meta_only;
};

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

	while ((o = idtab_next(&t->nodes, &pos)))
		node_free(o);
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
	struct cr r;
	size_t i, n;

	cr_init(&r, o->view.members, o->view.memberslen);
	if (cr_map(&r, &n))
		return -EPROTO;
	o->mnames = calloc(n ? n : 1, sizeof(*o->mnames));
	o->members = calloc(n ? n : 1, sizeof(*o->members));
	if (!o->mnames || !o->members)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const char *nm;
		size_t nl;
		uint64_t mid;

		if (meta_member_next(&r, &nm, &nl, &mid))
			return -EPROTO;
		o->members[i] = idtab_get(&t->nodes, mid);
		o->mnames[i] = strndup(nm, nl);
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

static int
do_get(struct vy_client *c, vy_id id, const char *name, int timeout_ms,
       unsigned flags, struct vy_object **out)
{
	struct vy_reply rep;
	struct vy_tree *t;
	int rc;

	*out = NULL;
	if (name && strlen(name) > 255)
		return vy__fail(c, -EINVAL, "invalid name: a name is at most "
				"255 bytes");
	t = calloc(1, sizeof(*t));
	if (!t)
		return vy__fail(c, -ENOMEM, "out of memory");
	idtab_init(&t->nodes);
	t->meta_only = (flags & GET_F_META) != 0;
	vy__req(c);
	cw_array(&c->req, 4);
	cw_uint(&c->req, name ? 0 : id);
	if (name)
		cw_str(&c->req, name);
	else
		cw_null(&c->req);
	cw_uint(&c->req, timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
	cw_uint(&c->req, flags);
	rc = vy__rt(c, MSG_GET, 0, &rep);
	if (rc) {
		tree_free(t);
		return rc;
	}
	rc = parse_get(c, &rep, t->meta_only, t);
	vy__close_fds(c, 0);
	if (rc) {
		/* Give back what was mapped and pinned before the failure. */
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
	rc = name ? do_get(c, 0, name, timeout_ms, 0, out) :
		    vy__fail(c, -EINVAL, "no name given");
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

VY_API vy_id
vy_object_id(const struct vy_object *o)
{
	return o->id;
}

VY_API const char *
vy_object_typename(const struct vy_object *o)
{
	return o->typename;
}

VY_API int
vy_object_is_blob(const struct vy_object *o)
{
	return o->is_blob;
}

VY_API uint64_t
vy_object_nbytes(const struct vy_object *o)
{
	return o->nbytes;
}

VY_API const void *
vy_object_data(const struct vy_object *o)
{
	return o->data;
}

VY_API size_t
vy_object_nmembers(const struct vy_object *o)
{
	return o->nmembers;
}

VY_API const char *
vy_object_member_name(const struct vy_object *o, size_t i)
{
	return i < o->nmembers ? o->mnames[i] : NULL;
}

VY_API struct vy_object *
vy_object_member(const struct vy_object *o, size_t i)
{
	return i < o->nmembers ? o->members[i] : NULL;
}

VY_API struct vy_object *
vy_object_member_by_name(const struct vy_object *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->nmembers; i++)
		if (strcmp(o->mnames[i], name) == 0)
			return o->members[i];
	return NULL;
}

static int
field(const struct vy_object *o, const char *key, struct cr *r)
{
	if (o->is_blob)
		return -ENOENT;
	return meta_field_find(&o->view, key, r) == 1 ? 0 : -ENOENT;
}

VY_API int
vy_object_field_int(const struct vy_object *o, const char *key, int64_t *v)
{
	struct cr r;
	int rc = field(o, key, &r);

	if (rc)
		return rc;
	return cr_int(&r, v) ? -EINVAL : 0;
}

VY_API int
vy_object_field_double(const struct vy_object *o, const char *key, double *v)
{
	struct cr r;
	int rc = field(o, key, &r);

	if (rc)
		return rc;
	return cr_double(&r, v) ? -EINVAL : 0;
}

VY_API int
vy_object_field_bool(const struct vy_object *o, const char *key, int *v)
{
	struct cr r;
	int rc = field(o, key, &r);

	if (rc)
		return rc;
	return cr_bool(&r, v) ? -EINVAL : 0;
}

VY_API int
vy_object_field_string(struct vy_object *o, const char *key, const char **v)
{
	struct cr r;
	const char *s;
	size_t l;
	char **strs, *copy;
	int rc = field(o, key, &r);

	if (rc)
		return rc;
	if (cr_str(&r, &s, &l))
		return -EINVAL;
	copy = strndup(s, l);
	strs = realloc(o->strs, (o->nstrs + 1) * sizeof(*strs));
	if (!copy || !strs) {
		free(copy);
		if (strs)
			o->strs = strs;
		return -ENOMEM;
	}
	o->strs = strs;
	strs[o->nstrs++] = copy;
	*v = copy;
	return 0;
}

VY_API int
vy_object_field_int_array(const struct vy_object *o, const char *key,
			  int64_t *v, size_t cap, size_t *n)
{
	struct cr r;
	size_t i, k;
	int rc = field(o, key, &r);

	if (rc)
		return rc;
	if (cr_array(&r, &k))
		return -EINVAL;
	for (i = 0; i < k; i++) {
		int64_t x;

		if (cr_int(&r, &x))
			return -EINVAL;
		if (i < cap)
			v[i] = x;
	}
	*n = k;
	return 0;
}

VY_API char *
vy_object_fields_json(const struct vy_object *o)
{
	struct cw w;
	struct cr r;
	char *s;

	cw_init(&w);
	if (o->is_blob) {
		cw_raw(&w, "{}", 2);
	} else {
		cr_init(&r, o->view.fields, o->view.fieldslen);
		if (meta_json_value(&w, &r, 0, 0))
			cw_raw(&w, "{}", 2);
	}
	cw_raw(&w, "", 1);
	if (cw_finish(&w)) {
		cw_release(&w);
		return NULL;
	}
	s = (char *)w.buf;
	return s;
}
