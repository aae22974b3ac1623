/*
 * mkobj: builds a composite object the way a dataframe library would, in
 * one vy_put_object: a vineyard::DataFrame whose members are two tensors,
 * each with a blob member buffer_ being written (one large, one small),
 * plus an existing blob given on the command line. Then gets it back by
 * name and checks every field, member and byte.
 *
 *   mkobj NAME [EXTRA_BLOB_ID]
 *   mkobj --bad-member NAME      a put that must fail and leave nothing
 *   mkobj --too-deep NAME        objects nested past the limit, a blob
 *                                being written at the bottom: refused,
 *                                and the writer is consumed all the same
 *   mkobj --check NAME           only the get and the checks, of an
 *                                object an earlier mkobj NAME put
 *
 * Prints root=, a=, b=, a.buffer=, b.buffer= ids and "verified=yes".
 */
#include <inttypes.h>

#include "helpers.h"

#define NROWS 1000

static void
print_id(const char *key, vy_id id)
{
	char buf[VY_ID_STRLEN];

	vy_id_format(id, buf);
	printf("%s=%s\n", key, buf);
}

static struct vy_meta *
tensor(struct vy_client *c, const char *vtype, size_t elem, int fill)
{
	struct vy_meta *m = vy_meta_new(elem == 8 ? "vineyard::Tensor<double>"
				      : "vineyard::Tensor<int32>");
	int64_t shape[1] = { NROWS };
	struct vy_writer *w;
	char *p;

	if (!m || vy_meta_set_int_array(m, "shape_", shape, 1) ||
	    vy_meta_set_string(m, "value_type_", vtype) ||
	    vy_meta_set_string(m, "order_", "C"))
		die("tensor meta");
	if (vy_blob_create(c, NROWS * elem, &w))
		die("create: %s", vy_errmsg(c));
	p = vy_writer_data(w);
	if (!p)
		die("writer data");
	memset(p, fill, NROWS * elem);
	if (vy_meta_add_member_writer(m, "buffer_", w))
		die("add writer");
	return m;
}

static int
check_tensor(struct vy_object *t, size_t elem, int fill)
{
	struct vy_object *buf = vy_object_member_by_name(t, "buffer_");
	const unsigned char *p;
	int64_t shape[2];
	size_t n, i;
	const char *s;

	if (!buf || !vy_object_is_blob(buf) ||
	    vy_object_nbytes(buf) != NROWS * elem)
		return 0;
	if (vy_object_field_int_array(t, "shape_", shape, 2, &n) || n != 1 ||
	    shape[0] != NROWS)
		return 0;
	if (vy_object_field_string(t, "order_", &s) || strcmp(s, "C"))
		return 0;
	p = vy_object_data(buf);
	for (i = 0; i < NROWS * elem; i++)
		if (p[i] != fill)
			return 0;
	print_id(elem == 8 ? "a.buffer" : "b.buffer", vy_object_id(buf));
	return 1;
}

int
main(int argc, char **argv)
{
	static const char *const cols[] = { "a", "b" };
	struct vy_client *c = must_connect();
	struct vy_meta *df;
	struct vy_object *o;
	const char *name;
	int bad = 0, rc, check = 0, extra;
	vy_id id = 0;

	if (argc >= 3 && strcmp(argv[1], "--too-deep") == 0) {
		struct vy_meta *root = vy_meta_new("Level"), *m = root, *child;
		struct vy_writer *w;
		char *json;
		int i;

		for (i = 0; i < 12; i++) {
			child = vy_meta_new("Level");
			if (vy_meta_add_member_meta(m, "down", child))
				die("nest");
			m = child;
		}
		if (vy_blob_create(c, 100000, &w) ||
		    vy_meta_add_member_writer(m, "blob", w))
			die("writer");
		rc = vy_put_object(c, root, argv[2], 0, &id);
		printf("put=%d\nerror=%s\n", rc, vy_errmsg(c));
		vy_meta_free(root);
		/* still connected: the daemon must hold no blob of ours */
		if (vy_status_json(c, &json))
			die("status: %s", vy_errmsg(c));
		printf("unsealed_none=%s\n",
		       strstr(json, "\"unsealed_blobs\": 0,") ? "yes" : "no");
		rc = rc == -EINVAL && strstr(json, "\"unsealed_blobs\": 0,");
		free(json);
		vy_close(c);
		return rc ? 0 : 1;
	}
	if (argc >= 3 && strcmp(argv[1], "--bad-member") == 0) {
		bad = 1;
		name = argv[2];
	} else if (argc >= 3 && strcmp(argv[1], "--check") == 0) {
		check = 1;
		name = argv[2];
	} else if (argc >= 2) {
		name = argv[1];
	} else {
		die("usage: mkobj [--bad-member] NAME [EXTRA_BLOB_ID]");
	}
	extra = argc >= 3 && !check;
	if (check)
		goto get;
	df = vy_meta_new("vineyard::DataFrame");
	if (!df || vy_meta_set_string_array(df, "columns_", cols, 2) ||
	    vy_meta_set_int(df, "nrows", NROWS) ||
	    vy_meta_set_double(df, "ratio", 0.5) ||
	    vy_meta_set_bool(df, "ok", 1) || vy_meta_set_null(df, "note") ||
	    vy_meta_set_string(df, "quote", "say \"hi\"\n"))
		die("dataframe meta");
	/* the same key twice is refused */
	if (vy_meta_set_int(df, "nrows", 1) != -EEXIST)
		die("duplicate key accepted");
	if (vy_meta_add_member_meta(df, "a", tensor(c, "float64", 8, 0xaa)) ||
	    vy_meta_add_member_meta(df, "b", tensor(c, "int32", 4, 0xbb)))
		die("add tensors");
	if (vy_meta_add_member(df, "a", 1) != -EEXIST ||
	    vy_meta_add_member(df, "a/b", 1) != -EINVAL ||
	    vy_meta_add_member(df, "data", 1) != -EINVAL)
		die("bad member names accepted");
	if (bad) {
		/* a member that does not exist: the whole put fails */
		vy_meta_add_member(df, "ghost", 0x0000000000000bad);
		rc = vy_put_object(c, df, name, 0, &id);
		printf("put=%d\nerror=%s\n", rc, vy_errmsg(c));
		vy_meta_free(df);
		vy_close(c);
		return rc == -ENOENT ? 0 : 1;
	}
	if (argc >= 3 && vy_meta_add_member(df, "extra",
					    must_resolve(c, argv[2])))
		die("add extra");
	rc = vy_put_object(c, df, name, 0, &id);
	vy_meta_free(df);
	if (rc)
		die("put: %s", vy_errmsg(c));
	print_id("root", id);
get:
	rc = vy_get_by_name(c, name, 0, &o);
	if (rc)
		die("get: %s", vy_errmsg(c));
	if (check)
		id = vy_object_id(o);
	{
		struct vy_object *a = vy_object_member_by_name(o, "a");
		struct vy_object *b = vy_object_member_by_name(o, "b");
		int64_t nrows;
		double ratio;
		int ok;
		char *json;

		if (vy_object_id(o) != id || vy_object_is_blob(o) ||
		    strcmp(vy_object_typename(o), "vineyard::DataFrame") ||
		    !a || !b || vy_object_nmembers(o) != (extra ? 3u : 2u))
			die("wrong tree");
		if (vy_object_field_int(o, "nrows", &nrows) || nrows != NROWS ||
		    vy_object_field_double(o, "ratio", &ratio) ||
		    ratio != 0.5 || vy_object_field_bool(o, "ok", &ok) || !ok ||
		    vy_object_field_int(o, "missing", &nrows) != -ENOENT ||
		    vy_object_field_int(o, "ratio", &nrows) != -EINVAL)
			die("wrong fields");
		if (vy_object_nbytes(o) != NROWS * 12u + (extra ?
		    vy_object_nbytes(vy_object_member_by_name(o, "extra")) : 0))
			die("nbytes %" PRIu64, vy_object_nbytes(o));
		print_id("a", vy_object_id(a));
		print_id("b", vy_object_id(b));
		if (!check_tensor(a, 8, 0xaa) || !check_tensor(b, 4, 0xbb))
			die("wrong tensor");
		json = vy_object_fields_json(o);
		if (!json || !strstr(json, "\"say \\\"hi\\\"\\n\""))
			die("fields json: %s", json ? json : "NULL");
		free(json);
	}
	vy_object_release(c, o);
	printf("verified=yes\n");
	vy_close(c);
	return 0;
}
