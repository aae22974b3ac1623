/*
 * arena: memfds with reserved pages. Reservation uses fallocate, or, in the
 * "advise" huge-page mode, a transient daemon mapping with MADV_HUGEPAGE and
 * MADV_POPULATE_WRITE (fallocate alone ignores madvise policy). In the
 * "pool" mode (the policy is never) the reserve pool alone is built of huge
 * pages with MADV_COLLAPSE, which the kernel honours whatever that policy.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "hugemap.h"
#include "log.h"
#include "banned.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define HUGE_MIN (2u << 20)

static enum arena_huge arena_mode = ARENA_HUGE_OFF;
/* Set when MADV_COLLAPSE is refused for good (kernel before 6.1, huge
 * pages denied): the pool is built of small pages. Atomic: status reads it. */
static int no_collapse;

#define SHMEM_THP "/sys/kernel/mm/transparent_hugepage/shmem_enabled"

/* The bracketed (active) word of the shmem THP policy, or "". */
static void
shmem_policy(char *out, size_t len)
{
	char buf[160] = "", *a, *b;
	FILE *f = fopen(SHMEM_THP, "re");

	out[0] = 0;
	if (!f)
		return;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	a = strchr(buf, '[');
	b = a ? strchr(a, ']') : NULL;
	if (a && b)
		snprintf(out, len, "%.*s", (int)(b - a - 1), a + 1);
}

static int
shmem_policy_set(const char *v)
{
	FILE *f = fopen(SHMEM_THP, "we");
	int rc = 0;

	if (!f)
		return -errno;
	if (fputs(v, f) < 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

int
arena_enable_huge(char *old, size_t oldlen)
{
	int rc;

	shmem_policy(old, oldlen);
	/* "deny" is an administrator's emergency switch: leave it alone. */
	if (strcmp(old, "never") != 0)
		return 0;
	rc = shmem_policy_set("within_size");
	return rc ? rc : 1;
}

void
arena_restore_huge(const char *old)
{
	if (old && *old)
		shmem_policy_set(old);
}

void
arena_init(int want_huge)
{
	char buf[64];

	arena_mode = ARENA_HUGE_OFF;
	__atomic_store_n(&no_collapse, 0, __ATOMIC_RELAXED);
	if (!want_huge)
		return;
	shmem_policy(buf, sizeof(buf));
	if (strcmp(buf, "advise") == 0)
		arena_mode = ARENA_HUGE_ADVISE;
	else if (strcmp(buf, "never") == 0)
		arena_mode = ARENA_HUGE_POOL; /* "deny" (or none): off */
	else if (strcmp(buf, "always") == 0 || strcmp(buf, "within_size") == 0
		 || strcmp(buf, "force") == 0)
		arena_mode = ARENA_HUGE_KERNEL;
}

void
arena_force_mode(enum arena_huge mode)
{
	arena_mode = mode;
	__atomic_store_n(&no_collapse, 0, __ATOMIC_RELAXED);
}

enum arena_huge
arena_huge(void)
{
	return arena_mode;
}

const char *
arena_huge_name(void)
{
	switch (arena_mode) {
	case ARENA_HUGE_ADVISE: return "advise";
	case ARENA_HUGE_KERNEL: return "kernel";
	case ARENA_HUGE_POOL:
		return __atomic_load_n(&no_collapse, __ATOMIC_RELAXED) ?
		       "off" : "pool";
	default: return "off";
	}
}

size_t
arena_huge_prefix(size_t huge, size_t len)
{
	size_t whole = len & ~(size_t)(HUGE_MIN - 1);

	/* A trim inside a huge page splits it into small ones. */
	return huge < whole ? huge : whole;
}

size_t
arena_footprint(size_t len)
{
	return (len + 4095) & ~(size_t)4095;
}

/* Populates through a short-lived mapping so the pages come huge. */
static int
arena_populate_huge(int fd, size_t len)
{
	void *p;
	int rc = 0;

	if (ftruncate(fd, (off_t)len) < 0)
		return -errno;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (madvise(p, len, MADV_HUGEPAGE) < 0)
		log_debug("arena: madvise hugepage: %s", strerror(errno));
	if (madvise(p, len, MADV_POPULATE_WRITE) < 0)
		rc = errno == EINVAL ? 1 : -ENOSPC; /* 1: kernel lacks it */
	munmap(p, len);
	return rc;
}

int
arena_memfd(const char *name, size_t len, int *fd)
{
	int rc, f;

	if (len == 0)
		return -EINVAL;
	f = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (f < 0)
		return errno == EMFILE || errno == ENFILE ? -EMFILE : -errno;
	rc = 1;
	if (arena_mode == ARENA_HUGE_ADVISE && len >= HUGE_MIN)
		rc = arena_populate_huge(f, len);
	if (rc > 0) {
		rc = posix_fallocate(f, 0, (off_t)len);
		if (rc == ENOSPC || rc == ENOMEM)
			rc = -ENOSPC;
		else if (rc)
			rc = -rc;
	}
	/* The size is fixed from now on, for every holder: the writer gets
	 * this very file, and a writer that shrank it would make readers of
	 * the sealed blob die of SIGBUS, one that grew it would hold memory
	 * the limit never counted. Unlike F_SEAL_WRITE these two seals are
	 * allowed while writable mappings exist. */
	if (rc == 0 && fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		rc = -errno;
	if (rc < 0) {
		close(f);
		return rc;
	}
	*fd = f;
	return 0;
}

int
arena_seal(int fd)
{
	const int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
			 F_SEAL_SEAL;
	int err, have;

	if (fcntl(fd, F_ADD_SEALS, want) == 0)
		return 0;
	err = errno;
	/* The writer may have sealed the seals itself first: fine if what
	 * it left is immutable all the same. */
	have = err == EPERM ? fcntl(fd, F_GET_SEALS) : -1;
	if (have >= 0 && (have & want) == want)
		return 0;
	return -err;
}

int
arena_reopen_ro(int fd)
{
	char path[64];
	int f;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	return f < 0 ? -errno : f;
}

/* ---- the reserve pool ---- */

int
arena_pool_new(const char *name, int *fd)
{
	int f = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (f < 0)
		return errno == EMFILE || errno == ENFILE ? -EMFILE : -errno;
	*fd = f;
	return 0;
}

/* MADV_COLLAPSE needs the alignment (arena.h); so does every mapping that
 * wants the pool's huge pages on 2 MiB entries. */
char *
arena_map_aligned(int fd, size_t off, size_t len, int prot)
{
	return hugemap(fd, off, len, prot, 0);
}

void *
arena_map_ro(int fd, size_t len)
{
	char *p = arena_map_aligned(fd, 0, len, PROT_READ);

	return p == MAP_FAILED ? NULL : p;
}

/* Writes (zeroes) every page of p[0, k): the host backs them now. */
static int
populate(char *p, size_t k)
{
	if (madvise(p, k, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno == EINVAL) {	/* kernel before 5.14 */
		volatile char *c = p;
		size_t i;

		for (i = 0; i < k; i += 4096)
			c[i] = 0;
		return 0;
	}
	return -ENOSPC;
}

/* One huge page at p (2 MiB, aligned in the file): one small page written
 * so that the range is not a hole, then MADV_COLLAPSE, which puts all of it
 * in one huge page (zeroing the rest) even when the shmem policy is never.
 * 1: no huge page this time (the caller populates small pages). */
static int
collapse(char *p)
{
	if (populate(p, 4096))
		return -ENOSPC;
	if (madvise(p, HUGE_MIN, MADV_COLLAPSE) == 0)
		return 0;
	if (errno == EINVAL) {
		log_debug("arena: MADV_COLLAPSE: %s; the reserve pool uses "
			  "4 KiB pages", strerror(errno));
		__atomic_store_n(&no_collapse, 1, __ATOMIC_RELAXED);
	}
	return 1; /* or EAGAIN, ENOMEM: no free huge page just now */
}

int
arena_pool_fill(int fd, size_t from, size_t to, const int *cancel,
		size_t *huge)
{
	size_t len = to - from, off = 0;
	int pool = arena_mode == ARENA_HUGE_POOL &&
		   !__atomic_load_n(&no_collapse, __ATOMIC_RELAXED);
	char *p;
	int rc = 0;

	if (to <= from)
		return 0;
	if (ftruncate(fd, (off_t)to) < 0)
		return -errno;
	p = pool ? arena_map_aligned(fd, from, len, PROT_READ | PROT_WRITE) :
		   mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			(off_t)from);
	if (p == MAP_FAILED)
		return -errno;
	if (arena_mode == ARENA_HUGE_ADVISE && len >= HUGE_MIN)
		madvise(p, len, MADV_HUGEPAGE);
	/* Writing faults every page in, host included: the cost a put into
	 * fresh pages would pay. In steps of at most 2 MiB (short holds of
	 * mmap_lock), so a stop or a put that needs the room does not wait
	 * long; each ends on a huge-page boundary of the file, so that after
	 * the first they are whole huge pages. */
	while (off < len && rc == 0) {
		size_t edge = (from + off) & (HUGE_MIN - 1);
		size_t k = HUGE_MIN - edge;

		if (k > len - off)
			k = len - off;
		if (__atomic_load_n(cancel, __ATOMIC_RELAXED)) {
			rc = -ECANCELED;
			break;
		}
		rc = 1;
		if (pool && k == HUGE_MIN &&
		    !__atomic_load_n(&no_collapse, __ATOMIC_RELAXED))
			rc = collapse(p + off);
		/* The huge prefix grows while collapses follow each other
		 * from offset 0: a writer maps that much with 2 MiB entries. */
		if (rc == 0 && *huge == from + off && k == HUGE_MIN)
			*huge += k;
		if (rc > 0)
			rc = populate(p + off, k);
		off += k;
	}
	munmap(p, len);
	return rc;
}

int
arena_adopt(int fd, size_t have, size_t len)
{
	int rc;

	if (len == 0)
		return -EINVAL;
	if (ftruncate(fd, (off_t)len) < 0)
		return -errno;
	if (len > have) {
		rc = posix_fallocate(fd, (off_t)have, (off_t)(len - have));
		if (rc) {
			if (ftruncate(fd, (off_t)have) < 0) {
				/* only shrinks back what we just grew */
			}
			return rc == ENOSPC || rc == ENOMEM ? -ENOSPC : -rc;
		}
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return -errno;
	return 0;
}
