/*
 * t_store: the store facade without a socket. Blobs (create, fill, seal,
 * abort, kernel-enforced immutability), small blobs, composite objects
 * (members, refs that block deletes, deep and shallow deletes), reader pins
 * that keep deleted blobs alive, owners that go away, the memory limit,
 * names, listing, metadata JSON and change notifications.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "meta.h"
#include "object.h"
#include "proto.h"
#include "store.h"
#include "test.h"

/* The mode of what the tests put (vineyardd's default). */
#define MODE0 STORE_MODE_DEFAULT
#include "banned.h"

static struct store *
new_store(uint64_t limit)
{
	struct store_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.limit = limit;
	cfg.huge_pages = 0;
	return store_new(&cfg);
}

static struct store_status
status(struct store *s)
{
	struct store_status st;

	store_status(s, &st);
	return st;
}

/* A sealed memfd blob of len bytes, every byte fill. */
static uint64_t
big_blob(struct store *s, struct store_owner *o, size_t len, int fill)
{
	uint64_t id = 0;
	char *buf = malloc(len);
	int fd;

	memset(buf, fill, len);
	CHECK_EQ(store_blob_create(s, o, len, MODE0, &id, &fd, NULL), 0);
	CHECK_EQ(pwrite(fd, buf, len, 0), (ssize_t)len);
	CHECK_EQ(store_blob_seal(s, o, id), 0);
	free(buf);
	return id;
}

static uint64_t
small_blob(struct store *s, const char *text)
{
	uint64_t id = 0;

	CHECK_EQ(store_blob_put_small(s, NULL, text, strlen(text), MODE0, &id),
				      0);
	return id;
}

/* Reads a blob's bytes the way a reader would. */
static int
blob_equals(struct store *s, struct store_owner *o, uint64_t id,
	    const void *want, size_t len)
{
	struct store_blobref b;
	int ok = 0;

	if (store_blob_open(s, o, id, &b))
		return 0;
	if (b.len != len)
		goto out;
	if (b.kind == BLOB_KIND_SEGMENT) {
		ok = memcmp(b.ptr, want, len) == 0;
	} else {
		void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, b.fd, 0);

		if (p == MAP_FAILED)
			goto out;
		ok = memcmp(p, want, len) == 0;
		munmap(p, len);
	}
out:
	store_release(s, o, &id, 1);
	return ok;
}

static void
test_create_seal_abort(void)
{
	struct store *s = new_store(0);
	struct store_owner *a = store_owner_new(s, "a");
	struct store_owner *b = store_owner_new(s, "b");
	struct store_status st;
	struct store_info info;
	uint64_t id, id2;
	char buf[10000];
	int fd, fd2;

	memset(buf, 'q', sizeof(buf));
	CHECK_EQ(store_blob_create(s, a, 0, MODE0, &id, &fd, NULL), -EINVAL);
	CHECK(strstr(store_errmsg(), "at least one byte") != NULL);
	CHECK_EQ(store_blob_create(s, a, sizeof(buf), MODE0, &id, &fd, NULL), 0);
	CHECK(meta_id_is_blob(id));
	st = status(s);
	CHECK_EQ(st.unsealed, 1);
	CHECK_EQ(st.objects, 0);
	CHECK_EQ(st.payload, sizeof(buf));
	CHECK_EQ(st.used, 12288); /* whole pages */
	CHECK_EQ(st.owners, 2);
	/* invisible until sealed */
	CHECK_EQ(store_info(s, id, &info), -ENOENT);
	CHECK(strstr(store_errmsg(), "not sealed yet") != NULL);
	CHECK_EQ(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	/* only the owner may seal or abort it */
	CHECK_EQ(store_blob_seal(s, b, id), -EPERM);
	CHECK(strstr(store_errmsg(), "another client") != NULL);
	CHECK_EQ(store_blob_abort(s, b, id), -EPERM);
	CHECK_EQ(store_blob_seal(s, a, id), 0);
	CHECK_EQ(store_blob_seal(s, a, id), -EEXIST);
	CHECK_EQ(store_blob_seal(s, a, 0x8000000000000123ull), -ENOENT);
	st = status(s);
	CHECK_EQ(st.unsealed, 0);
	CHECK_EQ(st.objects, 1);
	CHECK_EQ(st.blobs, 1);
	CHECK_EQ(store_info(s, id, &info), 0);
	CHECK(strcmp(info.typename, META_BLOB_TYPENAME) == 0);
	CHECK_EQ(info.nbytes, sizeof(buf));
	CHECK(info.flags & OBJ_BLOB);
	CHECK(blob_equals(s, b, id, buf, sizeof(buf)));

	/* abort gives the memory back */
	CHECK_EQ(store_blob_create(s, a, 5000, MODE0, &id2, &fd2, NULL), 0);
	CHECK_EQ(status(s).used, 12288 + 8192);
	CHECK_EQ(store_blob_abort(s, a, id2), 0);
	CHECK_EQ(store_blob_abort(s, a, id2), -ENOENT);
	st = status(s);
	CHECK_EQ(st.used, 12288);
	CHECK_EQ(st.payload, sizeof(buf));
	CHECK_EQ(st.unsealed, 0);
	store_owner_free(s, a);
	store_owner_free(s, b);
	store_free(s);
}

/* After seal nobody can change the bytes: the kernel refuses writes,
 * writable mappings and size changes through any descriptor. */
static void
test_sealed_is_immutable(void)
{
	struct store *s = new_store(0);
	struct store_owner *a = store_owner_new(s, "a");
	struct store_blobref b;
	uint64_t id;
	int fd, mine;
	void *p;

	CHECK_EQ(store_blob_create(s, a, 8192, MODE0, &id, &fd, NULL), 0);
	/* what a client holds: its own descriptor of the same file */
	mine = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	CHECK(mine >= 0);
	CHECK_EQ(pwrite(mine, "abc", 3, 0), 3);
	/* still mapped writable: seal refuses, the blob stays unsealed */
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mine, 0);
	CHECK(p != MAP_FAILED);
	CHECK_EQ(store_blob_seal(s, a, id), -EBUSY);
	CHECK(strstr(store_errmsg(), "mapped writable") != NULL);
	CHECK_EQ(status(s).unsealed, 1);
	munmap(p, 8192);
	CHECK_EQ(store_blob_seal(s, a, id), 0);
	errno = 0;
	CHECK(pwrite(mine, "x", 1, 0) < 0 && errno == EPERM);
	CHECK(ftruncate(mine, 100) < 0 && errno == EPERM);
	CHECK(ftruncate(mine, 1 << 20) < 0 && errno == EPERM);
	CHECK(mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mine, 0)
	      == MAP_FAILED && errno == EPERM);
	CHECK(fcntl(mine, F_ADD_SEALS, F_SEAL_WRITE) < 0); /* sealed seals */
	/* what readers get is read-only */
	CHECK_EQ(store_blob_open(s, a, id, &b), 0);
	CHECK_EQ(b.kind, BLOB_KIND_MEMFD);
	CHECK_EQ(fcntl(b.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, b.fd, 0);
	CHECK(p != MAP_FAILED);
	if (p != MAP_FAILED) {
		CHECK(memcmp(p, "abc", 3) == 0);
		munmap(p, 8192);
	}
	store_release(s, a, &id, 1);
	close(mine);
	store_owner_free(s, a);
	store_free(s);
}

static void
test_small_blobs(void)
{
	struct store *s = new_store(0);
	struct store_owner *a = store_owner_new(s, "a");
	struct store_blobref b;
	static char max[PROTO_SMALL_MAX + 1];
	uint64_t id0, id1, idmax, id;
	struct store_status st;

	memset(max, 'm', sizeof(max));
	CHECK_EQ(store_blob_put_small(s, NULL, NULL, 0, MODE0, &id0), 0);
	CHECK_EQ(store_blob_put_small(s, NULL, "x", 1, MODE0, &id1), 0);
	CHECK_EQ(store_blob_put_small(s, NULL, max, PROTO_SMALL_MAX, MODE0,
				      &idmax), 0);
	CHECK_EQ(store_blob_put_small(s, NULL, max, PROTO_SMALL_MAX + 1, MODE0,
				      &id),
		 -EINVAL);
	CHECK(meta_id_is_blob(id0) && meta_id_is_blob(idmax));
	CHECK(id0 != id1 && id1 != idmax);
	st = status(s);
	CHECK_EQ(st.objects, 3);
	CHECK_EQ(st.blobs, 3);
	CHECK_EQ(st.payload, 1 + PROTO_SMALL_MAX);
	CHECK_EQ(st.segments, PROTO_SEG_SIZE);
	CHECK_EQ(st.used, PROTO_SEG_SIZE);
	CHECK(blob_equals(s, a, id0, "", 0));
	CHECK(blob_equals(s, a, id1, "x", 1));
	CHECK(blob_equals(s, a, idmax, max, PROTO_SMALL_MAX));
	CHECK_EQ(store_blob_open(s, a, id1, &b), 0);
	CHECK_EQ(b.kind, BLOB_KIND_SEGMENT);
	CHECK(b.seg_fd >= 0);
	CHECK_EQ(b.len, 1);
	/* the reader's view of the segment has the same byte */
	{
		uint8_t *p = mmap(NULL, PROTO_SEG_SIZE, PROT_READ, MAP_SHARED,
				  b.seg_fd, 0);

		CHECK(p != MAP_FAILED);
		if (p != MAP_FAILED) {
			CHECK_EQ(p[b.off], 'x');
			munmap(p, PROTO_SEG_SIZE);
		}
	}
	store_release(s, a, &id1, 1);
	/* a sealed small blob cannot be sealed or aborted again */
	CHECK_EQ(store_blob_seal(s, a, id1), -EEXIST);
	CHECK_EQ(store_blob_abort(s, a, id1), -EEXIST);
	store_owner_free(s, a);
	store_free(s);
}

/* ---- trees ---- */

/* {"typename": tn, "fields": {"n": n}, "members": {...}} with members
 * given as name/id pairs; a member id of 0 is filled by a nested leaf. */
static void
tree(struct cw *w, const char *tn, int64_t n, const char *const *mnames,
     const uint64_t *mids, size_t nm)
{
	size_t i;

	cw_map(w, 3);
	cw_str(w, "typename");
	cw_str(w, tn);
	cw_str(w, "fields");
	cw_map(w, 1);
	cw_str(w, "n");
	cw_int(w, n);
	cw_str(w, "members");
	cw_map(w, nm);
	for (i = 0; i < nm; i++) {
		cw_str(w, mnames[i]);
		if (mids[i]) {
			cw_uint(w, mids[i]);
		} else {
			cw_map(w, 1);
			cw_str(w, "typename");
			cw_str(w, "Leaf");
		}
	}
}

static int
put_tree(struct store *s, struct store_owner *o, const struct cw *w,
	 const uint64_t *seal, size_t nseal, const char *name, uint64_t *id)
{
	return store_obj_put(s, o, w->buf, w->len, seal, nseal, name,
			     name ? strlen(name) : 0, 0, MODE0, id, NULL);
}

struct walk {
	size_t nobjs, nblobs;
	uint64_t first;
};

static int
walk_obj(void *ctx, uint64_t id, const uint8_t *meta, size_t len,
	 uint64_t nbytes, const struct store_who *who)
{
	(void)who;
	struct walk *w = ctx;
	struct meta_view v;

	(void)nbytes;
	if (!w->nobjs && !w->nblobs)
		w->first = id;
	CHECK_EQ(meta_view_parse(meta, len, &v), 0);
	w->nobjs++;
	return 0;
}

static int
walk_blob(void *ctx, const struct store_blobref *b)
{
	struct walk *w = ctx;

	if (!w->nobjs && !w->nblobs)
		w->first = b->id;
	w->nblobs++;
	return 0;
}

static void
test_objects_and_members(void)
{
	static const char *const names[] = { "a", "b", "nested" };
	struct store *s = new_store(0);
	struct store_owner *o = store_owner_new(s, "o");
	uint64_t ids[3], root, id;
	struct store_info info;
	struct walk wk;
	struct cw w, out;
	size_t cnt;

	ids[0] = big_blob(s, o, 5000, 'A');
	ids[1] = small_blob(s, "bee");
	ids[2] = 0;
	cw_init(&w);
	tree(&w, "Pair", 7, names, ids, 3);
	CHECK_EQ(put_tree(s, o, &w, NULL, 0, NULL, &root), 0);
	CHECK(!meta_id_is_blob(root));
	CHECK_EQ(status(s).objects, 4); /* 2 blobs, the leaf, the root */
	CHECK_EQ(store_info(s, root, &info), 0);
	CHECK(strcmp(info.typename, "Pair") == 0);
	CHECK_EQ(info.nmembers, 3);
	CHECK_EQ(info.nbytes, 5003); /* sum of the members */

	/* a get walks the whole tree, root first, each node once */
	memset(&wk, 0, sizeof(wk));
	CHECK_EQ(store_get(s, o, root, 0, walk_obj, walk_blob, &wk), 0);
	CHECK_EQ(wk.nobjs, 2);
	CHECK_EQ(wk.nblobs, 2);
	CHECK(wk.first == root);
	store_release(s, o, ids, 2);

	/* members are refused deletion while referenced */
	CHECK_EQ(store_delete(s, NULL, &ids[0], 1, 0, &cnt, NULL), -EBUSY);
	CHECK(strstr(store_errmsg(), "member of 1 other object") != NULL);
	CHECK_EQ(cnt, 0);
	/* a batch with one refused id changes nothing */
	{
		uint64_t batch[2] = { root, ids[1] };

		CHECK_EQ(store_delete(s, NULL, batch, 2, 0, &cnt, NULL),
				      -EBUSY);
		CHECK_EQ(status(s).objects, 4);
	}
	/* a second parent: two references */
	{
		static const char *const one[] = { "x" };

		cw_init(&out);
		tree(&out, "Other", 1, one, &ids[0], 1);
		CHECK_EQ(put_tree(s, o, &out, NULL, 0, "other", &id), 0);
		CHECK_EQ(store_delete(s, NULL, &ids[0], 1, 0, &cnt, NULL),
				      -EBUSY);
		CHECK(strstr(store_errmsg(), "member of 2 other objects") !=
		      NULL);
		cw_release(&out);
	}
	/* meta.json of the root */
	cw_init(&out);
	CHECK_EQ(store_meta_json(s, NULL, root, &out), 0);
	cw_raw(&out, "", 1);
	CHECK(strstr((char *)out.buf, "\"typename\": \"Pair\"") != NULL);
	CHECK(strstr((char *)out.buf, "\"n\": 7") != NULL);
	CHECK(strstr((char *)out.buf, "\"nbytes\": 5003") != NULL);
	cw_release(&out);

	/* deep delete of the root: the leaf and the small blob go, the big
	 * blob stays (still a member of "other") */
	CHECK_EQ(store_delete(s, NULL, &root, 1, 0, &cnt, NULL), 0);
	CHECK_EQ(cnt, 3);
	CHECK_EQ(store_info(s, ids[1], &info), -ENOENT);
	CHECK_EQ(store_info(s, ids[0], &info), 0);
	CHECK_EQ(status(s).objects, 2);
	/* deleting "other" frees the big blob too; its name goes with it */
	CHECK_EQ(store_delete(s, NULL, &id, 1, 0, &cnt, NULL), 0);
	CHECK_EQ(cnt, 2);
	CHECK_EQ(store_name_get(s, "other", 5, &root), -ENOENT);
	CHECK_EQ(status(s).objects, 0);
	CHECK_EQ(status(s).payload, 0);
	CHECK_EQ(status(s).names, 0);
	cw_release(&w);
	store_owner_free(s, o);
	store_free(s);
}

static void
test_shallow_and_named_members(void)
{
	static const char *const names[] = { "a", "b" };
	struct store *s = new_store(0);
	struct store_owner *o = store_owner_new(s, "o");
	uint64_t ids[2], root;
	struct store_info info;
	struct cw w;
	size_t cnt;

	ids[0] = small_blob(s, "one");
	ids[1] = small_blob(s, "two");
	cw_init(&w);
	tree(&w, "T", 1, names, ids, 2);
	CHECK_EQ(put_tree(s, o, &w, NULL, 0, NULL, &root), 0);
	CHECK_EQ(store_delete(s, NULL, &root, 1, DELETE_F_SHALLOW, &cnt, NULL),
			      0);
	CHECK_EQ(cnt, 1);
	/* members stay and are free to delete now */
	CHECK_EQ(store_info(s, ids[0], &info), 0);
	CHECK_EQ(store_delete(s, NULL, ids, 2, 0, &cnt, NULL), 0);
	CHECK_EQ(cnt, 2);

	/* a named member survives a deep delete of its parent */
	ids[0] = small_blob(s, "one");
	ids[1] = small_blob(s, "two");
	CHECK_EQ(store_name_put(s, NULL, "keep", 4, ids[1], NULL), 0);
	cw_reset(&w);
	tree(&w, "T", 1, names, ids, 2);
	CHECK_EQ(put_tree(s, o, &w, NULL, 0, NULL, &root), 0);
	CHECK_EQ(store_delete(s, NULL, &root, 1, 0, &cnt, NULL), 0);
	CHECK_EQ(cnt, 2);
	CHECK_EQ(store_info(s, ids[0], &info), -ENOENT);
	CHECK_EQ(store_info(s, ids[1], &info), 0);
	cw_release(&w);
	store_owner_free(s, o);
	store_free(s);
}

/* A diamond: both B and C have X; A has B and C. A deep delete of A
 * takes all four, X once. */
static void
test_diamond_delete(void)
{
	static const char *const bn[] = { "x" }, *const an[] = { "b", "c" };
	struct store *s = new_store(0);
	struct store_owner *o = store_owner_new(s, "o");
	uint64_t x, bc[2], a;
	struct cw w;
	size_t cnt;

	x = small_blob(s, "xx");
	cw_init(&w);
	tree(&w, "B", 1, bn, &x, 1);
	CHECK_EQ(put_tree(s, o, &w, NULL, 0, NULL, &bc[0]), 0);
	CHECK_EQ(put_tree(s, o, &w, NULL, 0, NULL, &bc[1]), 0);
	cw_reset(&w);
	tree(&w, "A", 1, an, bc, 2);
	CHECK_EQ(put_tree(s, o, &w, NULL, 0, NULL, &a), 0);
	CHECK_EQ(status(s).objects, 4);
	CHECK_EQ(store_delete(s, NULL, &a, 1, 0, &cnt, NULL), 0);
	CHECK_EQ(cnt, 4);
	CHECK_EQ(status(s).objects, 0);
	/* the same id twice in one batch is deleted once */
	x = small_blob(s, "xx");
	{
		uint64_t twice[2] = { x, x };

		CHECK_EQ(store_delete(s, NULL, twice, 2, 0, &cnt, NULL), 0);
		CHECK_EQ(cnt, 1);
	}
	cw_release(&w);
	store_owner_free(s, o);
	store_free(s);
}

/* obj_put checks everything before it changes anything. */
static void
test_obj_put_checks(void)
{
	static const char *const names[] = { "m" };
	struct store *s = new_store(0);
	struct store_owner *a = store_owner_new(s, "a");
	struct store_owner *b = store_owner_new(s, "b");
	struct store_status before, after;
	struct store_info info;
	uint64_t blob, other, root, missing = 0x8000000000000777ull, seal[2];
	struct cw w;
	int fd;

	cw_init(&w);
	/* an unsealed member is sealed by the put that lists it */
	CHECK_EQ(store_blob_create(s, a, 10000, MODE0, &blob, &fd, NULL), 0);
	tree(&w, "T", 1, names, &blob, 1);
	CHECK_EQ(put_tree(s, a, &w, &blob, 1, "first", &root), 0);
	CHECK_EQ(store_info(s, blob, &info), 0);
	CHECK_EQ(status(s).unsealed, 0);
	CHECK_EQ(store_name_get(s, "first", 5, &other), 0);
	CHECK(other == root);

	/* unknown member */
	before = status(s);
	cw_reset(&w);
	tree(&w, "T", 1, names, &missing, 1);
	CHECK_EQ(put_tree(s, a, &w, NULL, 0, NULL, &root), -ENOENT);
	CHECK(strstr(store_errmsg(), "member m") != NULL);
	/* another owner's blob in the seal list */
	CHECK_EQ(store_blob_create(s, b, 10000, MODE0, &other, &fd, NULL), 0);
	CHECK_EQ(store_blob_create(s, a, 10000, MODE0, &blob, &fd, NULL), 0);
	before = status(s);
	cw_reset(&w);
	tree(&w, "T", 1, names, &blob, 1);
	seal[0] = blob;
	seal[1] = other;
	CHECK_EQ(put_tree(s, a, &w, seal, 2, NULL, &root), -EPERM);
	after = status(s);
	CHECK_EQ(after.unsealed, before.unsealed);
	CHECK_EQ(after.objects, before.objects);
	/* the same blob twice */
	seal[1] = blob;
	CHECK_EQ(put_tree(s, a, &w, seal, 2, NULL, &root), -EINVAL);
	/* an unsealed member not listed to seal */
	CHECK_EQ(put_tree(s, a, &w, NULL, 0, NULL, &root), -ENOENT);
	/* invalid name, bad metadata */
	CHECK_EQ(put_tree(s, a, &w, &blob, 1, "a/b", &root), -EINVAL);
	CHECK(strstr(store_errmsg(), "'/'") != NULL);
	CHECK_EQ(store_obj_put(s, a, "\xa1", 1, &blob, 1, NULL, 0, 0, MODE0,
			       &root,
			       NULL), -EBADMSG);
	CHECK(strstr(store_errmsg(), "bad metadata") != NULL);
	after = status(s);
	CHECK_EQ(after.unsealed, before.unsealed);
	CHECK_EQ(after.objects, before.objects);
	CHECK_EQ(after.names, before.names);
	CHECK_EQ(put_tree(s, a, &w, &blob, 1, NULL, &root), 0);
	cw_release(&w);
	store_owner_free(s, a);
	store_owner_free(s, b);
	store_free(s);
}

/* A seal that fails in a put (the last listed blob is still mapped
 * writable) leaves every listed blob unsealed and adds nothing; the same
 * put succeeds once the mapping is gone, and a blob the failed put had
 * already sealed in the kernel seals again without error. */
static void
test_obj_put_failing_seal_changes_nothing(void)
{
	static const char *const names[] = { "x", "y", "z" };
	static char want[8192] = "abc";
	struct store *s = new_store(0);
	struct store_owner *a = store_owner_new(s, "a");
	struct store_status before, after;
	struct store_info info;
	uint64_t ids[3], root, got;
	int fds[3], i;
	struct cw w;
	void *p;

	for (i = 0; i < 3; i++) {
		CHECK_EQ(store_blob_create(s, a, 8192, MODE0, &ids[i],
					   &fds[i], NULL), 0);
		CHECK_EQ(pwrite(fds[i], "abc", 3, 0), 3);
	}
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0);
	CHECK(p != MAP_FAILED);
	cw_init(&w);
	tree(&w, "T", 1, names, ids, 3);
	before = status(s);
	CHECK_EQ(put_tree(s, a, &w, ids, 3, "n", &root), -EBUSY);
	CHECK(strstr(store_errmsg(), "mapped writable") != NULL);
	after = status(s);
	CHECK_EQ(after.unsealed, 3);
	CHECK_EQ(after.objects, before.objects);
	CHECK_EQ(after.blobs, before.blobs);
	CHECK_EQ(after.names, before.names);
	CHECK_EQ(store_name_get(s, "n", 1, &got), -ENOENT);
	for (i = 0; i < 3; i++)
		CHECK_EQ(store_info(s, ids[i], &info), -ENOENT);
	/* the first blob again, alone: sealing twice in the kernel is fine */
	CHECK_EQ(store_blob_seal(s, a, ids[0]), 0);
	CHECK_EQ(store_info(s, ids[0], &info), 0);
	/* the mapping gone, the rest of the put goes through */
	munmap(p, 8192);
	CHECK_EQ(put_tree(s, a, &w, ids + 1, 2, "n", &root), 0);
	CHECK_EQ(status(s).unsealed, 0);
	CHECK_EQ(store_name_get(s, "n", 1, &got), 0);
	CHECK(got == root);
	for (i = 0; i < 3; i++)
		CHECK(blob_equals(s, a, ids[i], want, sizeof(want)));
	cw_release(&w);
	store_owner_free(s, a);
	store_free(s);
}

/* Pins keep a deleted blob's memory until the last reader lets go. */
static void
test_pins_keep_zombies(void)
{
	struct store *s = new_store(0);
	struct store_owner *w = store_owner_new(s, "writer");
	struct store_owner *r1 = store_owner_new(s, "r1");
	struct store_owner *r2 = store_owner_new(s, "r2");
	struct store_blobref b;
	struct store_status st;
	uint64_t id, small, meta_only;
	size_t cnt;
	struct walk wk;
	char *p;

	id = big_blob(s, w, 1 << 20, 'Z');
	small = small_blob(s, "tiny");
	CHECK_EQ(store_blob_open(s, r1, id, &b), 0);
	p = mmap(NULL, 1 << 20, PROT_READ, MAP_SHARED, b.fd, 0);
	CHECK(p != MAP_FAILED);
	memset(&wk, 0, sizeof(wk));
	CHECK_EQ(store_get(s, r2, id, 0, NULL, walk_blob, &wk), 0);
	CHECK_EQ(store_get(s, r2, id, 0, NULL, walk_blob, &wk), 0);
	CHECK_EQ(store_blob_open(s, r1, small, &b), 0);
	/* metadata-only gets pin nothing */
	CHECK_EQ(store_get(s, r1, id, GET_F_META, NULL, walk_blob, &wk), 0);

	CHECK_EQ(store_delete(s, NULL, &id, 1, 0, &cnt, NULL), 0);
	CHECK_EQ(store_delete(s, NULL, &small, 1, 0, &cnt, NULL), 0);
	st = status(s);
	CHECK_EQ(st.objects, 0);
	CHECK_EQ(st.zombies, 2);
	CHECK_EQ(st.used, (1 << 20) + PROTO_SEG_SIZE); /* still counted */
	/* gone for new readers */
	CHECK_EQ(store_blob_open(s, r1, id, &b), -ENOENT);
	/* the bytes stay intact */
	CHECK(p != MAP_FAILED && p[0] == 'Z' && p[(1 << 20) - 1] == 'Z');

	/* r2 holds two pins: one release is not enough */
	store_release(s, r2, &id, 1);
	store_release(s, r1, &id, 1);
	CHECK_EQ(status(s).zombies, 2);
	store_release(s, r1, &id, 1); /* no pin left: ignored */
	meta_only = 0x8000000000000999ull;
	store_release(s, r1, &meta_only, 1); /* unknown: ignored */
	CHECK_EQ(status(s).zombies, 2);
	store_release(s, r2, &id, 1);
	st = status(s);
	CHECK_EQ(st.zombies, 1);
	CHECK_EQ(st.payload, 4);
	CHECK(p[12345] == 'Z'); /* our own mapping still works */
	munmap(p, 1 << 20);

	/* an owner that goes away drops its pins */
	store_owner_free(s, r1);
	st = status(s);
	CHECK_EQ(st.zombies, 0);
	CHECK_EQ(st.payload, 0);
	/* the emptied segment is no longer counted; one is kept idle */
	CHECK_EQ(st.used, 0);
	CHECK_EQ(st.segments, 0);
	CHECK_EQ(st.idle_segments, PROTO_SEG_SIZE);
	store_owner_free(s, r2);
	store_owner_free(s, w);
	CHECK_EQ(status(s).owners, 0);
	store_free(s);
}

/* A client that dies: its unsealed blobs go, what it sealed stays. */
static void
test_owner_free_drops_unsealed(void)
{
	struct store *s = new_store(0);
	struct store_owner *o = store_owner_new(s, "dying");
	struct store_info info;
	uint64_t sealed, u1, u2;
	struct store_status st;
	int fd;

	sealed = big_blob(s, o, 4096, 1);
	CHECK_EQ(store_blob_create(s, o, 1 << 20, MODE0, &u1, &fd, NULL), 0);
	CHECK_EQ(store_blob_create(s, o, 3 << 20, MODE0, &u2, &fd, NULL), 0);
	CHECK_EQ(store_blob_open(s, o, sealed, &(struct store_blobref){0}), 0);
	st = status(s);
	CHECK_EQ(st.unsealed, 2);
	CHECK_EQ(st.used, 4096 + (4 << 20));
	store_owner_free(s, o);
	st = status(s);
	CHECK_EQ(st.unsealed, 0);
	CHECK_EQ(st.used, 4096);
	CHECK_EQ(st.objects, 1);
	CHECK_EQ(store_info(s, sealed, &info), 0);
	store_owner_free(s, NULL); /* no-op */
	store_free(s);
}

/* Segments of small blobs come back once empty: the accounting returns to
 * its baseline, the idle one kept for the next small put is given back
 * when a large blob needs its memory, and a reused slot has a new
 * generation (readers map it anew). */
static void
test_segments_come_back(void)
{
	struct store *s = new_store(4 << 20);
	struct store_owner *o = store_owner_new(s, "t");
	struct store_blobref b;
	uint64_t ids[1100], id;
	static const char v[4000];
	struct store_status st;
	uint32_t gen0;
	size_t n = 0, count;
	int rc = 0, fd;

	while (n < 1100 && (rc = store_blob_put_small(s, NULL, v, sizeof(v),
						      MODE0,
						      &ids[n])) == 0)
		n++;
	CHECK_EQ(rc, -ENOSPC);
	CHECK_EQ(n, 2 * (PROTO_SEG_SIZE / 4096));
	CHECK_EQ(status(s).used, 4 << 20);
	CHECK_EQ(store_blob_open(s, o, ids[0], &b), 0);
	gen0 = b.seg_gen;
	store_release(s, o, &ids[0], 1);
	CHECK_EQ(store_delete(s, NULL, ids, n, 0, &count, NULL), 0);
	st = status(s);
	CHECK_EQ(st.used, 0);
	CHECK_EQ(st.segments, 0);
	CHECK_EQ(st.idle_segments, PROTO_SEG_SIZE);
	/* 3 MiB fit the limit only without the idle segment */
	CHECK_EQ(store_blob_create(s, o, 3 << 20, MODE0, &id, &fd, NULL), 0);
	st = status(s);
	CHECK_EQ(st.idle_segments, 0);
	CHECK_EQ(st.used, 3 << 20);
	CHECK_EQ(store_blob_abort(s, o, id), 0);
	/* a small put gets a new segment: a new generation in its slot */
	CHECK_EQ(store_blob_put_small(s, NULL, v, 10, MODE0, &id), 0);
	CHECK_EQ(store_blob_open(s, o, id, &b), 0);
	CHECK_EQ(b.seg, 0);
	CHECK_EQ(b.seg_gen, gen0 + 1);
	CHECK(b.seg_fd >= 0);
	store_owner_free(s, o);
	store_free(s);
}

static void
test_limit(void)
{
	struct store *s = new_store(4 << 20);
	struct store_owner *o = store_owner_new(s, "o");
	uint64_t a, b, c;
	size_t cnt;
	int fd;

	CHECK_EQ(status(s).limit, 4 << 20);
	a = small_blob(s, "first"); /* one 2 MiB segment */
	CHECK_EQ(store_blob_create(s, o, 1 << 20, MODE0, &b, &fd, NULL), 0);
	CHECK_EQ(store_blob_create(s, o, (1 << 20) + 1, MODE0, &c, &fd, NULL),
				   -ENOSPC);
	CHECK(strstr(store_errmsg(), "--size") != NULL);
	CHECK(strstr(store_errmsg(), "4.0 MiB") != NULL);
	/* exactly what is left fits */
	CHECK_EQ(store_blob_create(s, o, 1 << 20, MODE0, &c, &fd, NULL), 0);
	CHECK_EQ(status(s).used, 4 << 20);
	CHECK_EQ(store_blob_create(s, o, 1, MODE0, &c, &fd, NULL), -ENOSPC);
	/* no room for another segment: small puts fail once it is full */
	{
		static char k[4000];
		uint64_t id;
		int i, rc = 0;

		for (i = 0; i < 1000 && rc == 0; i++)
			rc = store_blob_put_small(s, NULL, k, sizeof(k), MODE0,
						  &id);
		CHECK_EQ(rc, -ENOSPC);
		CHECK(strstr(store_errmsg(), "no space") != NULL);
	}
	/* earlier objects are intact, and freeing makes room again */
	CHECK(blob_equals(s, o, a, "first", 5));
	CHECK_EQ(store_blob_abort(s, o, c), 0);
	CHECK_EQ(store_blob_create(s, o, 1 << 20, MODE0, &c, &fd, NULL), 0);
	/* an absurd size is refused, not wrapped */
	CHECK_EQ(store_blob_create(s, o, SIZE_MAX, MODE0, &c, &fd, NULL), -ENOSPC);
	CHECK_EQ(store_blob_create(s, o, SIZE_MAX - 100, MODE0, &c, &fd, NULL),
				   -ENOSPC);
	CHECK_EQ(store_delete(s, NULL, &a, 1, 0, &cnt, NULL), 0);
	store_owner_free(s, o);
	store_free(s);
}

static int
collect_name(void *ctx, const char *name, uint64_t id,
	     const struct store_perm *owner)
{
	struct cw *w = ctx;

	(void)id;
	(void)owner;
	cw_raw(w, name, strlen(name));
	cw_raw(w, ",", 1);
	return 0;
}

static void
test_names(void)
{
	struct store *s = new_store(0);
	uint64_t a = small_blob(s, "a"), b = small_blob(s, "b"), id;
	struct store_info info;
	char big[4096];
	struct cw w;
	size_t cnt;

	CHECK_EQ(store_name_put(s, NULL, "dataset", 7, a, NULL), 0);
	CHECK_EQ(store_name_get(s, "dataset", 7, &id), 0);
	CHECK(id == a);
	/* put replaces */
	CHECK_EQ(store_name_put(s, NULL, "dataset", 7, b, NULL), 0);
	CHECK_EQ(store_name_get(s, "dataset", 7, &id), 0);
	CHECK(id == b);
	CHECK_EQ(status(s).names, 1);
	CHECK_EQ(store_info(s, a, &info), 0);
	CHECK_EQ(info.nnames, 0);
	CHECK_EQ(store_info(s, b, &info), 0);
	CHECK_EQ(info.nnames, 1);
	/* invalid names: clear errors */
	CHECK_EQ(store_name_put(s, NULL, "a/b", 3, a, NULL), -EINVAL);
	CHECK(strstr(store_errmsg(), "invalid name") != NULL);
	CHECK_EQ(store_name_put(s, NULL, "..", 2, a, NULL), -EINVAL);
	CHECK_EQ(store_name_put(s, NULL, "", 0, a, NULL), -EINVAL);
	memset(big, 'x', sizeof(big));
	CHECK_EQ(store_name_put(s, NULL, big, sizeof(big), a, NULL), -EINVAL);
	CHECK(strstr(store_errmsg(), "255") != NULL);
	CHECK_EQ(store_name_put(s, NULL, "bell\a", 5, a, NULL), -EINVAL);
	CHECK_EQ(store_name_put(s, NULL, "o0123456789abcdef", 17, a, NULL),
				-EINVAL);
	/* unknown object */
	CHECK_EQ(store_name_put(s, NULL, "n", 1, 0x8000000000000555ull, NULL),
		 -ENOENT);
	CHECK_EQ(store_name_get(s, "nope", 4, &id), -ENOENT);
	CHECK(strstr(store_errmsg(), "no name 'nope'") != NULL);
	CHECK_EQ(store_name_drop(s, NULL, "nope", 4, NULL), -ENOENT);
	/* list, sorted and globbed */
	CHECK_EQ(store_name_put(s, NULL, "beta", 4, a, NULL), 0);
	CHECK_EQ(store_name_put(s, NULL, "alpha", 5, a, NULL), 0);
	cw_init(&w);
	CHECK_EQ(store_name_list(s, NULL, collect_name, &w), 0);
	cw_raw(&w, "", 1);
	CHECK(strcmp((char *)w.buf, "alpha,beta,dataset,") == 0);
	cw_reset(&w);
	CHECK_EQ(store_name_list(s, "*ta*", collect_name, &w), 0);
	cw_raw(&w, "", 1);
	CHECK(strcmp((char *)w.buf, "beta,dataset,") == 0);
	/* drop one; delete drops the object's names */
	CHECK_EQ(store_name_drop(s, NULL, "beta", 4, NULL), 0);
	CHECK_EQ(store_name_get(s, "beta", 4, &id), -ENOENT);
	CHECK_EQ(store_delete(s, NULL, &a, 1, 0, &cnt, NULL), 0);
	CHECK_EQ(store_name_get(s, "alpha", 5, &id), -ENOENT);
	CHECK_EQ(store_name_get(s, "dataset", 7, &id), 0);
	CHECK_EQ(status(s).names, 1);
	cw_release(&w);
	store_free(s);
}

struct lst {
	size_t n;
	uint64_t last;
	int sorted;
};

static int
list_one(void *ctx, const struct store_info *info, const char *const *names,
	 size_t nnames)
{
	struct lst *l = ctx;

	(void)names;
	(void)nnames;
	if (l->n && info->id <= l->last)
		l->sorted = 0;
	l->last = info->id;
	l->n++;
	return 0;
}

static void
test_list(void)
{
	static const char *const names[] = { "m" };
	struct store *s = new_store(0);
	struct store_owner *o = store_owner_new(s, "o");
	struct lst l;
	uint64_t blob, obj, *ids;
	size_t n, i;
	struct cw w;
	int more, k;

	for (k = 0; k < 20; k++)
		blob = small_blob(s, "b");
	cw_init(&w);
	tree(&w, "vineyard::Tensor<double>", 1, names, &blob, 1);
	CHECK_EQ(put_tree(s, o, &w, NULL, 0, NULL, &obj), 0);
	memset(&l, 0, sizeof(l));
	l.sorted = 1;
	CHECK_EQ(store_list(s, NULL, 0, 0, list_one, &l, &more), 0);
	CHECK_EQ(l.n, 21);
	CHECK(l.sorted);
	CHECK_EQ(more, 0);
	memset(&l, 0, sizeof(l));
	CHECK_EQ(store_list(s, "vineyard::Tensor<*>", 0, 0, list_one, &l,
			    &more), 0);
	CHECK_EQ(l.n, 1);
	CHECK(l.last == obj);
	memset(&l, 0, sizeof(l));
	CHECK_EQ(store_list(s, "vineyard::Blob", 0, 0, list_one, &l, &more),
		 0);
	CHECK_EQ(l.n, 20);
	memset(&l, 0, sizeof(l));
	CHECK_EQ(store_list(s, "nothing*", 0, 0, list_one, &l, &more), 0);
	CHECK_EQ(l.n, 0);
	/* paging: limit and after */
	memset(&l, 0, sizeof(l));
	CHECK_EQ(store_list(s, NULL, 0, 8, list_one, &l, &more), 0);
	CHECK_EQ(l.n, 8);
	CHECK_EQ(more, 1);
	CHECK_EQ(store_list(s, NULL, l.last, 100, list_one, &l, &more), 0);
	CHECK_EQ(l.n, 21);
	CHECK_EQ(more, 0);
	/* ids, sorted */
	CHECK_EQ(store_ids(s, &ids, &n), 0);
	CHECK_EQ(n, 21);
	for (i = 1; i < n; i++)
		CHECK(ids[i - 1] < ids[i]);
	free(ids);
	cw_release(&w);
	store_owner_free(s, o);
	store_free(s);
}

struct events {
	int add, del, set, drop, perm;
};

static void
on_event(void *ctx, enum store_event ev, uint64_t id, const char *name)
{
	struct events *e = ctx;

	(void)id;
	switch (ev) {
	case STORE_EV_ADD: e->add++; break;
	case STORE_EV_DEL: e->del++; break;
	case STORE_EV_NAME_SET: e->set++; CHECK(name != NULL); break;
	case STORE_EV_NAME_DROP: e->drop++; CHECK(name != NULL); break;
	case STORE_EV_STREAM: break;
	case STORE_EV_PERM: e->perm++; break;
	}
}

static void
test_watch(void)
{
	static const char *const names[] = { "m" };
	struct store *s = new_store(0);
	struct store_owner *o = store_owner_new(s, "o");
	struct events e;
	uint64_t blob, obj;
	size_t cnt;
	struct cw w;

	memset(&e, 0, sizeof(e));
	store_watch(s, on_event, &e);
	blob = big_blob(s, o, 9000, 3);
	CHECK_EQ(e.add, 1);
	cw_init(&w);
	tree(&w, "T", 1, names, &blob, 1);
	CHECK_EQ(put_tree(s, o, &w, NULL, 0, "n1", &obj), 0);
	CHECK_EQ(e.add, 2);
	CHECK_EQ(e.set, 1);
	CHECK_EQ(store_name_put(s, NULL, "n2", 2, obj, NULL), 0);
	CHECK_EQ(store_name_drop(s, NULL, "n2", 2, NULL), 0);
	CHECK_EQ(e.set, 2);
	CHECK_EQ(e.drop, 1);
	CHECK_EQ(store_delete(s, NULL, &obj, 1, 0, &cnt, NULL), 0);
	CHECK_EQ(e.del, 2);
	cw_release(&w);
	store_owner_free(s, o);
	store_free(s);
}

/* A callback's nonzero return stops the walk and comes back. */
static int
stop_walk(void *ctx, const struct store_blobref *b)
{
	(void)ctx;
	(void)b;
	return -ECANCELED;
}

static void
test_get_errors(void)
{
	struct store *s = new_store(0);
	struct store_owner *o = store_owner_new(s, "o");
	struct store_blobref b;
	uint64_t id = small_blob(s, "x"), unsealed;
	struct cw w;
	int fd;

	CHECK_EQ(store_get(s, o, 0x42, 0, NULL, NULL, NULL), -ENOENT);
	CHECK(strstr(store_errmsg(), "no object o0000000000000042") != NULL);
	CHECK_EQ(store_get(s, o, id, 0, NULL, stop_walk, NULL), -ECANCELED);
	store_release(s, o, &id, 1);
	CHECK_EQ(store_blob_create(s, o, 9999, MODE0, &unsealed, &fd, NULL), 0);
	CHECK_EQ(store_get(s, o, unsealed, 0, NULL, NULL, NULL), -ENOENT);
	CHECK(strstr(store_errmsg(), "not sealed yet") != NULL);
	CHECK_EQ(store_blob_open(s, o, unsealed, &b), -ENOENT);
	cw_init(&w);
	CHECK_EQ(store_meta_json(s, NULL, unsealed, &w), -ENOENT);
	cw_release(&w);
	store_owner_free(s, o);
	store_free(s);
}

/* The access rule, as the socket front applies it: the owner's bits when
 * the uid matches, else the group's when the object's group is one of the
 * client's (supplementary groups too), else the others'; root and the
 * daemon's user pass; owners without credentials pass. */
static void
test_permissions(void)
{
	static const char *const mn[] = { "m" };
	static const uint32_t grp[] = { 7, 1000 };
	struct store *s = new_store(0);
	struct store_owner *a = store_owner_new(s, "a");
	struct store_owner *b = store_owner_new(s, "b");
	struct store_owner *g = store_owner_new(s, "g");
	struct store_owner *r = store_owner_new(s, "root");
	struct store_owner *me = store_owner_new(s, "daemon's user");
	struct store_perm p;
	struct walk w;
	struct cw t;
	uint64_t blob, obj, other, id;
	size_t count;

	store_owner_cred(s, a, 1000, 1000, NULL, 0);
	store_owner_cred(s, b, 2000, 2000, NULL, 0);
	store_owner_cred(s, g, 3000, 3000, grp, 2);  /* in a's group */
	store_owner_cred(s, r, 0, 0, NULL, 0);
	store_owner_cred(s, me, (uint32_t)geteuid(), (uint32_t)getegid(),
			 NULL, 0);
	if (geteuid() == 1000 || geteuid() == 2000 || geteuid() == 3000)
		return; /* the daemon's user would be privileged here */

	/* What a puts is a's, with the mode asked for. */
	CHECK_EQ(store_blob_put_small(s, a, "x", 1, 0755, &blob), -EINVAL);
	CHECK_EQ(store_blob_put_small(s, a, "x", 1, 0640, &blob), 0);
	CHECK_EQ(store_perm(s, blob, &p), 0);
	CHECK(p.uid == 1000 && p.gid == 1000 && p.mode == 0640);
	cw_init(&t);
	tree(&t, "T", 1, mn, &blob, 1);
	CHECK_EQ(store_obj_put(s, a, t.buf, t.len, NULL, 0, "mine", 4, 0,
			       0600, &obj, NULL), 0);
	CHECK_EQ(store_perm(s, obj, &p), 0);
	CHECK(p.uid == 1000 && p.mode == 0600);

	/* get: every object of the tree; the member alone for the group */
	memset(&w, 0, sizeof(w));
	CHECK_EQ(store_get(s, b, blob, GET_F_META, walk_obj, walk_blob, &w),
		 -EACCES);
	CHECK(strstr(store_errmsg(), "permission denied") != NULL);
	CHECK_EQ(store_get(s, g, blob, GET_F_META, walk_obj, walk_blob, &w),
		 0);
	CHECK_EQ(store_get(s, g, obj, GET_F_META, walk_obj, walk_blob, &w),
		 -EACCES);
	CHECK_EQ(store_get(s, a, obj, 0, walk_obj, walk_blob, &w), 0);
	store_release(s, a, &blob, 1);
	CHECK_EQ(store_get(s, r, obj, GET_F_META, walk_obj, walk_blob, &w),
		 0);
	CHECK_EQ(store_get(s, me, obj, GET_F_META, walk_obj, walk_blob, &w),
		 0);
	CHECK_EQ(store_get(s, NULL, obj, GET_F_META, walk_obj, walk_blob,
			   &w), 0);
	{
		struct cw j;

		cw_init(&j);
		CHECK_EQ(store_meta_json(s, b, blob, &j), -EACCES);
		CHECK_EQ(store_meta_json(s, g, blob, &j), 0);
		cw_release(&j);
	}
	/* a member needs read: g may use the blob, b may not */
	cw_reset(&t);
	tree(&t, "U", 1, mn, &blob, 1);
	CHECK_EQ(store_obj_put(s, b, t.buf, t.len, NULL, 0, NULL, 0, 0,
			       MODE0, &id, NULL), -EACCES);
	CHECK_EQ(store_obj_put(s, g, t.buf, t.len, NULL, 0, NULL, 0, 0,
			       0644, &other, NULL), 0);

	/* delete: write, all or nothing */
	CHECK_EQ(store_delete(s, g, &obj, 1, 0, &count, NULL), -EACCES);
	{
		uint64_t two[2] = { other, obj };

		CHECK_EQ(store_delete(s, g, two, 2, 0, &count, NULL), -EACCES);
		CHECK_EQ(count, 0);
		CHECK_EQ(store_perm(s, other, &p), 0);
	}
	/* g's object goes, a's member stays (g may not delete it) */
	CHECK_EQ(store_delete(s, g, &other, 1, 0, &count, NULL), 0);
	CHECK_EQ(count, 1);
	CHECK_EQ(store_perm(s, blob, &p), 0);

	/* names: binding needs write on the object; re-pointing and
	 * dropping need the name's owner */
	CHECK_EQ(store_name_put(s, b, "theirs", 6, obj, NULL), -EACCES);
	CHECK_EQ(store_blob_put_small(s, b, "y", 1, 0644, &other), 0);
	CHECK_EQ(store_name_put(s, b, "mine", 4, other, NULL), -EACCES);
	CHECK_EQ(store_name_drop(s, b, "mine", 4, NULL), -EACCES);
	CHECK_EQ(store_name_get(s, "mine", 4, &id), 0);
	CHECK_EQ(id, obj);
	CHECK_EQ(store_name_put(s, b, "bs", 2, other, NULL), 0);
	CHECK_EQ(store_name_owner(s, "bs", 2, &id, &p), 0);
	CHECK(id == other && p.uid == 2000 && p.gid == 2000);
	/* root re-points a's name; it stays a's */
	CHECK_EQ(store_name_put(s, r, "mine", 4, other, NULL), 0);
	CHECK_EQ(store_name_owner(s, "mine", 4, &id, &p), 0);
	CHECK(id == other && p.uid == 1000);
	CHECK_EQ(store_name_drop(s, a, "mine", 4, NULL), 0);

	/* persist without a data dir: the permission is checked first */
	CHECK_EQ(store_persist(s, b, &obj, 1, NULL), -EACCES);
	CHECK_EQ(store_persist(s, a, &obj, 1, NULL), -ENOTSUP);

	/* chmod: the owner only, all or nothing, optionally the tree */
	CHECK_EQ(store_chmod(s, g, &obj, 1, 0, 0044, 0, &count, NULL), -EACCES);
	CHECK_EQ(store_chmod(s, a, &obj, 1, 0, 0100, 0, &count, NULL), -EINVAL);
	{
		uint64_t two[2] = { obj, other };

		CHECK_EQ(store_chmod(s, a, two, 2, 0, 0004, 0, &count, NULL),
			 -EACCES);
		CHECK_EQ(store_perm(s, obj, &p), 0);
		CHECK_EQ(p.mode, 0600);
	}
	CHECK_EQ(store_chmod(s, a, &obj, 1, 0, 0004, 0, &count, NULL), 0);
	CHECK_EQ(count, 1);
	CHECK_EQ(store_get(s, b, obj, GET_F_META, walk_obj, walk_blob, &w),
		 -EACCES); /* the member is still 0640 */
	CHECK_EQ(store_chmod(s, a, &obj, 1, 0, 0004, CHMOD_F_TREE, &count,
			     NULL),
		 0);
	CHECK_EQ(count, 1); /* only the member changed */
	CHECK_EQ(store_get(s, b, obj, GET_F_META, walk_obj, walk_blob, &w),
		 0);
	CHECK_EQ(store_chmod(s, a, &obj, 1, 0666, 0660, 0, &count, NULL), 0);
	CHECK_EQ(store_perm(s, obj, &p), 0);
	CHECK_EQ(p.mode, 0660);
	/* the group may write now: delete */
	CHECK_EQ(store_delete(s, g, &obj, 1, DELETE_F_SHALLOW, &count, NULL),
			      0);
	CHECK_EQ(store_delete(s, b, &blob, 1, 0, &count, NULL), -EACCES);
	CHECK_EQ(store_delete(s, me, &blob, 1, 0, &count, NULL), 0);

	cw_release(&t);
	store_owner_free(s, a);
	store_owner_free(s, b);
	store_owner_free(s, g);
	store_owner_free(s, r);
	store_owner_free(s, me);
	store_free(s);
}

TEST_MAIN(RUN(test_create_seal_abort); RUN(test_sealed_is_immutable);
	  RUN(test_small_blobs); RUN(test_objects_and_members);
	  RUN(test_shallow_and_named_members); RUN(test_diamond_delete);
	  RUN(test_obj_put_checks);
	  RUN(test_obj_put_failing_seal_changes_nothing);
	  RUN(test_pins_keep_zombies); RUN(test_owner_free_drops_unsealed);
	  RUN(test_segments_come_back); RUN(test_limit);
	  RUN(test_names); RUN(test_list); RUN(test_watch);
	  RUN(test_get_errors); RUN(test_permissions))
