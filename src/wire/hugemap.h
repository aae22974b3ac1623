/*
 * hugemap: a shared mapping of a memfd whose address is congruent to the
 * file offset modulo 2 MiB, so that the file's huge pages fall on whole
 * page-table entries (one entry per 2 MiB instead of 512). The kernel
 * aligns plain mappings only where the shmem policy allows huge pages;
 * the daemon's reserve pool is made of huge pages under any policy, so
 * both sides of the socket map it this way: the daemon filling and
 * reading blobs, the client writing and reading them.
 */
#ifndef VY_HUGEMAP_H
#define VY_HUGEMAP_H

#include <stddef.h>

#define HUGEMAP_PAGE (2u << 20)

/* mmap(NULL, len, prot, MAP_SHARED | flags, fd, off) at such an address
 * (flags: e.g. MAP_POPULATE, cheap on huge pages); MAP_FAILED on failure
 * with errno set, like mmap. */
void *hugemap(int fd, size_t off, size_t len, int prot, int flags);

#endif
