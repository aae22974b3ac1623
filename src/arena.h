/*
 * arena: memfd-backed shared memory for blobs. Creates a memfd of an exact
 * length, sealed against resizing, with its pages reserved up front (so a
 * full memory limit is a clean -ENOSPC, never a SIGBUS at first touch),
 * seals it against writing, and makes the read-only descriptors handed to
 * readers. Knows bytes and descriptors, never objects,
 * and does not account: the store checks its limit before calling here.
 *
 * Huge pages: fresh 4 KiB pages fault slowly on these machines, so blobs of
 * 2 MiB and more use transparent huge pages when the kernel's shmem policy
 * allows it (see arena_init).
 */
#ifndef VY_ARENA_H
#define VY_ARENA_H

#include <stddef.h>

enum arena_huge {
	ARENA_HUGE_OFF,    /* 4 KiB pages only */
	ARENA_HUGE_ADVISE, /* shmem_enabled=advise: madvise a daemon mapping */
	ARENA_HUGE_KERNEL, /* shmem_enabled=always|within_size|force */
	ARENA_HUGE_POOL,   /* shmem_enabled=never: the reserve pool alone,
			    * by MADV_COLLAPSE (other blobs: 4 KiB) */
};

/* Reads the kernel's shmem THP policy; want_huge 0 forces 4 KiB pages. */
void arena_init(int want_huge);
/* Sets the system's shmem THP policy to "within_size" when it is "never"
 * (root only), so fallocate reserves huge pages without zeroing them: puts
 * then run at memcpy speed. Saves the old value in old[oldlen] and returns
 * 1 if it changed something, 0 if not needed, or -errno. */
int arena_enable_huge(char *old, size_t oldlen);
/* Puts back a value saved by arena_enable_huge. */
void arena_restore_huge(const char *old);
enum arena_huge arena_huge(void);
/* Tests: a mode whatever the policy (MADV_COLLAPSE, "pool", works under
 * every policy but deny). */
void arena_force_mode(enum arena_huge mode);
/* "off", "advise", "kernel" or "pool", for logs and status. */
const char *arena_huge_name(void);

/* A sealable memfd of len bytes (len > 0) with its pages reserved and its
 * size sealed (F_SEAL_SHRINK | F_SEAL_GROW): whoever holds it may write
 * its bytes until arena_seal, never resize it. On success *fd is the
 * caller's; returns 0, -ENOSPC when memory runs out, or another -errno. */
int arena_memfd(const char *name, size_t len, int *fd);
/* Makes fd immutable for every holder. -EBUSY while any writable shared
 * mapping of it exists; -EPERM when a holder sealed its seals without
 * making it immutable. */
int arena_seal(int fd);
/* A new read-only open file of the same memory; or -errno. */
int arena_reopen_ro(int fd);
/* ---- the reserve pool (store_reserve.c) ----
 * A pool memfd is sealable but has no seals yet: its pages are allocated
 * and touched ahead of time, and a put of about its size adopts it. */
int arena_pool_new(const char *name, int *fd);
/* Grows pool fd from `from` to `to` bytes and writes (zeroes) every new
 * page through a transient mapping, so the host backs them now rather
 * than during a put. In the "pool" mode, as huge pages where it can: a
 * put's pwrite into them then costs little more than a memcpy (on 4 KiB
 * pages, the kernel's work per page doubles its time). -ENOSPC when memory runs out; -ECANCELED as soon as
 * *cancel (read atomically) is nonzero. *huge: bytes from offset 0 known
 * to be 2 MiB pages; grown when from equals it and each new 2 MiB step
 * became one huge page. */
int arena_pool_fill(int fd, size_t from, size_t to, const int *cancel,
		    size_t *huge);
/* Of a pool whose first huge bytes are 2 MiB pages, how many of the first
 * len bytes stay whole 2 MiB pages once it is trimmed or extended to len
 * (arena_adopt): what a writer may map with 2 MiB page-table entries. */
size_t arena_huge_prefix(size_t huge, size_t len);
/* Makes pool fd (have bytes filled) a blob memfd of exactly len bytes:
 * trims or extends it (the extension reserved as arena_memfd does) and
 * seals its size. On error the caller closes fd. */
int arena_adopt(int fd, size_t have, size_t len);
/* A shared mapping (prot) of fd's [off, off + len) whose address is
 * congruent to off modulo 2 MiB, so that whole huge pages of the file fall
 * on whole page-table entries: the kernel then maps each with one 2 MiB
 * entry, whatever the shmem policy, and a fault costs one per 2 MiB. A
 * plain mmap of a memfd is so aligned only where the shmem policy allows
 * huge pages, or by the luck of the address space's layout; through 4 KiB
 * entries, huge pages cost 20-50x more to fill or read on this VM (1 GiB
 * of pool populated and written from user space or by the kernel in 4 MiB
 * steps: 9-17 s against 0.2-0.6 s aligned; mapped and read in 4 MiB
 * chunks: 1.15 s against 0.13 s). MAP_FAILED with errno set on failure;
 * munmap(p, len) releases it. */
char *arena_map_aligned(int fd, size_t off, size_t len, int prot);
/* A read-only shared mapping of fd's first len bytes (len > 0) at an
 * address aligned to 2 MiB, so that the file's huge pages fall on huge
 * page-table entries; NULL (errno set) if it cannot be made. */
void *arena_map_ro(int fd, size_t len);
/* Bytes of memory a blob of len bytes really holds. */
size_t arena_footprint(size_t len);

#endif
