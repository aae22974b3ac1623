/*
 * batch: the batch calls, past the kernel's limit of descriptors in one
 * message. Creates N writers in one vy_blob_create_many (large and small
 * mixed), fills each with its own pattern, puts one object that has them
 * all as members (sealed by the same request), then gets it back in one
 * reply (N descriptors again) and checks every byte.
 *
 *   batch N [small]
 *
 * Prints "members=N", "verified=yes" and the root id as "root=". Exits 0
 * when everything checked out. With "small" every blob is 4000 bytes
 * (all sent inline); when the put fails on the daemon's limit it prints
 * "errno=ENOSPC" and exits 5.
 */
#include <inttypes.h>

#include "helpers.h"

static int all_small;

static size_t
len_of(size_t i)
{
	if (all_small)
		return 4000;
	/* every third one small (packed inline), the others a page or more */
	return i % 3 == 2 ? 100 + i : 4096 + 37 * i;
}

int
main(int argc, char **argv)
{
	struct vy_client *c = must_connect();
	struct vy_writer **ws;
	struct vy_meta *m;
	struct vy_object *o;
	size_t n, i, *lens;
	char name[32], idbuf[VY_ID_STRLEN];
	vy_id id;
	int rc;

	if (argc < 2)
		die("usage: batch N [small]");
	n = strtoul(argv[1], NULL, 0);
	all_small = argc > 2 && strcmp(argv[2], "small") == 0;
	ws = calloc(n, sizeof(*ws));
	lens = calloc(n, sizeof(*lens));
	for (i = 0; i < n; i++)
		lens[i] = len_of(i);
	rc = vy_blob_create_many(c, lens, n, ws);
	if (rc)
		die("create_many: %s", vy_errmsg(c));
	m = vy_meta_new("test::Batch");
	for (i = 0; i < n; i++) {
		unsigned char *p = vy_writer_data(ws[i]);
		size_t k;

		if (!p || vy_writer_size(ws[i]) != lens[i])
			die("writer %zu", i);
		for (k = 0; k < lens[i]; k++)
			p[k] = (unsigned char)(i + k);
		snprintf(name, sizeof(name), "m%05zu", i);
		if (vy_meta_add_member_writer(m, name, ws[i]))
			die("add member %zu", i);
	}
	rc = vy_put_object(c, m, "batch", 0, &id);
	vy_meta_free(m);
	if (rc == -ENOSPC) {
		printf("error=%s\nerrno=ENOSPC\n", vy_errmsg(c));
		free(ws);
		free(lens);
		vy_close(c);
		return 5;
	}
	if (rc)
		die("put: %s", vy_errmsg(c));
	vy_id_format(id, idbuf);
	printf("root=%s\n", idbuf);
	rc = vy_get(c, id, &o);
	if (rc)
		die("get: %s", vy_errmsg(c));
	printf("members=%zu\n", vy_object_nmembers(o));
	if (vy_object_nmembers(o) != n)
		die("wrong member count");
	for (i = 0; i < n; i++) {
		struct vy_object *b;
		const unsigned char *p;
		size_t k;

		snprintf(name, sizeof(name), "m%05zu", i);
		b = vy_object_member_by_name(o, name);
		if (!b || vy_object_nbytes(b) != lens[i])
			die("member %s", name);
		p = vy_object_data(b);
		for (k = 0; k < lens[i]; k++)
			if (p[k] != (unsigned char)(i + k))
				die("member %s byte %zu", name, k);
	}
	vy_object_release(c, o);
	printf("verified=yes\n");
	free(ws);
	free(lens);
	vy_close(c);
	return 0;
}
