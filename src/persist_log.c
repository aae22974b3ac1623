/*
 * persist_log: group logs. A persist group of many small files is made
 * durable as one file, objects/group-<16 hex>.log, that holds every
 * content file's bytes: one write, one fsync, a rename and one
 * directory fsync (about 1 ms here). Syncing 128 small files instead costs
 * 15-30 ms, because a journal commit then carries 128 new inodes and their
 * scattered blocks, and creating them costs the daemon CPU besides.
 *
 * The objects of a log stay in it: start-up reads its items in place, as
 * if each were a file. Their own content files are written from it ("the
 * log is applied": the files, one syncfs, then the log goes) only when
 * something needs one of them as a file: the removal, the rewrite after a
 * chmod, the quarantine or a read of any object in it, or a start-up scan
 * that refuses one item. Until then the log is the objects' copy on disk;
 * they are all small (slab blobs and records) and stay in memory while
 * the daemon runs, so nothing reads them back.
 *
 * A log (vineyard-format(5)), little-endian:
 *   "VYGLOG1\n"  magic (8 bytes)
 *   u32 count    items
 *   u32 check    XXH32 of the body
 *   u64 body_len bytes after this 32-byte header
 *   u64 seq      the number in its name
 * then count items: u8 kind, 3 zero bytes, u32 len, u64 id, then len
 * bytes: the content file exactly as objects/ gets it (which checks
 * itself again when the scan reads it).
 *
 * Locking: p->logmu guards the logs and the map of logged ids: the writer
 * commits, removes and rewrites, the request thread trashes, the loader
 * may load.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "le.h"
#include "persist_int.h"
#include "banned.h"

#define LOG_MAGIC "VYGLOG1\n"
#define LOG_HDR 32u
#define ITEM_HDR 16u
#define LOG_PREFIX "group-"
#define LOG_SUFFIX ".log"
/* A log is read whole; nothing writes one larger than this. */
#define LOG_MAX (64u << 20)

static void
log_name(uint64_t seq, char *out, size_t len)
{
	snprintf(out, len, LOG_PREFIX "%016" PRIx64 LOG_SUFFIX, seq);
}

int
persist_log_is_name(const char *name, uint64_t *seq)
{
	size_t pl = strlen(LOG_PREFIX), n = strlen(name);
	char *end;

	if (n != pl + 16 + strlen(LOG_SUFFIX) ||
	    strncmp(name, LOG_PREFIX, pl) != 0 ||
	    strcmp(name + pl + 16, LOG_SUFFIX) != 0)
		return 0;
	*seq = strtoull(name + pl, &end, 16);
	return end == name + pl + 16 && *seq != 0;
}

/* A logged id: which log holds its content file. */
struct logged {
	uint64_t id;    /* first: idtab key */
	uint64_t seq;
};

static void
map_add(struct persist *p, uint64_t id, uint64_t seq)
{
	struct logged *l = idtab_get(&p->logged, id);

	if (l) {
		l->seq = seq;
		return;
	}
	l = xmalloc(sizeof(*l));
	l->id = id;
	l->seq = seq;
	if (idtab_put(&p->logged, l))
		fatalx("out of memory");
}

static void
map_del(struct persist *p, uint64_t id)
{
	free(idtab_del(&p->logged, id));
}

static void
logs_forget(struct persist *p, uint64_t seq)
{
	size_t i;

	for (i = 0; i < p->nlogs; i++)
		if (p->logs[i] == seq) {
			p->logs[i] = p->logs[--p->nlogs];
			break;
		}
}

int
persist_log_commit(struct persist *p, const struct persist_item *v, size_t n,
		   uint64_t *seq_out)
{
	struct persist_file f;
	size_t len = LOG_HDR, i, off;
	char name[40];
	uint8_t *buf;
	uint64_t seq;
	int rc;

	for (i = 0; i < n; i++)
		len += ITEM_HDR + v[i].len;
	if (len > LOG_MAX)
		return persist_fail(-EFBIG, "a group log of %zu bytes is over "
				    "the limit", len);
	if ((rc = persist_format_logs(p)))
		return rc;
	pthread_mutex_lock(&p->logmu);
	if (p->logseq == 0) {
		struct timespec ts;

		/* Unique across restarts: the scan starts past the logs it
		 * read, and a damaged one kept in damaged/ keeps its name. */
		clock_gettime(CLOCK_REALTIME, &ts);
		p->logseq = (uint64_t)ts.tv_sec * 1000000000u +
			    (uint64_t)ts.tv_nsec;
	}
	seq = ++p->logseq;
	pthread_mutex_unlock(&p->logmu);
	buf = xmalloc(len);
	memcpy(buf, LOG_MAGIC, 8);
	off = LOG_HDR;
	for (i = 0; i < n; i++) {
		memset(buf + off, 0, ITEM_HDR);
		buf[off] = v[i].kind;
		le_wr32(buf + off + 4, (uint32_t)v[i].len);
		le_wr64(buf + off + 8, v[i].id);
		memcpy(buf + off + ITEM_HDR, v[i].buf, v[i].len);
		off += ITEM_HDR + v[i].len;
	}
	le_wr32(buf + 8, (uint32_t)n);
	le_wr32(buf + 12, diskfmt_xxh32(buf + LOG_HDR, len - LOG_HDR));
	le_wr64(buf + 16, len - LOG_HDR);
	le_wr64(buf + 24, seq);

	/* Like any file: temp name, flushed, renamed, directory flushed. */
	log_name(seq, name, sizeof(name));
	rc = persist_write_named(p, name, buf, len, &f);
	free(buf);
	if (rc == 0)
		rc = persist_sync(p, &f);
	if (rc == 0)
		rc = persist_commit(p, &f);
	if (rc == 0 && (rc = persist_sync_dir(p))) {
		/* Not known durable: the group fails, and its log goes. */
		unlinkat(p->ofd, name, 0);
	}
	if (rc)
		return rc;
	pthread_mutex_lock(&p->logmu);
	p->logs = xreallocarray(p->logs, p->nlogs + 1, sizeof(*p->logs));
	p->logs[p->nlogs++] = seq;
	for (i = 0; i < n; i++)
		map_add(p, v[i].id, seq);
	pthread_mutex_unlock(&p->logmu);
	*seq_out = seq;
	return 0;
}

/* Forgets log seq and its ids (rare: a persist failing after its log,
 * a damaged log; a walk of the map is fine). */
static void
forget_seq(struct persist *p, uint64_t seq)
{
	struct logged *l;
	uint64_t *ids = NULL;
	size_t pos = 0, n = 0, i;

	logs_forget(p, seq);
	/* collected first: the table must not change while walked */
	while ((l = idtab_next(&p->logged, &pos)))
		if (l->seq == seq) {
			ids = xreallocarray(ids, n + 1, sizeof(*ids));
			ids[n++] = l->id;
		}
	for (i = 0; i < n; i++)
		map_del(p, ids[i]);
	free(ids);
}

int
persist_log_drop(struct persist *p, uint64_t seq)
{
	char name[40];
	int rc = 0;

	log_name(seq, name, sizeof(name));
	pthread_mutex_lock(&p->logmu);
	forget_seq(p, seq);
	pthread_mutex_unlock(&p->logmu);
	if (unlinkat(p->ofd, name, 0) < 0 && errno != ENOENT)
		rc = persist_fail(-errno, "removing %s/objects/%s: %s", p->dir,
				  name, strerror(errno));
	else if (fsync(p->ofd) < 0)
		rc = persist_fail(-errno, "syncing %s/objects: %s", p->dir,
				  strerror(errno));
	return rc;
}

size_t
persist_log_pending(struct persist *p)
{
	size_t n;

	pthread_mutex_lock(&p->logmu);
	n = p->nlogs;
	pthread_mutex_unlock(&p->logmu);
	return n;
}

/* Checks a whole log read into b; NULL when it is sound, else why not. */
static const char *
log_check(const uint8_t *b, size_t len, uint64_t seq)
{
	uint32_t count;
	size_t off, i;

	if (len < LOG_HDR || memcmp(b, LOG_MAGIC, 8) != 0)
		return "not a group log";
	count = le_rd32(b + 8);
	if (le_rd64(b + 16) != len - LOG_HDR)
		return "group log is truncated";
	if (le_rd64(b + 24) != seq)
		return "group log does not match its name";
	if (diskfmt_xxh32(b + LOG_HDR, len - LOG_HDR) != le_rd32(b + 12))
		return "group log fails its checksum";
	off = LOG_HDR;
	for (i = 0; i < count; i++) {
		uint32_t ilen;

		if (len - off < ITEM_HDR)
			return "group log item is truncated";
		ilen = le_rd32(b + off + 4);
		if ((b[off] != DISKFMT_BLOB && b[off] != DISKFMT_OBJECT) ||
		    le_rd64(b + off + 8) == 0 || len - off - ITEM_HDR < ilen)
			return "group log item is damaged";
		off += ITEM_HDR + ilen;
	}
	if (off != len)
		return "group log has bytes past its items";
	return NULL;
}

static int read_log(struct persist *p, uint64_t seq, uint8_t **out,
		    size_t *len);

/* Applies log seq (p->logmu held): its content files written into
 * objects/ and renamed into place, one syncfs, then the log removed and
 * its ids forgotten. 1 when the log is damaged: moved to damaged/
 * instead, nothing else done (its objects' files are what they are). 0,
 * or -errno with persist_errmsg(), the log kept then. */
static int
apply_one(struct persist *p, uint64_t seq)
{
	char name[40];
	uint8_t *b = NULL;
	size_t got = 0, off;
	int rc;

	log_name(seq, name, sizeof(name));
	if ((rc = read_log(p, seq, &b, &got)))
		return rc;
	rc = 0;
	for (off = LOG_HDR; off < got && rc == 0;) {
		uint32_t ilen = le_rd32(b + off + 4);
		struct persist_file f;

		rc = persist_write_record(p, b[off], le_rd64(b + off + 8),
					  b + off + ITEM_HDR, ilen, &f);
		if (rc == 0)
			rc = persist_close_file(p, &f);
		if (rc == 0)
			rc = persist_commit(p, &f);
		off += ITEM_HDR + ilen;
	}
	/* The files durable, then the log goes: a crash before that
	 * applies it again, harmlessly. */
	if (rc == 0 && syncfs(p->ofd) < 0)
		rc = persist_fail(-errno, "syncing %s: %s", p->dir,
				  strerror(errno));
	if (rc == 0 && unlinkat(p->ofd, name, 0) < 0 && errno != ENOENT)
		rc = persist_fail(-errno, "removing %s/objects/%s: %s", p->dir,
				  name, strerror(errno));
	if (rc == 0 && fsync(p->ofd) < 0)
		rc = persist_fail(-errno, "syncing %s/objects: %s", p->dir,
				  strerror(errno));
	if (rc == 0) {
		for (off = LOG_HDR; off < got;) {
			map_del(p, le_rd64(b + off + 8));
			off += ITEM_HDR + le_rd32(b + off + 4);
		}
		logs_forget(p, seq);
	}
	free(b);
	return rc;
}

int
persist_log_unpack(struct persist *p, uint8_t kind, uint64_t id)
{
	struct logged *l;
	int rc = 0;

	if (kind != DISKFMT_BLOB && kind != DISKFMT_OBJECT)
		return 0;
	pthread_mutex_lock(&p->logmu);
	if ((l = idtab_get(&p->logged, id))) {
		uint64_t seq = l->seq;

		if ((rc = apply_one(p, seq)) == 1) {
			forget_seq(p, seq);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&p->logmu);
	return rc;
}

int
persist_log_holds(struct persist *p, uint64_t id)
{
	int held;

	pthread_mutex_lock(&p->logmu);
	held = idtab_get(&p->logged, id) || idtab_get(&p->scanned, id);
	pthread_mutex_unlock(&p->logmu);
	return held;
}

void
persist_log_scan_done(struct persist *p)
{
	struct logged *l;
	size_t pos = 0;

	pthread_mutex_lock(&p->logmu);
	while ((l = idtab_next(&p->scanned, &pos)))
		free(l);
	idtab_release(&p->scanned);
	idtab_init(&p->scanned);
	pthread_mutex_unlock(&p->logmu);
}

void
persist_log_release(struct persist *p)
{
	struct logged *l;
	size_t pos = 0;

	while ((l = idtab_next(&p->logged, &pos)))
		free(l);
	idtab_release(&p->logged);
	persist_log_scan_done(p);
	free(p->logs);
}

static int
seq_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Reads log seq whole into *out (*len bytes). 0; 1 when it is damaged
 * (moved to damaged/, logged); or -errno with persist_errmsg(). */
static int
read_log(struct persist *p, uint64_t seq, uint8_t **out, size_t *len)
{
	char name[40], msg[200];
	const char *why = NULL;
	struct stat st;
	uint8_t *b;
	ssize_t got;
	int fd, rc;

	log_name(seq, name, sizeof(name));
	fd = openat(p->ofd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return persist_fail(-errno, "opening %s/objects/%s: %s", p->dir,
				    name, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = persist_fail(-errno, "reading %s/objects/%s: %s", p->dir,
				  name, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)LOG_MAX) {
		close(fd);
		quarantine_name(p, name, "not a group log vineyardd writes; "
				"the objects of that persist may be missing");
		return 1;
	}
	b = xmalloc((size_t)st.st_size + 1);
	got = persist_read_full(fd, b, (size_t)st.st_size, 0);
	close(fd);
	if (got < 0) {
		free(b);
		return persist_fail((int)got, "reading %s/objects/%s: %s",
				    p->dir, name, strerror((int)-got));
	}
	if ((why = log_check(b, (size_t)got, seq))) {
		free(b);
		snprintf(msg, sizeof(msg), "%s; the objects of that persist "
			 "may be missing", why);
		quarantine_name(p, name, msg);
		return 1;
	}
	*out = b;
	*len = (size_t)got;
	return 0;
}

struct rejected {
	uint8_t kind;
	uint64_t id;
	const char *why;
};

/* The scan of one sound log: each item to fn as if it were a file. Items
 * fn refuses are written out as files (the whole log is applied) and
 * moved to damaged/ like files. */
static int
scan_log(struct persist *p, uint64_t seq, const uint8_t *b, size_t len,
	 persist_scan_fn fn, void *ctx, struct persist_scan_stats *st)
{
	struct rejected *rj = NULL;
	size_t nrj = 0, off, i;
	int rc = 0;

	p->logs = xreallocarray(p->logs, p->nlogs + 1, sizeof(*p->logs));
	p->logs[p->nlogs++] = seq;
	for (off = LOG_HDR; off < len;) {
		uint8_t kind = b[off];
		uint32_t ilen = le_rd32(b + off + 4);
		uint64_t id = le_rd64(b + off + 8);
		const uint8_t *img = b + off + ITEM_HDR;
		struct persist_entry e;
		const char *why = NULL;
		int prc;

		off += ITEM_HDR + ilen;
		memset(&e, 0, sizeof(e));
		prc = diskfmt_hdr_parse(img, ilen, ilen, &e.hdr, &why);
		if (prc == 0 && (e.hdr.kind != kind || e.hdr.id != id))
			why = "header does not match its group log item";
		else if (prc == 0) {
			e.file_len = ilen;
			e.body = img + e.hdr.hdr_len;
			why = fn(ctx, &e);
		}
		if (prc == -EPROTONOSUPPORT)
			st->newer++;
		if (why) {
			rj = xreallocarray(rj, nrj + 1, sizeof(*rj));
			rj[nrj].kind = kind;
			rj[nrj].id = id;
			rj[nrj].why = why;
			nrj++;
		} else {
			map_add(p, id, seq);
			st->logfiles++;
		}
	}
	if (nrj) {
		/* Out as files, so that the refused ones can be set aside
		 * as files are; the others the callback has had already. */
		for (off = LOG_HDR; off < len;) {
			uint64_t id = le_rd64(b + off + 8);
			struct logged *l;

			off += ITEM_HDR + le_rd32(b + off + 4);
			if (!idtab_get(&p->logged, id) ||
			    idtab_get(&p->scanned, id))
				continue;
			l = xmalloc(sizeof(*l));
			l->id = id;
			l->seq = seq;
			if (idtab_put(&p->scanned, l))
				fatalx("out of memory");
		}
		rc = apply_one(p, seq);
		for (i = 0; rc == 0 && i < nrj; i++) {
			char name[40];

			persist_name(rj[i].kind, rj[i].id, name, sizeof(name));
			quarantine_name(p, name, rj[i].why);
			st->damaged++;
		}
	}
	free(rj);
	return rc < 0 ? rc : 0;
}

int
persist_log_scan(struct persist *p, persist_scan_fn fn, void *ctx,
		 struct persist_scan_stats *st)
{
	struct dirent *de;
	uint64_t *seqs = NULL;
	size_t nseqs = 0, i;
	DIR *d;
	int fd = openat(p->ofd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return persist_fail(-errno, "reading %s/objects: %s", p->dir,
				    strerror(errno));
	}
	while ((de = readdir(d))) {
		uint64_t seq;

		if (!persist_log_is_name(de->d_name, &seq))
			continue;
		seqs = xreallocarray(seqs, nseqs + 1, sizeof(*seqs));
		seqs[nseqs++] = seq;
	}
	closedir(d);
	if (nseqs > 1)
		qsort(seqs, nseqs, sizeof(*seqs), seq_cmp);
	pthread_mutex_lock(&p->logmu);
	for (i = 0; i < nseqs && rc == 0; i++) {
		uint8_t *b = NULL;
		size_t len = 0;

		if (seqs[i] > p->logseq)
			p->logseq = seqs[i];
		rc = read_log(p, seqs[i], &b, &len);
		if (rc == 1) {
			st->damaged++;
			rc = 0;
			continue;
		}
		if (rc == 0) {
			st->logs++;
			rc = scan_log(p, seqs[i], b, len, fn, ctx, st);
		}
		free(b);
	}
	pthread_mutex_unlock(&p->logmu);
	free(seqs);
	if (rc == 0 && st->logs)
		log_info("persist: %" PRIu64 " objects read in place from %"
			 PRIu64 " group log%s", st->logfiles, st->logs,
			 st->logs == 1 ? "" : "s");
	return rc;
}
