/*
 * mkcorpus: writes the seed corpora of the fuzz targets, so the fuzzers
 * start from well-formed traffic and documents instead of noise:
 *   corpus/proto/  whole request streams, one realistic session per file
 *   corpus/meta/   put trees, stored documents and field values
 * Run from the top directory with `make fuzz-corpus`; the files are
 * committed, so this only needs to run again when the protocol changes.
 *
 * fuzz_proto makes ids deterministic (see there); next_id() below replays
 * the store's id generator from that seed, so a stream can seal, get and
 * delete the blobs and objects its own earlier requests created.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cborio.h"
#include "meta.h"
#include "proto.h"

static uint64_t rng;

/* The store's id generator (store.c new_id), from a zero seed. */
static uint64_t
next_id(int blob)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return blob ? z | META_BLOB_BIT : z & ~META_BLOB_BIT;
}

static struct cw stream, body;

static void
frame(uint16_t type, uint32_t flags)
{
	struct proto_hdr h = { PROTO_MAGIC, PROTO_VERSION, type,
			       (uint32_t)body.len, flags };
	uint8_t hb[PROTO_HDR_LEN];

	proto_hdr_pack(&h, hb);
	cw_raw(&stream, hb, sizeof(hb));
	cw_raw(&stream, body.buf, body.len);
	cw_reset(&body);
}

static void
save(const char *dir, const char *name, const struct cw *w)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "tests/fuzz/corpus/%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(w->buf, 1, w->len, f) != w->len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void
save_stream(const char *name)
{
	save("proto", name, &stream);
	cw_reset(&stream);
	rng = 0; /* every stream runs against a fresh store */
}

static void
ids1(uint64_t a)
{
	cw_array(&body, 1);
	cw_array(&body, 1);
	cw_uint(&body, a);
}

static void
get(uint64_t id, const char *name, uint64_t wait_ms, uint64_t flags)
{
	cw_array(&body, 4);
	cw_uint(&body, id);
	if (name)
		cw_str(&body, name);
	else
		cw_null(&body);
	cw_uint(&body, wait_ms);
	cw_uint(&body, flags);
	frame(MSG_GET, 0);
}

static void
del(const uint64_t *ids, size_t n, uint64_t flags)
{
	size_t i;

	cw_array(&body, 2);
	cw_array(&body, n);
	for (i = 0; i < n; i++)
		cw_uint(&body, ids[i]);
	cw_uint(&body, flags);
	frame(MSG_DELETE, 0);
}

/* A tree with every kind of field and a nested member; member ids a, b. */
static void
rich_tree(struct cw *w, uint64_t a, uint64_t b)
{
	cw_map(w, 3);
	cw_str(w, "typename");
	cw_str(w, "vineyard::DataFrame");
	cw_str(w, "fields");
	cw_map(w, 6);
	cw_str(w, "nrows");
	cw_int(w, 1000);
	cw_str(w, "neg");
	cw_int(w, -5);
	cw_str(w, "ratio");
	cw_double(w, 0.5);
	cw_str(w, "columns_");
	cw_array(w, 2);
	cw_str(w, "a");
	cw_str(w, "b");
	cw_str(w, "opts");
	cw_map(w, 2);
	cw_str(w, "ok");
	cw_bool(w, 1);
	cw_str(w, "none");
	cw_null(w);
	cw_str(w, "note");
	cw_str(w, "say \"hi\"\n");
	cw_str(w, "members");
	cw_map(w, 3);
	cw_str(w, "a");
	cw_uint(w, a);
	cw_str(w, "b");
	cw_uint(w, b);
	cw_str(w, "index");
	cw_map(w, 2);
	cw_str(w, "typename");
	cw_str(w, "vineyard::Index");
	cw_str(w, "fields");
	cw_map(w, 1);
	cw_str(w, "kind");
	cw_str(w, "range");
}

static void
proto_seeds(void)
{
	struct cw tree;
	uint64_t b1, b2, b3, o1, o2, v[3];

	cw_init(&tree);

	/* a session: hello, status */
	cw_array(&body, 3);
	cw_uint(&body, PROTO_VERSION);
	cw_uint(&body, 1234);
	cw_str(&body, "libvineyard " VY_VERSION);
	frame(MSG_HELLO, 0);
	cw_array(&body, 0);
	frame(MSG_STATUS, 0);
	save_stream("hello-status");

	/* a large blob's life */
	b1 = next_id(1);
	cw_array(&body, 2);
	cw_array(&body, 1);
	cw_uint(&body, 5000);
	cw_null(&body);
	frame(MSG_BLOB_CREATE, 0);
	ids1(b1);
	frame(MSG_BLOB_SEAL, 0);
	get(b1, NULL, 0, 0);
	ids1(b1);
	frame(MSG_RELEASE, PROTO_F_NOREPLY);
	cw_array(&body, 1);
	cw_uint(&body, b1);
	frame(MSG_META, 0);
	del(&b1, 1, 0);
	save_stream("blob-life");

	/* small blobs, a composite object with a nested member, names */
	b1 = next_id(1);
	b2 = next_id(1);
	cw_array(&body, 2);
	cw_array(&body, 2);
	cw_bytes(&body, "hello", 5);
	cw_bytes(&body, "", 0);
	cw_uint(&body, 0644);
	frame(MSG_BLOB_PUT, 0);
	o1 = next_id(0); /* the nested index, children first */
	o2 = next_id(0); /* the frame */
	cw_reset(&tree);
	rich_tree(&tree, b1, b2);
	cw_array(&body, 5);
	cw_bytes(&body, tree.buf, tree.len);
	cw_array(&body, 0);
	cw_str(&body, "frame");
	cw_bool(&body, 0);
	cw_uint(&body, 0600);
	frame(MSG_OBJ_PUT, 0);
	/* chmod: others may read the tree; an execute bit is refused */
	cw_array(&body, 4);
	cw_array(&body, 1);
	cw_uint(&body, o2);
	cw_uint(&body, 0);
	cw_uint(&body, 0004);
	cw_uint(&body, CHMOD_F_TREE);
	frame(MSG_CHMOD, 0);
	cw_array(&body, 4);
	cw_array(&body, 1);
	cw_uint(&body, o2);
	cw_uint(&body, 0666);
	cw_uint(&body, 0700);
	cw_uint(&body, 0);
	frame(MSG_CHMOD, 0);
	get(0, "frame", 0, 0);
	get(o2, NULL, 0, GET_F_META);
	cw_array(&body, 1);
	cw_uint(&body, o2);
	frame(MSG_META, 0);
	cw_array(&body, 3);
	cw_null(&body);
	cw_uint(&body, 0);
	cw_uint(&body, 0);
	frame(MSG_LIST, 0);
	cw_array(&body, 3);
	cw_str(&body, "vineyard::*");
	cw_uint(&body, 0);
	cw_uint(&body, 2);
	frame(MSG_LIST, 0);
	cw_array(&body, 1);
	cw_null(&body);
	frame(MSG_NAME_LIST, 0);
	del(&b1, 1, 0); /* refused: a member */
	del(&o2, 1, DELETE_F_SHALLOW);
	v[0] = b1;
	v[1] = b2;
	v[2] = o1;
	del(v, 3, 0);
	save_stream("object-tree");

	/* names: bind, resolve, wait that times out, drop, bad names */
	b1 = next_id(1);
	cw_array(&body, 2);
	cw_array(&body, 1);
	cw_bytes(&body, "x", 1);
	cw_null(&body);
	frame(MSG_BLOB_PUT, 0);
	cw_array(&body, 2);
	cw_str(&body, "n");
	cw_uint(&body, b1);
	frame(MSG_NAME_PUT, 0);
	cw_array(&body, 2);
	cw_str(&body, "n");
	cw_uint(&body, 0);
	frame(MSG_NAME_GET, 0);
	cw_array(&body, 2);
	cw_str(&body, "missing");
	cw_uint(&body, 5);
	frame(MSG_NAME_GET, 0);
	cw_array(&body, 1);
	cw_str(&body, "n");
	frame(MSG_NAME_DROP, 0);
	cw_array(&body, 2);
	cw_str(&body, "a/b");
	cw_uint(&body, b1);
	frame(MSG_NAME_PUT, 0);
	cw_array(&body, 2);
	cw_str(&body, "..");
	cw_uint(&body, b1);
	frame(MSG_NAME_PUT, 0);
	cw_array(&body, 1);
	cw_str(&body, "n*");
	frame(MSG_NAME_LIST, 0);
	save_stream("names");

	/* a get that waits for a name bound later in the same stream
	 * cannot see it (requests queue behind the wait): it times out */
	get(0, "later", 5, 0);
	b1 = next_id(1);
	cw_array(&body, 2);
	cw_array(&body, 1);
	cw_bytes(&body, "later", 5);
	cw_null(&body);
	frame(MSG_BLOB_PUT, 0);
	cw_array(&body, 2);
	cw_str(&body, "later");
	cw_uint(&body, b1);
	frame(MSG_NAME_PUT, 0);
	get(0, "later", 5, 0);
	save_stream("wait");

	/* create several, abort one, seal one, leave one unsealed */
	b1 = next_id(1);
	b2 = next_id(1);
	b3 = next_id(1);
	cw_array(&body, 2);
	cw_array(&body, 3);
	cw_uint(&body, 4096);
	cw_uint(&body, 8192);
	cw_uint(&body, 100000);
	cw_uint(&body, 0640);
	frame(MSG_BLOB_CREATE, 0);
	ids1(b1);
	frame(MSG_BLOB_ABORT, 0);
	ids1(b2);
	frame(MSG_BLOB_SEAL, 0);
	ids1(b3);
	frame(MSG_RELEASE, 0);
	save_stream("create-abort");

	/* an object put that seals its member */
	b1 = next_id(1);
	cw_array(&body, 2);
	cw_array(&body, 1);
	cw_uint(&body, 10000);
	cw_null(&body);
	frame(MSG_BLOB_CREATE, 0);
	o1 = next_id(0);
	cw_reset(&tree);
	cw_map(&tree, 2);
	cw_str(&tree, "typename");
	cw_str(&tree, "vineyard::Tensor<double>");
	cw_str(&tree, "members");
	cw_map(&tree, 1);
	cw_str(&tree, "buffer_");
	cw_uint(&tree, b1);
	cw_array(&body, 5);
	cw_bytes(&body, tree.buf, tree.len);
	cw_array(&body, 1);
	cw_uint(&body, b1);
	cw_str(&body, "t");
	cw_bool(&body, 0);
	cw_null(&body);
	frame(MSG_OBJ_PUT, 0);
	get(0, "t", 0, 0);
	cw_array(&body, 1);
	cw_uint(&body, o1);
	frame(MSG_PERSIST, 0);
	del(&o1, 1, 0);
	save_stream("obj-seal");

	/* the daemon's limit (8 MiB in fuzz_proto) */
	cw_array(&body, 2);
	cw_array(&body, 2);
	cw_uint(&body, 6 << 20);
	cw_uint(&body, 6 << 20);
	cw_null(&body);
	frame(MSG_BLOB_CREATE, 0);
	save_stream("limit");

	/* well-framed bad bodies, then a bad header closes */
	cw_raw(&body, "\xff", 1);
	frame(MSG_GET, 0);
	cw_raw(&body, "\x82\x9a\xff\xff\xff\xff\x00", 7);
	frame(MSG_DELETE, 0);
	cw_array(&body, 0);
	frame(999, 0);
	save_stream("bad-bodies");
	cw_raw(&stream, "VYRD\x09\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	       16);
	save_stream("bad-version");

	cw_release(&tree);
}

static void
meta_seeds(void)
{
	struct meta_tree t;
	struct cw w, doc;
	uint64_t ids[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	size_t i;
	char name[32];

	cw_init(&w);
	cw_init(&doc);
	rich_tree(&w, 0x8000000000000001ull, 0x8000000000000002ull);
	save("meta", "tree-rich", &w);
	/* its stored documents */
	if (meta_tree_parse(w.buf, w.len, &t) == 0) {
		for (i = 0; i < t.nnodes; i++) {
			cw_reset(&doc);
			meta_node_encode(&t, i, ids, &doc);
			snprintf(name, sizeof(name), "doc-%zu", i);
			save("meta", name, &doc);
		}
		meta_tree_release(&t);
	}
	cw_reset(&w);
	cw_map(&w, 1);
	cw_str(&w, "typename");
	cw_str(&w, "T");
	save("meta", "tree-minimal", &w);
	/* a deep chain */
	cw_reset(&w);
	for (i = 0; i < 8; i++) {
		cw_map(&w, 2);
		cw_str(&w, "typename");
		cw_str(&w, "Chain");
		cw_str(&w, "members");
		cw_map(&w, 1);
		cw_str(&w, "c");
	}
	cw_map(&w, 1);
	cw_str(&w, "typename");
	cw_str(&w, "End");
	save("meta", "tree-chain", &w);
	/* values */
	cw_reset(&w);
	cw_array(&w, 5);
	cw_double(&w, 1e300);
	cw_int(&w, INT64_MIN);
	cw_str(&w, "caf\xc3\xa9 \x01");
	cw_map(&w, 1);
	cw_str(&w, "k");
	cw_array(&w, 0);
	cw_raw(&w, "\xf9\x7e\x00", 3);
	save("meta", "values", &w);
	cw_reset(&w);
	cw_str(&w, "o0015c78883eddf1c");
	save("meta", "id-text", &w);
	cw_release(&w);
	cw_release(&doc);
}

int
main(void)
{
	cw_init(&stream);
	cw_init(&body);
	proto_seeds();
	meta_seeds();
	cw_release(&stream);
	cw_release(&body);
	return 0;
}
