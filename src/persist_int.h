/*
 * persist_int: what the persist*.c files share and nothing outside them
 * sees; the public interface is persist.h.
 *
 *   persist.c        open/close DIR, format and lock, errors, file names
 *   persist_write.c  atomic writes, O_DIRECT blob files, remove, quarantine
 *   persist_read.c   the start-up scan and loading a blob back
 *   persist_log.c    group logs: a persist group made durable as one file
 */
#ifndef VY_PERSIST_INT_H
#define VY_PERSIST_INT_H

#include <pthread.h>
#include <stdint.h>

#include "diskfmt.h"
#include "idtab.h"
#include "log.h"
#include "meta.h"
#include "persist.h"
#include "xmalloc.h"

#pragma GCC visibility push(hidden)

#define FORMAT_FILE "format"
#define FORMAT_HEAD "vineyard data directory\nformat "
#define TMP_PREFIX ".tmp-"
/* DIR/format once a group log was written: format 2 plus group logs. A
 * vineyardd that knows no logs refuses it, rather than miss objects. */
#define FORMAT_LOGS 3
#define WRITE_CHUNK (8u << 20)

struct persist {
	char *dir;
	int dfd;       /* DIR */
	int ofd;       /* DIR/objects */
	int qfd;       /* DIR/damaged */
	int lockfd;
	int format;    /* what DIR/format says */
	uint64_t tmpseq;
	/* group logs not yet applied, and which holds each id
	 * (persist_log.c), under logmu */
	pthread_mutex_t logmu;
	uint64_t *logs;
	size_t nlogs;
	struct idtab logged;
	/* during persist_scan: ids a log gave the callback whose files the
	 * scan must then skip (the log was written out, persist_log.c) */
	struct idtab scanned;
	uint64_t logseq;
};

/* Writes the sentence persist_errmsg() returns; returns rc. */
int persist_fail(int rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Reads up to len bytes at off; fewer only at the end of the file.
 * Returns the count or -errno. */
ssize_t persist_read_full(int fd, void *buf, size_t len, off_t off);
/* DIR/format says FORMAT_LOGS from now on (before the first group log).
 * 0 or -errno with persist_errmsg(). */
int persist_format_logs(struct persist *p);
/* persist_write_record for a file named name in objects/ (a group log). */
int persist_write_named(struct persist *p, const char *name, const void *buf,
			size_t len, struct persist_file *f);
/* Writes all of buf to fd (in WRITE_CHUNK pieces); 0 or -errno. */
int persist_write_all(int fd, const void *buf, size_t len);
/* Moves DIR/objects/name to DIR/damaged/ and logs why. */
void quarantine_name(struct persist *p, const char *name, const char *why);
/* Whether name is a group log's; *seq gets its number. */
int persist_log_is_name(const char *name, uint64_t *seq);
/* The scan's first step: each group log's items to fn as if they were
 * files (the logs stay; their ids are remembered as logged). */
int persist_log_scan(struct persist *p, persist_scan_fn fn, void *ctx,
		     struct persist_scan_stats *st);
/* Before a content file of id is removed, rewritten or read: applies the
 * log that holds it, if one does. 0 or -errno with persist_errmsg(). */
int persist_log_unpack(struct persist *p, uint8_t kind, uint64_t id);
/* Whether a log holds id's content file, or gave it to the scan's
 * callback already (the scan skips its file then). */
int persist_log_holds(struct persist *p, uint64_t id);
/* The end of a scan: forgets what it gave the callback. */
void persist_log_scan_done(struct persist *p);
/* Frees the logs' memory (persist_close). */
void persist_log_release(struct persist *p);

#pragma GCC visibility pop

#endif
