/*
 * t_persist: the data directory (persist*.c) and persistence through the
 * store: persist, restart (a new store on the same directory), read back
 * byte-identical; names; delete and unpersist remove files; leftovers of a
 * crash; damaged files at start-up and at first use; write errors; large
 * blob files written with O_DIRECT, and where O_DIRECT is refused; a group
 * log item the start-up scan refuses.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cborio.h"
#include "diskfmt.h"
#include "log.h"
#include "meta.h"
#include "object.h"
#include "persist.h"
#include "proto.h"
#include "store.h"
#include "test.h"

/* The mode of what the tests put (vineyardd's default). */
#define MODE0 STORE_MODE_DEFAULT

static char root[] = "/tmp/t_persist.XXXXXX";
static int ndirs;

/* A file system that refuses O_DIRECT, at open (1) or at write (2): this
 * test's openat and pwrite stand in front of libc's for the code linked
 * into it, and pass everything else straight to the kernel. */
static int refuse_direct, refused;

int
openat(int dfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (refuse_direct == 1 && (flags & O_DIRECT)) {
		refused++;
		errno = EINVAL;
		return -1;
	}
	return (int)syscall(SYS_openat, dfd, path, flags, mode);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (refuse_direct == 2 && (fcntl(fd, F_GETFL) & O_DIRECT)) {
		refused++;
		errno = EINVAL;
		return -1;
	}
	return syscall(SYS_pwrite64, fd, buf, len, off);
}

/* A fresh data directory path under root (not created). */
static const char *
newdir(void)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/d%d", root, ndirs++);
	return path;
}

static struct store *
open_store(const char *dir)
{
	struct store_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.limit = 256u << 20;
	cfg.data_dir = dir;
	return store_new(&cfg);
}

/* Files in DIR/sub whose names end with ext ("" = all but dot files). */
static int
nfiles(const char *dir, const char *sub, const char *ext)
{
	char path[256];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), e = strlen(ext);

		if (de->d_name[0] == '.')
			continue;
		if (l >= e && strcmp(de->d_name + l - e, ext) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
file_path(const char *dir, uint64_t id, const char *ext, char *out,
	  size_t len)
{
	char idbuf[META_ID_LEN];

	meta_id_format(id, idbuf);
	snprintf(out, len, "%s/objects/%s.%s", dir, idbuf, ext);
}

static int
exists(const char *dir, uint64_t id, const char *ext)
{
	char path[256];

	file_path(dir, id, ext, path, sizeof(path));
	return access(path, F_OK) == 0;
}

static void
fill(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;
	uint32_t x = seed * 2654435761u + 1;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		/* Half runs (compressible), half noise. */
		p[i] = (i / 512) % 2 ? (uint8_t)x : (uint8_t)(i / 4096);
	}
}

static uint64_t
put_big(struct store *s, struct store_owner *ow, const uint8_t *p,
	size_t len)
{
	uint64_t id = 0;
	int fd;

	CHECK_EQ(store_blob_create(s, ow, len, MODE0, &id, &fd, NULL), 0);
	CHECK_EQ(pwrite(fd, p, len, 0), (ssize_t)len);
	CHECK_EQ(store_blob_seal(s, ow, id), 0);
	return id;
}

static uint64_t
put_small(struct store *s, const void *p, size_t len)
{
	uint64_t id = 0;

	CHECK_EQ(store_blob_put_small(s, NULL, p, len, MODE0, &id), 0);
	return id;
}

/* A composite of typename with members name[i] -> ids[i]. */
static uint64_t
put_obj(struct store *s, struct store_owner *ow, const char *type,
	const char *const *mnames, const uint64_t *ids, size_t n,
	const char *name, int persist)
{
	uint64_t tk;
	struct cw w;
	uint64_t id = 0;
	size_t i;

	cw_init(&w);
	cw_map(&w, 3);
	cw_str(&w, "typename");
	cw_str(&w, type);
	cw_str(&w, "fields");
	cw_map(&w, 1);
	cw_str(&w, "n");
	cw_uint(&w, n);
	cw_str(&w, "members");
	cw_map(&w, n);
	for (i = 0; i < n; i++) {
		cw_str(&w, mnames[i]);
		cw_uint(&w, ids[i]);
	}
	CHECK_EQ(store_obj_put(s, ow, w.buf, w.len, NULL, 0, name,
			       name ? strlen(name) : 0, persist, MODE0, &id,
			       &tk), 0);
	if (persist)
		CHECK_EQ(store_wait(s, tk), 0);
	cw_release(&w);
	return id;
}

static int
persist(struct store *s, uint64_t id)
{
	uint64_t tk;
	int rc = store_persist(s, NULL, &id, 1, &tk);

	return rc ? rc : store_wait(s, tk);
}

/* 1 when blob id reads back as p[0..len). */
static int
blob_is(struct store *s, struct store_owner *ow, uint64_t id,
	const uint8_t *p, size_t len)
{
	struct store_blobref b;
	uint8_t *buf;
	int same;

	if (store_blob_open(s, ow, id, &b))
		return 0;
	if (b.len != len) {
		store_release(s, ow, &id, 1);
		return 0;
	}
	buf = malloc(len ? len : 1);
	if (b.kind == BLOB_KIND_MEMFD)
		CHECK_EQ(pread(b.fd, buf, len, 0), (ssize_t)len);
	else
		memcpy(buf, b.ptr, len);
	same = memcmp(buf, p, len) == 0;
	free(buf);
	store_release(s, ow, &id, 1);
	return same;
}

static uint32_t
flags_of(struct store *s, uint64_t id)
{
	struct store_info in;

	if (store_info(s, id, &in))
		return 0xffffffffu;
	return in.flags;
}

static void
test_open(void)
{
	const char *dir = newdir();
	struct persist *p, *q;
	char err[512], path[256];
	int fd;

	CHECK_EQ(persist_open(dir, &p, err, sizeof(err)), 0);
	CHECK_EQ(nfiles(dir, "objects", ""), 0);
	CHECK_EQ(nfiles(dir, "damaged", ""), 0);
	/* One daemon per directory. */
	CHECK_EQ(persist_open(dir, &q, err, sizeof(err)), -EBUSY);
	CHECK(strstr(err, "in use by another vineyardd") != NULL);
	CHECK(strstr(err, "--data-dir") != NULL);
	persist_close(p);
	CHECK_EQ(persist_open(dir, &p, err, sizeof(err)), 0);
	persist_close(p);
	/* A directory of another format is refused, not touched. */
	snprintf(path, sizeof(path), "%s/format", dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK_EQ(write(fd, "vineyard data directory\nformat 9\n", 33), 33);
	close(fd);
	CHECK_EQ(persist_open(dir, &p, err, sizeof(err)), -EPROTONOSUPPORT);
	CHECK(strstr(err, "format 9") != NULL);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK_EQ(write(fd, "hello\n", 6), 6);
	close(fd);
	CHECK_EQ(persist_open(dir, &p, err, sizeof(err)), -EINVAL);
	/* Not a directory. */
	CHECK(persist_open(path, &p, err, sizeof(err)) != 0);
	CHECK(strstr(err, "not a directory") != NULL);
	CHECK(persist_open("", &p, err, sizeof(err)) != 0);
}

/* Many objects persisted by one request (vy_persist_many): written as one
 * group (one syncfs, more than PERSIST_GROUP_SYNC files), all come back;
 * a member named beside its parent and a repeated id are fine; a group
 * with an unknown id persists nothing. */
static void
test_group(void)
{
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	struct store_status st;
	static uint8_t big[2 << 20];
	uint8_t small[40][64];
	uint64_t ids[48], bad[2], lone, obj, tk = 1;
	const char *mn[] = { "a", "b" };
	size_t n = 0, i;

	fill(big, sizeof(big), 7);
	for (i = 0; i < 40; i++) {
		fill(small[i], sizeof(small[i]), 100 + (unsigned)i);
		ids[n++] = put_small(s, small[i], sizeof(small[i]));
	}
	ids[n++] = put_big(s, ow, big, sizeof(big));
	obj = put_obj(s, ow, "t::Pair", mn, ids, 2, NULL, 0);
	ids[n++] = obj;
	ids[n++] = ids[0];	/* a member of obj, and repeated */
	CHECK_EQ(store_persist(s, NULL, ids, n, &tk), 0);
	CHECK(tk != 0);
	CHECK_EQ(store_wait(s, tk), 0);
	for (i = 0; i < n; i++)
		CHECK(flags_of(s, ids[i]) & OBJ_PERSISTED);
	CHECK_EQ(nfiles(dir, "objects", ".blob"), 41);
	CHECK_EQ(nfiles(dir, "objects", ".obj"), 1);

	/* All or none: the unknown id stops the group before any write. */
	lone = put_small(s, "lone", 4);
	bad[0] = lone;
	bad[1] = obj ^ 0x10;
	tk = 1;
	CHECK_EQ(store_persist(s, NULL, bad, 2, &tk), -ENOENT);
	CHECK_EQ(tk, 0);
	CHECK(strstr(store_errmsg(), "no object") != NULL);
	CHECK(!(flags_of(s, lone) & OBJ_PERSISTED));
	CHECK(!exists(dir, lone, "blob"));
	store_owner_free(s, ow);
	store_free(s);

	s = open_store(dir);
	ow = store_owner_new(s, "t");
	store_status(s, &st);
	CHECK_EQ(st.objects, 42);
	CHECK_EQ(st.persisted, 42);
	CHECK_EQ(st.damaged, 0);
	for (i = 0; i < 40; i++)
		CHECK(blob_is(s, ow, ids[i], small[i], sizeof(small[i])));
	CHECK(blob_is(s, ow, ids[40], big, sizeof(big)));
	CHECK(flags_of(s, obj) != 0xffffffffu);
	CHECK(flags_of(s, lone) == 0xffffffffu);
	store_owner_free(s, ow);
	store_free(s);
}

static void
test_roundtrip(void)
{
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	struct store_status st;
	static uint8_t big[3 << 20], mid[9000];
	uint8_t small[100];
	uint64_t b1, b2, b3, b0, obj, top;
	const char *mn[] = { "big", "small", "mid" };
	const char *tn[] = { "inner", "empty" };
	uint64_t ids[3];

	fill(big, sizeof(big), 1);
	fill(mid, sizeof(mid), 2);
	fill(small, sizeof(small), 3);
	b1 = put_big(s, ow, big, sizeof(big));
	b2 = put_small(s, small, sizeof(small));
	b3 = put_big(s, ow, mid, sizeof(mid));
	b0 = put_small(s, "", 0);
	ids[0] = b1;
	ids[1] = b2;
	ids[2] = b3;
	obj = put_obj(s, ow, "test::Inner", mn, ids, 3, NULL, 0);
	ids[0] = obj;
	ids[1] = b0;
	top = put_obj(s, ow, "test::Top", tn, ids, 2, "top", 1);
	CHECK(flags_of(s, top) & OBJ_PERSISTED);
	CHECK(flags_of(s, b1) & OBJ_PERSISTED);
	CHECK(flags_of(s, b0) & OBJ_PERSISTED);
	store_status(s, &st);
	CHECK_EQ(st.persisted, 6);
	CHECK(st.disk_raw > sizeof(big) && st.disk_bytes < st.disk_raw);
	CHECK_EQ(nfiles(dir, "objects", ".blob"), 4);
	CHECK_EQ(nfiles(dir, "objects", ".obj"), 2);
	/* Only the top-level object's name needs an anchor. */
	CHECK_EQ(nfiles(dir, "objects", ".anchor"), 1);
	/* An object that is not persisted does not come back. */
	put_small(s, "ephemeral", 9);
	store_owner_free(s, ow);
	store_free(s);

	s = open_store(dir);
	ow = store_owner_new(s, "t");
	store_status(s, &st);
	CHECK_EQ(st.objects, 6);
	CHECK_EQ(st.persisted, 6);
	CHECK_EQ(st.names, 1);
	CHECK_EQ(st.damaged, 0);
	{
		uint64_t id;

		CHECK_EQ(store_name_get(s, "top", 3, &id), 0);
		CHECK(id == top);
	}
	/* Big blobs come back on first use. */
	CHECK(flags_of(s, b1) & OBJ_LAZY);
	CHECK(!(flags_of(s, b2) & OBJ_LAZY));
	CHECK(blob_is(s, ow, b1, big, sizeof(big)));
	CHECK(!(flags_of(s, b1) & OBJ_LAZY));
	CHECK(blob_is(s, ow, b2, small, sizeof(small)));
	CHECK(blob_is(s, ow, b3, mid, sizeof(mid)));
	CHECK(blob_is(s, ow, b0, (const uint8_t *)"", 0));
	{
		struct store_info in;

		CHECK_EQ(store_info(s, top, &in), 0);
		CHECK_EQ(in.nmembers, 2);
		CHECK(in.nbytes == sizeof(big) + sizeof(small) + sizeof(mid));
		CHECK(strcmp(in.typename, "test::Top") == 0);
	}
	/* Members are held: deleting one is refused as before. */
	{
		size_t count;

		CHECK_EQ(store_delete(s, NULL, &obj, 1, 0, &count, NULL),
				      -EBUSY);
	}
	store_owner_free(s, ow);
	store_free(s);
}

static void
test_delete_unpersist(void)
{
	uint64_t tk;
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	static uint8_t big[200000];
	const char *mn[] = { "a", "b" };
	uint64_t ids[2], obj, b1, b2;
	size_t count;

	fill(big, sizeof(big), 4);
	b1 = put_big(s, ow, big, sizeof(big));
	b2 = put_small(s, "xyz", 3);
	CHECK_EQ(store_name_put(s, NULL, "b2", 2, b2, NULL), 0);
	ids[0] = b1;
	ids[1] = b2;
	obj = put_obj(s, ow, "t::Pair", mn, ids, 2, NULL, 1);
	/* The pair's own file says it is top-level: no anchor. */
	CHECK_EQ(nfiles(dir, "objects", ".anchor"), 1); /* b2's name */
	/* b2 is also persisted by request. */
	CHECK_EQ(persist(s, b2), 0);
	CHECK_EQ(nfiles(dir, "objects", ".anchor"), 1);
	/* A member of a persisted object cannot be unpersisted alone. */
	CHECK_EQ(store_unpersist(s, NULL, b1, NULL), -EBUSY);
	CHECK(strstr(store_errmsg(), "member of 1 persisted object") != NULL);
	/* Unpersisting the pair takes b1 with it, not b2 (by request). */
	CHECK_EQ(store_unpersist(s, NULL, obj, &tk), 0);
	CHECK_EQ(store_wait(s, tk), 0);
	CHECK(!(flags_of(s, obj) & OBJ_PERSISTED));
	CHECK(!(flags_of(s, b1) & OBJ_PERSISTED));
	CHECK(flags_of(s, b2) & OBJ_PERSISTED);
	CHECK(!exists(dir, obj, "obj") && !exists(dir, b1, "blob"));
	CHECK(exists(dir, b2, "blob") && exists(dir, b2, "anchor"));
	/* Unpersisting what is not persisted is fine. */
	CHECK_EQ(store_unpersist(s, NULL, obj, &tk), 0);
	CHECK_EQ(tk, 0);
	/* Persist again, then delete: all files go. */
	CHECK_EQ(persist(s, obj), 0);
	CHECK(exists(dir, obj, "obj") && exists(dir, b1, "blob"));
	CHECK_EQ(store_delete(s, NULL, &obj, 1, 0, &count, &tk), 0);
	CHECK_EQ(store_wait(s, tk), 0);
	CHECK_EQ(count, 2); /* obj and b1; b2 has a name */
	CHECK(!exists(dir, obj, "obj") && !exists(dir, b1, "blob"));
	CHECK(exists(dir, b2, "blob"));
	{
		struct store_status st;

		store_status(s, &st);
		CHECK_EQ(st.persisted, 1);
	}
	store_owner_free(s, ow);
	store_free(s);
	s = open_store(dir);
	{
		struct store_status st;

		store_status(s, &st);
		CHECK_EQ(st.objects, 1);
	}
	store_free(s);
}

static void
test_shallow_delete_keeps_members(void)
{
	uint64_t tk;
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	const char *mn[] = { "a" };
	uint64_t b, obj;
	size_t count;

	b = put_small(s, "member", 6);
	obj = put_obj(s, ow, "t::One", mn, &b, 1, NULL, 1);
	CHECK(!exists(dir, b, "anchor"));
	/* The member outlives its parent: it needs its own anchor now. */
	CHECK_EQ(store_delete(s, NULL, &obj, 1, DELETE_F_SHALLOW, &count, &tk),
			      0);
	CHECK_EQ(store_wait(s, tk), 0);
	CHECK(exists(dir, b, "anchor"));
	CHECK(!exists(dir, obj, "obj"));
	store_owner_free(s, ow);
	store_free(s);
	s = open_store(dir);
	CHECK(flags_of(s, b) & OBJ_PERSISTED);
	store_free(s);
}

/* Persisting by request what is persisted already as a member: its file
 * has no ROOT flag, so an anchor says so, and unpersisting the parent
 * leaves it persisted, across a restart too. */
static void
test_member_made_explicit(void)
{
	uint64_t tk;
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	const char *mn[] = { "m" };
	uint64_t m, obj;

	m = put_small(s, "member", 6);
	obj = put_obj(s, ow, "t::One", mn, &m, 1, NULL, 1);
	CHECK(!exists(dir, m, "anchor") && !exists(dir, obj, "anchor"));
	CHECK_EQ(persist(s, m), 0);
	CHECK(exists(dir, m, "anchor"));
	store_owner_free(s, ow);
	store_free(s);
	s = open_store(dir);
	CHECK_EQ(store_unpersist(s, NULL, obj, &tk), 0);
	CHECK_EQ(store_wait(s, tk), 0);
	CHECK(flags_of(s, m) & OBJ_PERSISTED);
	CHECK(!exists(dir, obj, "obj"));
	store_free(s);
	s = open_store(dir);
	CHECK(flags_of(s, m) & OBJ_PERSISTED);
	CHECK_EQ(flags_of(s, obj), 0xffffffffu); /* not persisted: gone */
	store_free(s);
}

static void
test_names(void)
{
	uint64_t tk;
	const char *dir = newdir();
	struct store *s = open_store(dir);
	uint64_t a, b, c, id;

	a = put_small(s, "a", 1);
	b = put_small(s, "b", 1);
	c = put_small(s, "c", 1);
	CHECK_EQ(persist(s, a), 0);
	CHECK_EQ(persist(s, b), 0);
	CHECK_EQ(store_name_put(s, NULL, "x", 1, a, &tk), 0);
	CHECK_EQ(store_wait(s, tk), 0);
	CHECK_EQ(store_name_put(s, NULL, "y", 1, a, &tk), 0);
	CHECK_EQ(store_wait(s, tk), 0);
	CHECK_EQ(store_name_put(s, NULL, "z", 1, c, &tk),
				0); /* c: not persisted */
	CHECK_EQ(tk, 0);
	/* Re-pointed from one persisted object to another. */
	CHECK_EQ(store_name_put(s, NULL, "x", 1, b, &tk), 0);
	CHECK_EQ(store_wait(s, tk), 0);
	CHECK_EQ(store_name_drop(s, NULL, "y", 1, &tk), 0);
	CHECK_EQ(store_wait(s, tk), 0);
	store_free(s);

	s = open_store(dir);
	CHECK_EQ(store_name_get(s, "x", 1, &id), 0);
	CHECK(id == b);
	CHECK_EQ(store_name_get(s, "y", 1, &id), -ENOENT);
	CHECK_EQ(store_name_get(s, "z", 1, &id), -ENOENT);
	/* A name moved onto an object that is not persisted leaves disk. */
	c = put_small(s, "c", 1);
	CHECK_EQ(store_name_put(s, NULL, "x", 1, c, &tk), 0);
	CHECK_EQ(store_wait(s, tk), 0);
	store_free(s);
	s = open_store(dir);
	CHECK_EQ(store_name_get(s, "x", 1, &id), -ENOENT);
	store_free(s);
}

/* Anchors carry names: two anchors claiming one name (a crash between
 * rewriting both) resolve to the later write. */
static void
test_name_conflict(void)
{
	uint64_t tk;
	const char *dir = newdir();
	struct store *s = open_store(dir);
	char pa[256], pb[256], save[256];
	uint64_t a, b, id;

	a = put_small(s, "a", 1);
	b = put_small(s, "b", 1);
	CHECK_EQ(persist(s, a), 0);
	CHECK_EQ(persist(s, b), 0);
	CHECK_EQ(store_name_put(s, NULL, "n", 1, a, &tk), 0);
	CHECK_EQ(store_wait(s, tk), 0);
	file_path(dir, a, "anchor", pa, sizeof(pa));
	snprintf(save, sizeof(save), "%s/saved", root);
	CHECK_EQ(link(pa, save), 0);
	CHECK_EQ(store_name_put(s, NULL, "n", 1, b, &tk), 0);
	CHECK_EQ(store_wait(s, tk), 0);
	store_free(s);
	/* Put back a's old anchor, which still claims n. */
	CHECK_EQ(rename(save, pa), 0);
	file_path(dir, b, "anchor", pb, sizeof(pb));
	s = open_store(dir);
	CHECK_EQ(store_name_get(s, "n", 1, &id), 0);
	CHECK(id == b);
	store_free(s);
}

static void
test_crash_leftovers(void)
{
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	const char *mn[] = { "m" };
	char path[256];
	uint64_t b, obj, keep;
	struct store_status st;
	int fd;

	b = put_small(s, "orphan", 6);
	obj = put_obj(s, ow, "t::T", mn, &b, 1, NULL, 1);
	keep = put_small(s, "keep", 4);
	CHECK_EQ(persist(s, keep), 0);
	store_owner_free(s, ow);
	store_free(s);
	/* As if the daemon died after writing obj's members but before
	 * obj's own file, and in the middle of writing another file. */
	file_path(dir, obj, "obj", path, sizeof(path));
	CHECK_EQ(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/objects/.tmp-7-o0000000000000001.obj",
		 dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK_EQ(write(fd, "partial", 7), 7);
	close(fd);
	s = open_store(dir);
	store_status(s, &st);
	CHECK_EQ(st.objects, 1);
	CHECK_EQ(st.damaged, 0);
	CHECK(flags_of(s, keep) & OBJ_PERSISTED);
	CHECK(!exists(dir, obj, "obj") && !exists(dir, b, "blob"));
	CHECK_EQ(access(path, F_OK), -1);
	store_free(s);
}

/* Flips one byte of a file. */
static void
flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t c;

	CHECK_EQ(pread(fd, &c, 1, off), 1);
	c ^= 0x20;
	CHECK_EQ(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void
test_damage_at_start(void)
{
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	static uint8_t big[100000];
	const char *mn[] = { "m" };
	char path[256];
	uint64_t good, bad1, bad2, bad3, mem, parent;
	struct store_status st;

	fill(big, sizeof(big), 5);
	good = put_big(s, ow, big, sizeof(big));
	bad1 = put_small(s, "flip me, please", 15);
	bad2 = put_big(s, ow, big, sizeof(big));
	bad3 = put_small(s, "newer", 5);
	mem = put_small(s, "member", 6);
	parent = put_obj(s, ow, "t::P", mn, &mem, 1, "parent", 1);
	CHECK_EQ(persist(s, good), 0);
	CHECK_EQ(persist(s, bad1), 0);
	CHECK_EQ(persist(s, bad2), 0);
	CHECK_EQ(persist(s, bad3), 0);
	store_owner_free(s, ow);
	store_free(s);
	/* Bit flip in a small blob's body, a truncated big blob, a header
	 * of another version, a composite's member gone bad. */
	file_path(dir, bad1, "blob", path, sizeof(path));
	flip(path, DISKFMT_HDR_LEN + 12);
	file_path(dir, bad2, "blob", path, sizeof(path));
	CHECK_EQ(truncate(path, 5000), 0);
	file_path(dir, bad3, "blob", path, sizeof(path));
	{
		struct diskfmt_hdr h;
		uint8_t hdr[DISKFMT_HDR_LEN];
		const char *why;
		int fd = open(path, O_RDWR);
		struct stat sb;

		fstat(fd, &sb);
		CHECK_EQ(pread(fd, hdr, sizeof(hdr), 0), sizeof(hdr));
		CHECK_EQ(diskfmt_hdr_parse(hdr, sizeof(hdr), (uint64_t)sb.st_size,
					   &h, &why), 0);
		h.version = DISKFMT_VERSION + 1;
		diskfmt_hdr_pack(&h, hdr);
		CHECK_EQ(pwrite(fd, hdr, sizeof(hdr), 0), sizeof(hdr));
		close(fd);
	}
	file_path(dir, mem, "blob", path, sizeof(path));
	flip(path, 3);
	s = open_store(dir);
	store_status(s, &st);
	/* good is back, alone. */
	CHECK_EQ(st.objects, 1);
	CHECK(flags_of(s, good) & OBJ_PERSISTED);
	CHECK_EQ(flags_of(s, parent), 0xffffffffu);
	{
		uint64_t id;

		CHECK_EQ(store_name_get(s, "parent", 6, &id), -ENOENT);
	}
	/* 4 blob files, the parent's object and anchor (name) files. */
	CHECK_EQ(st.damaged, 6);
	CHECK_EQ(nfiles(dir, "damaged", ""), 6);
	ow = store_owner_new(s, "t");
	CHECK(blob_is(s, ow, good, big, sizeof(big)));
	store_owner_free(s, ow);
	store_free(s);
	/* Damaged files are out of the way: the next start is clean. */
	s = open_store(dir);
	store_status(s, &st);
	CHECK_EQ(st.damaged, 0);
	CHECK_EQ(st.objects, 1);
	store_free(s);
}

static void
test_damage_at_first_use(void)
{
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	static uint8_t big[300000];
	const char *mn[] = { "m", "n" };
	char path[256];
	uint64_t bad, other, ids[2], parent, grand;
	struct store_status st;
	struct store_blobref b;

	fill(big, sizeof(big), 6);
	bad = put_big(s, ow, big, sizeof(big));
	other = put_small(s, "other", 5);
	ids[0] = bad;
	ids[1] = other;
	parent = put_obj(s, ow, "t::P", mn, ids, 2, NULL, 0);
	grand = put_obj(s, ow, "t::G", mn, &parent, 1, "grand", 1);
	store_owner_free(s, ow);
	store_free(s);
	/* Well inside the LZ4 data: only decoding finds it. */
	file_path(dir, bad, "blob", path, sizeof(path));
	flip(path, 20000);
	s = open_store(dir);
	ow = store_owner_new(s, "t");
	store_status(s, &st);
	CHECK_EQ(st.objects, 4);
	CHECK_EQ(st.damaged, 0);
	CHECK(flags_of(s, bad) & OBJ_LAZY);
	CHECK_EQ(store_blob_open(s, ow, bad, &b), -EBADMSG);
	CHECK(strstr(store_errmsg(), "damaged") != NULL);
	/* It and everything that references it are gone; other stays.
	 * Moved aside: bad's file, parent's, grand's and grand's anchor. */
	store_status(s, &st);
	CHECK_EQ(st.damaged, 4);
	CHECK_EQ(st.objects, 1);
	CHECK_EQ(flags_of(s, grand), 0xffffffffu);
	CHECK(flags_of(s, other) & OBJ_PERSISTED);
	store_owner_free(s, ow);
	store_free(s);
	/* Their files were moved aside, other got its own anchor. */
	CHECK(!exists(dir, bad, "blob") && !exists(dir, grand, "obj"));
	CHECK(exists(dir, other, "anchor"));
	CHECK_EQ(nfiles(dir, "damaged", ""), 4);
	s = open_store(dir);
	store_status(s, &st);
	CHECK_EQ(st.objects, 1);
	store_free(s);
}

static void
test_write_error(void)
{
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	static uint8_t big[1 << 20];
	struct rlimit rl, small;
	uint64_t b;
	int rc;

	/* Random bytes do not compress: the file must exceed the limit. */
	fill(big, sizeof(big), 7);
	{
		size_t i;
		uint32_t x = 99;

		for (i = 0; i < sizeof(big); i++) {
			x = x * 1103515245u + 12345u;
			big[i] = (uint8_t)(x >> 23);
		}
	}
	b = put_big(s, ow, big, sizeof(big));
	/* Writes past RLIMIT_FSIZE fail with EFBIG: a write error in the
	 * middle of a file, as a full disk gives. */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &rl);
	small = rl;
	small.rlim_cur = 64 << 10; /* the soft limit only: raising it back
				    * needs no privilege */
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = persist(s, b);
	CHECK_EQ(rc, -EFBIG);
	CHECK(strstr(store_errmsg(), "nothing of it was left") != NULL);
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	CHECK(!(flags_of(s, b) & OBJ_PERSISTED));
	CHECK_EQ(nfiles(dir, "objects", ""), 0);
	{
		char path[256];
		DIR *d;
		struct dirent *de;
		int tmp = 0;

		snprintf(path, sizeof(path), "%s/objects", dir);
		d = opendir(path);
		while ((de = readdir(d)))
			tmp += de->d_name[0] == '.' && de->d_name[1] &&
			       de->d_name[1] != '.';
		closedir(d);
		CHECK_EQ(tmp, 0);
	}
	/* Still served, and the next persist works. */
	CHECK(blob_is(s, ow, b, big, sizeof(big)));
	CHECK_EQ(persist(s, b), 0);
	CHECK(flags_of(s, b) & OBJ_PERSISTED);
	store_owner_free(s, ow);
	store_free(s);
	s = open_store(dir);
	ow = store_owner_new(s, "t");
	CHECK(blob_is(s, ow, b, big, sizeof(big)));
	store_owner_free(s, ow);
	store_free(s);
}

/* Deletes racing the writer thread: whatever the interleaving, no file
 * of a deleted object stays, and the survivors are whole. */
static void
test_delete_races_persist(void)
{
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	static uint8_t big[1 << 20];
	const char *mn[] = { "a" };
	int i;

	fill(big, sizeof(big), 8);
	for (i = 0; i < 20; i++) {
		uint64_t b = put_big(s, ow, big, sizeof(big)), obj, t1, t2;
		size_t count;

		obj = put_obj(s, ow, "t::R", mn, &b, 1, NULL, 0);
		CHECK_EQ(store_persist(s, NULL, &obj, 1, &t1), 0);
		if (i % 4)
			usleep((useconds_t)(i * 300));
		CHECK_EQ(store_delete(s, NULL, &obj, 1,
				      i % 2 ? DELETE_F_SHALLOW : 0,
				      &count, &t2), 0);
		store_wait(s, t1); /* may fail: deleted before its turn */
		CHECK_EQ(store_wait(s, t2), 0);
		CHECK(!exists(dir, obj, "obj"));
		if (i % 2) {
			/* The member stays; persisted or not, consistently. */
			int persisted = (flags_of(s, b) & OBJ_PERSISTED) != 0;

			CHECK_EQ(exists(dir, b, "blob"), persisted);
			CHECK_EQ(exists(dir, b, "anchor"), persisted);
			CHECK_EQ(store_delete(s, NULL, &b, 1, 0, &count, &t1),
					      0);
			CHECK_EQ(store_wait(s, t1), 0);
		}
		CHECK(!exists(dir, b, "blob"));
	}
	CHECK_EQ(nfiles(dir, "objects", ""), 0);
	store_owner_free(s, ow);
	store_free(s);
}

static void
test_no_data_dir(void)
{
	struct store_cfg cfg;
	struct store *s;
	uint64_t b;

	memset(&cfg, 0, sizeof(cfg));
	s = store_new(&cfg);
	b = put_small(s, "x", 1);
	CHECK_EQ(store_persist(s, NULL, &b, 1, NULL), -ENOTSUP);
	CHECK(strstr(store_errmsg(), "no data directory") != NULL);
	CHECK_EQ(store_done_fd(s), -1);
	store_free(s);
}

/* Large blob files go to disk with O_DIRECT through a staging buffer:
 * bodies that fill it several times, end in a partial block, or are
 * smaller than one block all read back, and the files hold no padding. */
static void
test_direct_sizes(void)
{
	const char *dir = newdir();
	struct store *s = open_store(dir);
	struct store_owner *ow = store_owner_new(s, "t");
	const size_t len[] = { (9u << 20) + 123, (1u << 20), (5u << 20) + 1,
			       (4u << 20) - 48 };
	enum { N = sizeof(len) / sizeof(len[0]) };
	uint8_t *p[N];
	uint64_t id[N];
	size_t i, j;

	for (i = 0; i < N; i++) {
		p[i] = malloc(len[i]);
		if (i == 1) {
			memset(p[i], 7, len[i]); /* compresses to a few KiB */
		} else if (i == 2) {
			uint32_t x = 99;

			for (j = 0; j < len[i]; j++) { /* noise: stored raw */
				x = x * 1103515245u + 12345u;
				p[i][j] = (uint8_t)(x >> 23);
			}
		} else {
			fill(p[i], len[i], (unsigned)i + 10);
		}
		id[i] = put_big(s, ow, p[i], len[i]);
		CHECK_EQ(persist(s, id[i]), 0);
	}
	for (i = 0; i < N; i++) {
		char path[256];
		struct stat sb;

		file_path(dir, id[i], "blob", path, sizeof(path));
		CHECK_EQ(stat(path, &sb), 0);
		if (i == 1)
			CHECK(sb.st_size < 65536);
		if (i == 2)
			CHECK((uint64_t)sb.st_size <= len[i] + len[i] / 100);
	}
	store_owner_free(s, ow);
	store_free(s);

	s = open_store(dir);
	ow = store_owner_new(s, "t");
	for (i = 0; i < N; i++) {
		CHECK(blob_is(s, ow, id[i], p[i], len[i]));
		free(p[i]);
	}
	CHECK_EQ(nfiles(dir, "damaged", ""), 0);
	store_owner_free(s, ow);
	store_free(s);
}

/* Where O_DIRECT is refused, large blob files go through the page cache
 * and read back the same. */
static void
test_direct_refused(void)
{
	static uint8_t big[(6u << 20) + 5];
	int how;

	fill(big, sizeof(big), 21);
	for (how = 1; how <= 2; how++) {
		const char *dir = newdir();
		struct store *s = open_store(dir);
		struct store_owner *ow = store_owner_new(s, "t");
		uint64_t id = put_big(s, ow, big, sizeof(big));

		refused = 0;
		refuse_direct = how;
		CHECK_EQ(persist(s, id), 0);
		refuse_direct = 0;
		CHECK(refused > 0); /* the refusal was met, and got round */
		store_owner_free(s, ow);
		store_free(s);
		s = open_store(dir);
		ow = store_owner_new(s, "t");
		CHECK(blob_is(s, ow, id, big, sizeof(big)));
		CHECK_EQ(nfiles(dir, "damaged", ""), 0);
		store_owner_free(s, ow);
		store_free(s);
	}
}

/* A group log's items reach the scan's callback as files would; one the
 * callback refuses is written out with the others (the log goes) and set
 * aside in damaged/ like a file. */
struct seen {
	uint64_t ids[8];
	size_t n;
	uint64_t refuse;
};

static const char *
log_cb(void *ctx, const struct persist_entry *e)
{
	struct seen *sn = ctx;

	if (sn->n < 8)
		sn->ids[sn->n++] = e->hdr.id;
	CHECK(e->body != NULL);
	return e->hdr.id == sn->refuse ? "refused by the test" : NULL;
}

static void
test_log_refused_item(void)
{
	const char *dir = newdir();
	struct diskfmt_owner own = { 0, 0, 0640 };
	struct persist_item v[3];
	struct persist_scan_stats st;
	struct persist *p;
	struct seen sn = { { 0 }, 0, 0 };
	uint8_t *img[3];
	char err[200], path[300];
	uint64_t seq;
	size_t i;

	CHECK_EQ(persist_open(dir, &p, err, sizeof(err)), 0);
	for (i = 0; i < 3; i++) {
		v[i].kind = DISKFMT_BLOB;
		v[i].id = (1ull << 63) | (0x100 + i);
		CHECK_EQ(persist_blob_image(v[i].id, 0, &own, "abc", 3, 1,
					    &img[i], &v[i].len), 0);
		v[i].buf = img[i];
	}
	CHECK_EQ(persist_log_commit(p, v, 3, &seq), 0);
	CHECK_EQ(persist_log_pending(p), 1);
	for (i = 0; i < 3; i++)
		free(img[i]);
	persist_close(p);

	CHECK_EQ(persist_open(dir, &p, err, sizeof(err)), 0);
	sn.refuse = v[1].id;
	CHECK_EQ(persist_scan(p, log_cb, &sn, &st), 0);
	CHECK_EQ(sn.n, 3);
	CHECK_EQ(st.logs, 1);
	CHECK_EQ(st.logfiles, 2);
	CHECK_EQ(st.damaged, 1);
	CHECK_EQ(persist_log_pending(p), 0);
	snprintf(path, sizeof(path), "%s/objects/group-%016llx.log", dir,
		 (unsigned long long)seq);
	CHECK_EQ(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/objects/o%016llx.blob", dir,
		 (unsigned long long)v[0].id);
	CHECK_EQ(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/damaged/o%016llx.blob", dir,
		 (unsigned long long)v[1].id);
	CHECK_EQ(access(path, F_OK), 0);
	persist_close(p);
}

static void
cleanup(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd)) {
		/* best effort */
	}
}

int
main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	log_init("t_persist", LOG_LVL_ERROR, NULL);
	RUN(test_open);
	RUN(test_roundtrip);
	RUN(test_group);
	RUN(test_direct_sizes);
	RUN(test_direct_refused);
	RUN(test_delete_unpersist);
	RUN(test_shallow_delete_keeps_members);
	RUN(test_member_made_explicit);
	RUN(test_names);
	RUN(test_name_conflict);
	RUN(test_crash_leftovers);
	RUN(test_damage_at_start);
	RUN(test_damage_at_first_use);
	RUN(test_write_error);
	RUN(test_delete_races_persist);
	RUN(test_no_data_dir);
	RUN(test_log_refused_item);
	cleanup();
	return test_failed ? 1 : 0;
}
