/*
 * fuzz_meta: libFuzzer target for the metadata decoders, which read bytes
 * a client sends (put trees) and bytes the daemon stores and sends back
 * (documents). The input is tried as a put tree, as a stored document and
 * as a single JSON-renderable value.
 *
 * Beyond "no crash, no leak, no UB", it checks properties: every node of a
 * tree that parses encodes to a document that parses as a view with the
 * same counts, finds each of its members, and renders as JSON.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "meta.h"
#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
render(const struct meta_view *v, uint64_t id)
{
	static const char *const names[] = { "n" };
	struct meta_json j;
	struct cw out;
	char *tn = malloc(v->typelen + 1);

	memcpy(tn, v->typename, v->typelen);
	tn[v->typelen] = 0;
	memset(&j, 0, sizeof(j));
	j.id = id;
	j.typename = tn;
	j.names = names;
	j.nnames = 1;
	j.view = v;
	cw_init(&out);
	meta_json(&out, &j);
	assert(out.oom || out.len > 0);
	cw_release(&out);
	free(tn);
}

static void
check_tree(const struct meta_tree *t)
{
	uint64_t *ids = calloc(t->nnodes ? t->nnodes : 1, sizeof(*ids));
	struct cw w;
	size_t i, k;

	for (i = 0; i < t->nnodes; i++)
		ids[i] = 0x1000 + i;
	cw_init(&w);
	for (i = 0; i < t->nnodes; i++) {
		const struct meta_node *n = &t->nodes[i];
		struct meta_view v;
		struct cw out;
		struct cr r;

		/* children come first: member links point backwards */
		for (k = 0; k < n->nmembers; k++)
			assert(t->members[n->first_member + k].child <
			       (int32_t)i);
		cw_reset(&w);
		meta_node_encode(t, i, ids, &w);
		assert(!w.oom);
		assert(meta_view_parse(w.buf, w.len, &v) == 0);
		assert(v.typelen == n->typelen);
		assert(v.nfields == n->nfields);
		assert(v.nmembers == n->nmembers);
		for (k = 0; k < n->nmembers; k++) {
			const struct meta_member *m =
				&t->members[n->first_member + k];
			char name[META_MAX_KEY + 1];
			uint64_t id;

			memcpy(name, m->name, m->namelen);
			name[m->namelen] = 0;
			assert(meta_check_member_name(m->name, m->namelen) == 0);
			assert(meta_member_find(&v, name, &id) == 1);
			assert(id == (m->child >= 0 ? ids[m->child] : m->id));
		}
		/* validated fields always render */
		cw_init(&out);
		cr_init(&r, v.fields, v.fieldslen);
		assert(meta_json_value(&out, &r, 2, 0) == 0);
		cw_release(&out);
		render(&v, ids[i]);
	}
	cw_release(&w);
	free(ids);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meta_tree t;
	struct meta_view v;
	struct cw w;
	struct cr r;
	char *s;
	const char *why;
	uint64_t id;

	if (meta_tree_parse(data, size, &t) == 0)
		check_tree(&t);
	else
		assert(t.err[0] && !t.nodes && !t.members);
	meta_tree_release(&t);

	if (meta_view_parse(data, size, &v) == 0) {
		struct cr fr;

		/* stored documents come from the daemon: render what parses */
		render(&v, 42);
		meta_member_find(&v, "buffer_", &id);
		meta_field_find(&v, "shape_", &fr);
	}

	cw_init(&w);
	cr_init(&r, data, size);
	meta_json_value(&w, &r, 0, 0);
	cw_release(&w);

	/* the text checks take any bytes */
	meta_utf8_ok((const char *)data, size, 0);
	meta_utf8_ok((const char *)data, size, 1);
	meta_check_member_name((const char *)data, size);
	names_check((const char *)data, size, &why);
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	if (meta_id_parse(s, &id) == 0) {
		char back[META_ID_LEN];

		meta_id_format(id, back);
		assert(strcasecmp(back, s) == 0);
	}
	free(s);
	return 0;
}
