/*
 * hold: gets a blob and reports how it is mapped, then holds it.
 *
 *   hold ID|NAME [GOFILE]
 *
 * Prints len=, sum= (of the bytes), and the /proc/self/maps line of the
 * mapping: perms= (r--s: read-only and shared), inode=, dev=, file=, and
 * pfn= (physical frame of the first page; 0 when the kernel hides it), then
 * "ready". With GOFILE it waits for that file, checks the bytes again
 * (after=, intact=yes|no), releases the blob and prints "released".
 * Two holders of one blob that report the same inode and pfn share the
 * very same pages: the get was zero-copy.
 */
#include <fcntl.h>
#include <inttypes.h>

#include "helpers.h"

/* Finds the maps line covering addr; prints its fields. */
static void
print_mapping(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	char line[1024];
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		die("/proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, ino;
		char perms[8], dev[32], path[512] = "";
		unsigned long long off;

		if (sscanf(line, "%lx-%lx %7s %llx %31s %lu %511[^\n]", &lo, &hi,
			   perms, &off, dev, &ino, path) < 6)
			continue;
		if (a < lo || a >= hi)
			continue;
		printf("perms=%s\ninode=%lu\ndev=%s\nfile=%s\nmapoff=%llu\n",
		       perms, ino, dev, path[0] ? path : "-", off);
		fclose(f);
		return;
	}
	fclose(f);
	die("no mapping covers %p", addr);
}

/* The physical frame of the page at addr, or 0 when hidden. */
static uint64_t
pfn_of(const void *addr)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (off_t)((uintptr_t)addr / (uintptr_t)psz *
					     sizeof(e))) != sizeof(e))
		e = 0;
	close(fd);
	if (!(e >> 63 & 1))
		return 0; /* not present */
	return e & ((1ull << 55) - 1);
}

int
main(int argc, char **argv)
{
	struct vy_client *c;
	struct vy_object *o;
	const unsigned char *p;
	uint64_t len, sum, after;
	volatile unsigned char x;
	int rc;

	if (argc < 2 || argc > 3)
		die("usage: hold ID|NAME [GOFILE]");
	c = must_connect();
	rc = vy_get(c, must_resolve(c, argv[1]), &o);
	if (rc)
		die("get %s: %s", argv[1], vy_errmsg(c));
	if (!vy_object_is_blob(o))
		die("%s is not a blob", argv[1]);
	p = vy_object_data(o);
	len = vy_object_nbytes(o);
	sum = fnv(p, len);
	printf("len=%" PRIu64 "\nsum=%016" PRIx64 "\n", len, sum);
	if (len) {
		x = p[0]; /* fault the first page in for the pfn */
		(void)x;
		print_mapping(p);
		printf("pfn=%" PRIx64 "\n", pfn_of(p));
	}
	printf("ready\n");
	fflush(stdout);
	if (argc == 3) {
		if (wait_for_file(argv[2]))
			die("timed out waiting for %s", argv[2]);
		after = fnv(p, len);
		printf("after=%016" PRIx64 "\nintact=%s\n", after,
		       after == sum ? "yes" : "no");
		vy_object_release(c, o);
		printf("released\n");
		fflush(stdout);
		vy_close(c);
		return after == sum ? 0 : 1;
	}
	vy_object_release(c, o);
	vy_close(c);
	return 0;
}
