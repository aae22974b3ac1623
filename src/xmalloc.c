/* xmalloc: abort-on-OOM wrappers for daemon bookkeeping. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"
#include "banned.h"

void *
xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p)
		fatalx("out of memory allocating %zu bytes", len);
	return p;
}

void *
xcalloc(size_t n, size_t len)
{
	void *p = calloc(n ? n : 1, len ? len : 1);

	if (!p)
		fatalx("out of memory allocating %zu x %zu bytes", n, len);
	return p;
}

void *
xrealloc(void *p, size_t len)
{
	p = realloc(p, len ? len : 1);
	if (!p)
		fatalx("out of memory reallocating %zu bytes", len);
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t len)
{
	p = reallocarray(p, n ? n : 1, len ? len : 1);
	if (!p)
		fatalx("out of memory reallocating %zu x %zu bytes", n, len);
	return p;
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

void *
xmemdup(const void *p, size_t len)
{
	void *q = xmalloc(len);

	memcpy(q, p, len);
	return q;
}
