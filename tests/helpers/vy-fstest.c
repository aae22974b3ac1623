/*
 * vy-fstest: what the filesystem tests (tests/bats/3x-fs*.bats) cannot do
 * from the shell. Each subcommand prints one line and exits 0, or prints a
 * reason to stderr and exits 1 (2 for usage, 77 when the host cannot tell,
 * e.g. no PFNs without root).
 *
 *   pfn MNT ID          map blob ID through libvineyard and through
 *                       MNT/objects/ID/data; print "same N" when every
 *                       sampled page has the same physical frame, else
 *                       "different N" (N pages compared)
 *   cachestat FILE      read FILE through, then print the pages of its own
 *                       page cache (cachestat(2)); 0 for a passed-through
 *                       FUSE file
 *   sum FILE            FNV-1a 64 of FILE's bytes, via read(2)
 *   mmapsum FILE        the same, via mmap(2) (MAP_SHARED, PROT_READ)
 *   mkobj NAME          put a composite object "test::Pair" (fields; a
 *                       large and a small blob member; a nested object)
 *                       bound to NAME; print its id
 *   many N [PREFIX]     put N small blobs, named PREFIX0, PREFIX1, ...
 *                       when PREFIX is given; print how many
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vineyard.h"

static int
die(const char *what, int rc)
{
	fprintf(stderr, "vy-fstest: %s: %s\n", what, strerror(rc < 0 ? -rc :
							       rc));
	return 1;
}

static uint64_t
fnv(uint64_t h, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

#define FNV0 0xcbf29ce484222325ull

/* Reads that fault pages in must not be optimised away. */
static volatile unsigned char sink;

static int
cmd_sum(const char *path)
{
	static unsigned char buf[1 << 20];
	uint64_t h = FNV0, total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return die(path, errno);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		h = fnv(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (n < 0)
		return die(path, errno);
	close(fd);
	printf("%016" PRIx64 " %" PRIu64 "\n", h, total);
	return 0;
}

static int
cmd_mmapsum(const char *path)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		return die(path, errno);
	if (st.st_size == 0) {
		printf("%016" PRIx64 " 0\n", (uint64_t)FNV0);
		return 0;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return die("mmap", errno);
	printf("%016" PRIx64 " %" PRIu64 "\n", fnv(FNV0, p,
	       (size_t)st.st_size), (uint64_t)st.st_size);
	munmap(p, (size_t)st.st_size);
	close(fd);
	return 0;
}

/* Physical frame of the page at p, 0 when hidden (not root) or absent. */
static uint64_t
pfn_of(int pm, const void *p)
{
	uint64_t e;
	off_t off = (off_t)((uintptr_t)p / 4096) * 8;

	if (pread(pm, &e, 8, off) != 8)
		return 0;
	if (!(e & (1ull << 63)))
		return 0;
	return e & ((1ull << 55) - 1);
}

static int
cmd_pfn(const char *mnt, const char *idstr)
{
	struct vy_client *c;
	struct vy_object *o;
	const unsigned char *a, *b;
	char path[4096];
	size_t len, i, pages, same = 0, n = 0;
	vy_id id;
	int rc, fd, pm;

	if (vy_id_parse(idstr, &id))
		return die(idstr, EINVAL);
	if ((rc = vy_connect(NULL, &c)))
		return die("connect", rc);
	if ((rc = vy_get(c, id, &o)))
		return die(vy_errmsg(c), rc);
	a = vy_object_data(o);
	len = (size_t)vy_object_nbytes(o);
	snprintf(path, sizeof(path), "%s/objects/%s/data", mnt, idstr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return die(path, errno);
	b = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED)
		return die("mmap", errno);
	pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0)
		return die("/proc/self/pagemap", errno);
	pages = len / 4096;
	for (i = 0; i < pages; i += pages > 64 ? pages / 64 : 1) {
		uint64_t pa, pb;

		sink ^= a[i * 4096];
		sink ^= b[i * 4096];
		pa = pfn_of(pm, a + i * 4096);
		pb = pfn_of(pm, b + i * 4096);
		if (!pa || !pb) {
			fprintf(stderr, "vy-fstest: no page frame numbers "
				"(needs root)\n");
			return 77;
		}
		same += pa == pb;
		n++;
	}
	printf("%s %zu\n", same == n ? "same" : "different", n);
	munmap((void *)(uintptr_t)b, len);
	close(fd);
	close(pm);
	vy_object_release(c, o);
	vy_close(c);
	return 0;
}

struct cstat_range {
	uint64_t off, len;
};

struct cstat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted,
		 nr_recently_evicted;
};

static int
cmd_cachestat(const char *path)
{
	static unsigned char buf[1 << 20];
	struct cstat_range r = { 0, 0 };
	struct cstat cs;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return die(path, errno);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		return die(path, errno);
	memset(&cs, 0, sizeof(cs));
	if (syscall(451 /* cachestat */, fd, &r, &cs, 0) < 0) {
		fprintf(stderr, "vy-fstest: cachestat: %s\n", strerror(errno));
		return errno == ENOSYS ? 77 : 1;
	}
	printf("%" PRIu64 "\n", cs.nr_cache);
	close(fd);
	return 0;
}

static int
cmd_mkobj(const char *name)
{
	static const char *tags[] = { "a", "b" };
	struct vy_client *c;
	struct vy_writer *wl, *wr;
	struct vy_meta *m, *child;
	unsigned char *p;
	char idbuf[VY_ID_STRLEN];
	size_t i;
	vy_id id;
	int rc;

	if ((rc = vy_connect(NULL, &c)))
		return die("connect", rc);
	m = vy_meta_new("test::Pair");
	child = vy_meta_new("test::Leaf");
	if (!m || !child)
		return die("meta", ENOMEM);
	if ((rc = vy_blob_create(c, 65536 + 123, &wl)) ||
	    (rc = vy_blob_create(c, 100, &wr)))
		return die(vy_errmsg(c), rc);
	p = vy_writer_data(wl);
	for (i = 0; i < 65536 + 123; i++)
		p[i] = (unsigned char)(i * 7);
	p = vy_writer_data(wr);
	for (i = 0; i < 100; i++)
		p[i] = (unsigned char)('A' + i % 26);
	if ((rc = vy_meta_set_int(m, "rows", 3)) ||
	    (rc = vy_meta_set_string(m, "label", "pair \"one\"")) ||
	    (rc = vy_meta_set_string_array(m, "tags", tags, 2)) ||
	    (rc = vy_meta_set_double(m, "scale", 0.5)) ||
	    (rc = vy_meta_add_member_writer(m, "left", wl)) ||
	    (rc = vy_meta_add_member_writer(m, "right", wr)) ||
	    (rc = vy_meta_set_bool(child, "leaf", 1)) ||
	    (rc = vy_meta_add_member_meta(m, "child", child)))
		return die("building metadata", rc);
	if ((rc = vy_put_object(c, m, name, 0, &id)))
		return die(vy_errmsg(c), rc);
	vy_id_format(id, idbuf);
	printf("%s\n", idbuf);
	vy_meta_free(m);
	vy_close(c);
	return 0;
}

static int
cmd_many(const char *nstr, const char *prefix)
{
	struct vy_client *c;
	long n = atol(nstr), i;
	vy_id id;
	int rc;

	if (n <= 0)
		return die(nstr, EINVAL);
	if ((rc = vy_connect(NULL, &c)))
		return die("connect", rc);
	for (i = 0; i < n; i++) {
		char buf[32];
		int k = snprintf(buf, sizeof(buf), "blob %ld\n", i);

		if ((rc = vy_put_blob(c, buf, (size_t)k, &id)))
			return die(vy_errmsg(c), rc);
		if (prefix) {
			snprintf(buf, sizeof(buf), "%s%ld", prefix, i);
			if ((rc = vy_name_put(c, buf, id)))
				return die(vy_errmsg(c), rc);
		}
	}
	printf("%ld\n", n);
	vy_close(c);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "pfn") == 0)
		return cmd_pfn(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "cachestat") == 0)
		return cmd_cachestat(argv[2]);
	if (argc == 3 && strcmp(argv[1], "sum") == 0)
		return cmd_sum(argv[2]);
	if (argc == 3 && strcmp(argv[1], "mmapsum") == 0)
		return cmd_mmapsum(argv[2]);
	if (argc == 3 && strcmp(argv[1], "mkobj") == 0)
		return cmd_mkobj(argv[2]);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "many") == 0)
		return cmd_many(argv[2], argc == 4 ? argv[3] : NULL);
	fprintf(stderr, "usage: vy-fstest pfn MNT ID | cachestat FILE | "
		"sum FILE | mmapsum FILE | mkobj NAME | many N [PREFIX]\n");
	return 2;
}
