/*
 * hugemap: memfd mappings aligned for huge pages (hugemap.h). A span of
 * len + 2 MiB is reserved first, the file mapped at the first aligned
 * address inside it, and the unused ends given back.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "hugemap.h"
#include "banned.h"

void *
hugemap(int fd, size_t off, size_t len, int prot, int flags)
{
	size_t span = len + HUGEMAP_PAGE;
	char *r = mmap(NULL, span, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), *a;
	uintptr_t want;
	int e;

	if (r == MAP_FAILED)
		return MAP_FAILED;
	want = ((uintptr_t)r & ~(uintptr_t)(HUGEMAP_PAGE - 1)) +
	       (off & (HUGEMAP_PAGE - 1));
	if (want < (uintptr_t)r)
		want += HUGEMAP_PAGE;
	a = mmap((void *)want, len, prot, MAP_SHARED | MAP_FIXED | flags, fd,
		 (off_t)off);
	if (a == MAP_FAILED) {
		e = errno;
		munmap(r, span);
		errno = e;
		return MAP_FAILED;
	}
	if (a > r)
		munmap(r, (size_t)(a - r));
	if (a + len < r + span)
		munmap(a + len, (size_t)(r + span - (a + len)));
	return a;
}
