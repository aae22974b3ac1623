/*
 * xmalloc: allocation for the daemon's own bookkeeping (tables, names,
 * metadata copies). Aborts with a log line on OOM, because a daemon that
 * cannot allocate a few bytes cannot keep its invariants. Never used for
 * blob memory (that is arena.c) nor by libvineyard.
 */
#ifndef VY_XMALLOC_H
#define VY_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t len);
void *xcalloc(size_t n, size_t len);
void *xrealloc(void *p, size_t len);
void *xreallocarray(void *p, size_t n, size_t len);
char *xstrdup(const char *s);
void *xmemdup(const void *p, size_t len);

#endif
