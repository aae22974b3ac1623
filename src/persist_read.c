/*
 * persist_read: reading DIR/objects back: the start-up scan (checks
 * every file on a few threads, removes temp files a crash left, moves
 * damaged files aside) and loading one blob's bytes into memory.
 */
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist_int.h"
#include "banned.h"

/* ---- reading ---- */

/* "o<16 hex>.<ext>": kind and id, or 0. */
static int
parse_name(const char *name, uint8_t *kind, uint64_t *id)
{
	char idbuf[META_ID_LEN];
	const char *dot = strchr(name, '.');

	if (!dot || dot - name != META_ID_LEN - 1)
		return 0;
	memcpy(idbuf, name, META_ID_LEN - 1);
	idbuf[META_ID_LEN - 1] = 0;
	if (meta_id_parse(idbuf, id) || *id == 0)
		return 0;
	if (strcmp(dot + 1, "blob") == 0)
		*kind = DISKFMT_BLOB;
	else if (strcmp(dot + 1, "obj") == 0)
		*kind = DISKFMT_OBJECT;
	else if (strcmp(dot + 1, "anchor") == 0)
		*kind = DISKFMT_ANCHOR;
	else
		return 0;
	return 1;
}

ssize_t
persist_read_full(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *b = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, b + got, len - got, off + (off_t)got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Checks one file; 0 and e (body malloc'd into *body), or a reason. */
static const char *
scan_one(struct persist *p, const char *name, uint8_t kind, uint64_t id,
	 struct persist_entry *e, uint8_t **body, int *newer)
{
	uint8_t hdr[DISKFMT_HDR_MAX];
	const char *why;
	struct stat st;
	ssize_t n;
	int fd, rc;

	*body = NULL;
	fd = openat(p->ofd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return "cannot be opened";
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return "not a regular file";
	}
	n = persist_read_full(fd, hdr, sizeof(hdr), 0);
	if (n < 0) {
		close(fd);
		return "read error";
	}
	rc = diskfmt_hdr_parse(hdr, (size_t)n, (uint64_t)st.st_size, &e->hdr,
			       &why);
	if (rc) {
		close(fd);
		*newer = rc == -EPROTONOSUPPORT;
		return why;
	}
	if (e->hdr.kind != kind || e->hdr.id != id) {
		close(fd);
		return "header does not match the file name";
	}
	e->file_len = (uint64_t)st.st_size;
	e->body = NULL;
	/* Records always (their size is bounded by the header check);
	 * blobs when small. */
	if (kind != DISKFMT_BLOB || e->file_len <= PERSIST_READ_WHOLE) {
		size_t blen = (size_t)e->hdr.body_len;

		*body = xmalloc(blen ? blen : 1);
		n = persist_read_full(fd, *body, blen, e->hdr.hdr_len);
		if (n != (ssize_t)blen) {
			close(fd);
			free(*body);
			*body = NULL;
			return n < 0 ? "read error" : "truncated body";
		}
		e->body = *body;
	}
	close(fd);
	return NULL;
}

/* Scanning reads one header per file; on a cold page cache that is one
 * disk read each, so a pool of threads keeps many in flight (the store's
 * callback still runs on the caller's thread, in readdir order). */
#define SCAN_THREADS 16
#define SCAN_BATCH 4096

struct scan_item {
	char name[32];      /* ours are "o" + 16 hex + ".anchor" */
	uint8_t kind;
	uint64_t id;
	struct persist_entry e;
	uint8_t *body;
	const char *why;
	int newer;
};

struct scan_batch {
	struct persist *p;
	struct scan_item *v;
	size_t n;
	size_t next;        /* next item to take; atomic */
};

static void *
scan_worker(void *arg)
{
	struct scan_batch *b = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED)) < b->n) {
		struct scan_item *it = &b->v[i];

		it->why = scan_one(b->p, it->name, it->kind, it->id, &it->e,
				   &it->body, &it->newer);
	}
	return NULL;
}

static void
scan_batch(struct scan_batch *b)
{
	pthread_t t[SCAN_THREADS];
	size_t k, nt = b->n / 64 + 1;

	if (nt > SCAN_THREADS)
		nt = SCAN_THREADS;
	b->next = 0;
	for (k = 1; k < nt; k++)
		if (pthread_create(&t[k], NULL, scan_worker, b))
			break;
	nt = k;
	scan_worker(b);
	for (k = 1; k < nt; k++)
		pthread_join(t[k], NULL);
}

int
persist_scan(struct persist *p, persist_scan_fn fn, void *ctx,
	     struct persist_scan_stats *st)
{
	struct scan_item *v = NULL;
	struct dirent *de;
	size_t n = 0, cap = 0, i, j;
	DIR *d;
	int fd = fcntl(p->ofd, F_DUPFD_CLOEXEC, 3), rc;

	memset(st, 0, sizeof(*st));
	if (fd >= 0 && (rc = persist_log_scan(p, fn, ctx, st))) {
		close(fd);
		return rc;
	}
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return persist_fail(-errno, "reading %s/objects: %s", p->dir,
				    strerror(errno));
	}
	/* All names first: the directory changes below (temp files go,
	 * damaged files move). */
	rewinddir(d);
	while ((de = readdir(d))) {
		uint8_t kind;
		uint64_t id;

		if (de->d_name[0] == '.' && (!de->d_name[1] ||
		    (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
			/* A crash in the middle of a write. */
			if (unlinkat(p->ofd, de->d_name, 0) == 0)
				st->temps++;
			continue;
		}
		if (persist_log_is_name(de->d_name, &id))
			continue; /* read by persist_log_scan above */
		if (strlen(de->d_name) >= sizeof(v->name) ||
		    !parse_name(de->d_name, &kind, &id)) {
			log_warnx("persist: %s/objects/%s: not a vineyard "
				  "file name; left alone", p->dir, de->d_name);
			st->strays++;
			continue;
		}
		/* A log's file written out before a crash removed the log:
		 * the same bytes, read from the log already. */
		if (kind != DISKFMT_ANCHOR && persist_log_holds(p, id))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n].kind = kind;
		v[n].id = id;
		n++;
	}
	closedir(d);
	for (i = 0; i < n; i += SCAN_BATCH) {
		struct scan_batch b = { p, v + i, n - i < SCAN_BATCH ? n - i :
					SCAN_BATCH, 0 };

		scan_batch(&b);
		for (j = 0; j < b.n; j++) {
			struct scan_item *it = &b.v[j];
			const char *why = it->why;

			if (!why)
				why = fn(ctx, &it->e);
			free(it->body);
			if (why) {
				quarantine_name(p, it->name, why);
				st->damaged++;
				st->newer += it->newer;
			} else {
				st->files++;
			}
		}
	}
	free(v);
	persist_log_scan_done(p);
	if (st->temps) {
		log_info("persist: removed %" PRIu64 " temp file%s left by an "
			 "interrupted write", st->temps,
			 st->temps == 1 ? "" : "s");
		fsync(p->ofd);
	}
	return 0;
}

struct file_in {
	int fd;
	off_t off;
};

static ssize_t
file_in(void *ctx, void *buf, size_t cap)
{
	struct file_in *fi = ctx;
	ssize_t n = persist_read_full(fi->fd, buf, cap, fi->off);

	if (n > 0)
		fi->off += n;
	return n;
}

struct load_out {
	int fd;        /* write here at off, or */
	uint8_t *p;    /* copy here */
	off_t off;
};

static int
load_out(void *ctx, const void *buf, size_t len)
{
	struct load_out *o = ctx;
	const uint8_t *b = buf;

	if (o->fd < 0) {
		memcpy(o->p + o->off, buf, len);
		o->off += (off_t)len;
		return 0;
	}
	while (len) {
		ssize_t n = pwrite(o->fd, b, len, o->off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		len -= (size_t)n;
		o->off += n;
	}
	return 0;
}

int
persist_load_blob(struct persist *p, uint64_t id, int dstfd, void *dst,
		  uint64_t len, const char **why)
{
	struct load_out lo = { dstfd, dst, 0 };
	uint8_t hdr[DISKFMT_HDR_MAX];
	struct diskfmt_hdr h;
	struct file_in fi;
	struct stat st;
	char name[40];
	ssize_t n;
	int rc;

	*why = NULL;
	if ((rc = persist_log_unpack(p, DISKFMT_BLOB, id)))
		return rc;
	persist_name(DISKFMT_BLOB, id, name, sizeof(name));
	fi.fd = openat(p->ofd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fi.fd < 0)
		return persist_fail(-errno, "opening %s/objects/%s: %s", p->dir,
				    name, strerror(errno));
	posix_fadvise(fi.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (fstat(fi.fd, &st) < 0 ||
	    (n = persist_read_full(fi.fd, hdr, sizeof(hdr), 0)) < 0) {
		rc = persist_fail(-errno, "reading %s/objects/%s: %s", p->dir,
				  name, strerror(errno));
		goto out;
	}
	rc = diskfmt_hdr_parse(hdr, (size_t)n, (uint64_t)st.st_size, &h, why);
	if (rc == 0 && (h.kind != DISKFMT_BLOB || h.id != id ||
			h.raw_len != len)) {
		*why = "file no longer matches what was restored";
		rc = -EBADMSG;
	}
	if (rc == 0) {
		fi.off = h.hdr_len;
		rc = diskfmt_blob_decode(file_in, &fi, h.body_len, len,
					 load_out, &lo, why);
	}
	if (rc == -EBADMSG || rc == -EPROTONOSUPPORT)
		rc = persist_fail(-EBADMSG, "%s/objects/%s is damaged: %s",
				  p->dir, name, *why ? *why : "bad data");
	else if (rc)
		rc = persist_fail(rc, "reading %s/objects/%s: %s", p->dir, name,
				  strerror(-rc));
	/* The bytes now live in the store's memory. */
	posix_fadvise(fi.fd, 4096, 0, POSIX_FADV_DONTNEED);
out:
	close(fi.fd);
	return rc;
}
