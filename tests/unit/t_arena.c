/*
 * t_arena: memfds with their pages reserved up front, seals that make them
 * immutable for every holder, read-only reopens, the footprint the store
 * accounts, and mappings aligned for huge pages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "test.h"
#include "banned.h"

static void
test_footprint(void)
{
	CHECK_EQ(arena_footprint(1), 4096);
	CHECK_EQ(arena_footprint(4096), 4096);
	CHECK_EQ(arena_footprint(4097), 8192);
	CHECK_EQ(arena_footprint(10000), 12288);
	CHECK_EQ(arena_footprint(0), 0);
}

/* arena_map_aligned: the address is congruent to the offset modulo 2 MiB
 * (the transfer receiver maps a pool-made copy so, for 2 MiB entries), the
 * file's bytes are there and writes reach the file. */
static void
test_map_aligned(void)
{
	const size_t len = 6u << 20, M2 = 2u << 20;
	const size_t offs[] = { 0, 4096, M2 + 8192 };
	int fd = -1, cancel = 0;
	size_t i, j, hg = 0;

	arena_force_mode(ARENA_HUGE_POOL);
	CHECK_EQ(arena_pool_new("pool", &fd), 0);
	CHECK_EQ(arena_pool_fill(fd, 0, len, &cancel, &hg), 0);
	CHECK_EQ(pwrite(fd, "x", 1, (off_t)(M2 + 8192 + 5)), 1);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t n = len - offs[i];
		char *p = arena_map_aligned(fd, offs[i], n, PROT_READ |
					    PROT_WRITE), c = 0;

		CHECK(p != MAP_FAILED);
		if (p == MAP_FAILED)
			continue;
		CHECK_EQ(((uintptr_t)p - offs[i]) % M2, 0);
		for (j = 0; j < n; j += 4096)
			c |= p[j] != 0 && offs[i] + j != M2 + 8192;
		CHECK_EQ(c, 0);
		CHECK_EQ(p[M2 + 8192 + 5 - offs[i]], 'x');
		p[n - 1] = 'y';
		CHECK_EQ(munmap(p, n), 0);
		CHECK_EQ(pread(fd, &c, 1, (off_t)(len - 1)), 1);
		CHECK_EQ(c, 'y');
		CHECK_EQ(pwrite(fd, "", 1, (off_t)(len - 1)), 1);
	}
	close(fd);
	arena_init(0);
}

static void
test_memfd_reserved(void)
{
	struct stat st;
	int fd = -1;

	CHECK_EQ(arena_memfd("t", 0, &fd), -EINVAL);
	CHECK_EQ(arena_memfd("t", 3 * 4096 + 1, &fd), 0);
	CHECK(fd >= 0);
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_size, 3 * 4096 + 1);
	/* the pages exist before anyone touches them */
	CHECK(st.st_blocks * 512 >= 4 * 4096);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* sealing is allowed on it; its size is sealed already: the writer
	 * holds this very file and must not resize it */
	CHECK_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
	CHECK(ftruncate(fd, 0) < 0 && errno == EPERM);
	CHECK(ftruncate(fd, 1 << 30) < 0 && errno == EPERM);
	CHECK(fallocate(fd, 0, 0, 8 * 4096) < 0 && errno == EPERM);
	CHECK(pwrite(fd, "x", 1, 3 * 4096 + 1) < 0 && errno == EPERM);
	CHECK_EQ(pwrite(fd, "x", 1, 3 * 4096), 1); /* its bytes: writable */
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_size, 3 * 4096 + 1);
	close(fd);
}

/* A writer that seals its own blob first: F_SEAL_SEAL alone leaves it
 * writable (refused), with F_SEAL_WRITE it is as immutable as ours. */
static void
test_seal_by_writer(void)
{
	int fd = -1;

	CHECK_EQ(arena_memfd("t", 4096, &fd), 0);
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
	CHECK_EQ(arena_seal(fd), -EPERM);
	close(fd);
	CHECK_EQ(arena_memfd("t", 4096, &fd), 0);
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL), 0);
	CHECK_EQ(arena_seal(fd), 0);
	close(fd);
}

static void
test_seal(void)
{
	int fd = -1, ro;
	char *p;

	CHECK_EQ(arena_memfd("t", 8192, &fd), 0);
	CHECK_EQ(pwrite(fd, "before", 6, 0), 6);
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	/* a writable shared mapping blocks the seal */
	CHECK_EQ(arena_seal(fd), -EBUSY);
	munmap(p, 8192);
	CHECK_EQ(arena_seal(fd), 0);
	CHECK_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW |
		 F_SEAL_WRITE | F_SEAL_SEAL);
	errno = 0;
	CHECK(pwrite(fd, "after", 5, 0) < 0 && errno == EPERM);
	CHECK(ftruncate(fd, 0) < 0 && errno == EPERM);
	CHECK(ftruncate(fd, 16384) < 0 && errno == EPERM);
	CHECK(fallocate(fd, 0, 0, 16384) < 0);
	CHECK(mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
	      MAP_FAILED);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) < 0 &&
	      errno == EPERM); /* seals are sealed */
	CHECK_EQ(arena_seal(fd), 0); /* already immutable: nothing to do */
	/* readers get a read-only file of the same memory */
	ro = arena_reopen_ro(fd);
	CHECK(ro >= 0);
	CHECK_EQ(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
	p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, ro, 0);
	CHECK(p != MAP_FAILED);
	if (p != MAP_FAILED) {
		CHECK(memcmp(p, "before", 6) == 0);
		/* and mprotect cannot make that mapping writable */
		CHECK(mprotect(p, 4096, PROT_READ | PROT_WRITE) < 0 &&
		      errno == EACCES);
		munmap(p, 8192);
	}
	CHECK(pwrite(ro, "x", 1, 0) < 0 && errno == EBADF);
	close(ro);
	close(fd);
	CHECK_EQ(arena_reopen_ro(-1), -ENOENT);
}

static void
test_huge_modes(void)
{
	arena_init(0);
	CHECK_EQ(arena_huge(), ARENA_HUGE_OFF);
	CHECK(strcmp(arena_huge_name(), "off") == 0);
	arena_init(1);
	/* whatever the kernel allows, the name matches the mode */
	switch (arena_huge()) {
	case ARENA_HUGE_OFF: CHECK(strcmp(arena_huge_name(), "off") == 0);
		break;
	case ARENA_HUGE_ADVISE:
		CHECK(strcmp(arena_huge_name(), "advise") == 0);
		break;
	case ARENA_HUGE_KERNEL:
		CHECK(strcmp(arena_huge_name(), "kernel") == 0);
		break;
	case ARENA_HUGE_POOL:	/* "off" once MADV_COLLAPSE is refused */
		CHECK(strcmp(arena_huge_name(), "pool") == 0 ||
		      strcmp(arena_huge_name(), "off") == 0);
		break;
	}
	/* a huge-page-sized blob is reserved in any mode */
	{
		int fd = -1;
		struct stat st;

		CHECK_EQ(arena_memfd("huge", 4u << 20, &fd), 0);
		CHECK_EQ(fstat(fd, &st), 0);
		CHECK(st.st_blocks * 512 >= (4 << 20));
		CHECK_EQ(arena_seal(fd), 0);
		close(fd);
	}
	arena_init(0);
}

/* The reserve pool with 4 KiB pages, as the policy allows, and made of
 * huge pages by MADV_COLLAPSE: filled in two steps, the second from a
 * start that is not on a huge-page boundary; every page allocated and
 * zero; then adopted as a smaller blob and sealed. */
static void
test_pool_fill(void)
{
	const size_t a = (3u << 20) + 8192, b = 9u << 20;
	int huge, cancel = 0;

	for (huge = 0; huge < 3; huge++) {
		static char buf[1u << 20];
		struct stat st;
		size_t off, i, nz = 0, hg = 0;
		int fd = -1;

		arena_init(huge == 1);
		if (huge == 2)
			arena_force_mode(ARENA_HUGE_POOL);
		CHECK_EQ(arena_pool_new("pool", &fd), 0);
		CHECK_EQ(arena_pool_fill(fd, 0, a, &cancel, &hg), 0);
		/* the first 2 MiB collapsed, or none (pages short, or 4 KiB
		 * pages only); the second fill starts past the prefix */
		CHECK(hg == 0 || hg == 2u << 20);
		if (arena_huge() != ARENA_HUGE_POOL)
			CHECK_EQ(hg, 0);
		off = hg;
		CHECK_EQ(arena_pool_fill(fd, a, b, &cancel, &hg), 0);
		CHECK_EQ(hg, off);
		CHECK_EQ(fstat(fd, &st), 0);
		CHECK_EQ((size_t)st.st_size, b);
		CHECK((size_t)st.st_blocks * 512 >= b);
		for (off = 0; off < b; off += sizeof(buf)) {
			CHECK_EQ(pread(fd, buf, sizeof(buf), (off_t)off),
				 (ssize_t)sizeof(buf));
			for (i = 0; i < sizeof(buf); i++)
				nz += buf[i] != 0;
		}
		CHECK_EQ(nz, 0);
		/* a stop cuts a fill short */
		cancel = 1;
		CHECK_EQ(arena_pool_fill(fd, b, b + (4u << 20), &cancel, &hg),
			 -ECANCELED);
		cancel = 0;
		CHECK_EQ(arena_adopt(fd, b, 5u << 20), 0);
		CHECK_EQ(fstat(fd, &st), 0);
		CHECK_EQ((size_t)st.st_size, (size_t)5u << 20);
		CHECK_EQ(arena_seal(fd), 0);
		close(fd);
	}
	arena_init(0);
}

/* The huge prefix a pool keeps once trimmed or extended to a length. */
static void
test_huge_prefix(void)
{
	const size_t M = 1u << 20;

	CHECK_EQ(arena_huge_prefix(0, 64 * M), 0);
	CHECK_EQ(arena_huge_prefix(8 * M, 64 * M), 8 * M);
	CHECK_EQ(arena_huge_prefix(8 * M, 8 * M), 8 * M);
	CHECK_EQ(arena_huge_prefix(8 * M, 5 * M), 4 * M);
	CHECK_EQ(arena_huge_prefix(8 * M, 4 * M + 4096), 4 * M);
	CHECK_EQ(arena_huge_prefix(8 * M, M), 0);
}

/* A pool filled from 0 in POOL mode: every whole 2 MiB step counts in the
 * prefix, as long as MADV_COLLAPSE works (it stops at the first miss). */
static void
test_pool_huge_prefix(void)
{
	const size_t len = 8u << 20;
	size_t hg = 0;
	int fd = -1, cancel = 0;

	arena_force_mode(ARENA_HUGE_POOL);
	CHECK_EQ(arena_pool_new("pool", &fd), 0);
	CHECK_EQ(arena_pool_fill(fd, 0, len, &cancel, &hg), 0);
	CHECK(hg % (2u << 20) == 0 && hg <= len);
	if (strcmp(arena_huge_name(), "pool") == 0 && hg < len)
		fprintf(stderr, "  (note: %zu of %zu bytes collapsed: huge "
			"pages short just now)\n", hg, len);
	close(fd);
	arena_init(0);
}

TEST_MAIN(arena_init(0); RUN(test_huge_prefix); RUN(test_pool_huge_prefix);
	  RUN(test_footprint); RUN(test_map_aligned);
	  RUN(test_memfd_reserved);
	  RUN(test_seal); RUN(test_seal_by_writer); RUN(test_huge_modes);
	  RUN(test_pool_fill))
