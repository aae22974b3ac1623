/*
 * fs_stream: a byte stream's "data" file (objects/<id>/data of a
 * vineyard::ByteStream): a file whose size is the bytes sealed so far and
 * grows as chunks are appended. Each open file is a reader of the stream
 * (src/stream.h), moving past the chunks that end more than 1 MiB before
 * where it reads (tail reads backwards from the end first), so the
 * writer's backpressure counts it like any reader.
 *
 * A read past the sealed end is parked, never blocking a worker thread:
 * the notifier retries parked reads when the store says the stream
 * changed (STORE_EV_STREAM), and answers them with the bytes, with end of
 * file once the stream finished, or with EIO once it failed. An interrupt
 * (a reader killed, ^C) answers EINTR. Files are opened direct_io, so the
 * kernel neither caches the pages nor stops reads at a stale size.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs_int.h"
#include "log.h"
#include "meta.h"
#include "store.h"
#include "stream.h"
#include "xmalloc.h"
#include "banned.h"

/* Bytes below where it reads that an open file keeps (chunks wholly
 * before are passed): tail steps back from the end to find its lines. */
#define FS_STREAM_BACK (1u << 20)

/* Most bytes one read answers (the kernel asks for at most this much
 * without a larger max_read anyway). */
#define SREAD_MAX (1u << 20)

/* A parked read. */
struct sread {
	struct sread *next;
	fuse_req_t req;
	struct fs_file *f;   /* holds a reference */
	uint64_t off;
	size_t size;
	int registering;     /* its interrupt callback is being set */
	int intr;            /* interrupted meanwhile */
};

struct fs_streams {
	pthread_mutex_t lock;
	struct sread *parked;
	uint64_t wakes;      /* bumped at each retry round: a read that
			      * missed one while trying parks again */
};

void
fs_stream_init(struct fs *fs)
{
	fs->streams = xcalloc(1, sizeof(*fs->streams));
	pthread_mutex_init(&fs->streams->lock, NULL);
}

int
fs_stream_is(struct fs *fs, uint64_t id, uint64_t *size)
{
	struct store_stream_info si;

	if (meta_id_is_blob(id) || store_stream_info(fs->store, id, &si) ||
	    si.objects)
		return 0;
	*size = si.bytes;
	return 1;
}

int
fs_stream_open(struct fs *fs, uint64_t id, struct fs_file *f,
	       struct fuse_file_info *fi)
{
	int rc = store_stream_open_reader(fs->store, fs->owner, id, &f->rid);

	if (rc)
		return rc;
	f->sid = id;
	fi->direct_io = 1;
	fi->nonseekable = 0;
	return 0;
}

void
fs_stream_close(struct fs *fs, struct fs_file *f)
{
	if (f->rid)
		store_stream_close(fs->store, fs->owner, f->sid, f->rid);
	f->rid = 0;
}

/* One try: 1 answered (the reference on f dropped), 0 not yet. */
static int
try_read(struct fs *fs, fuse_req_t req, struct fs_file *f, uint64_t off,
	 size_t size)
{
	uint64_t total;
	size_t n, got = 0;
	char *buf;
	int rc;

	if (size > SREAD_MAX)
		size = SREAD_MAX;
	buf = xmalloc(size ? size : 1);
	/* Across chunks until size or the sealed end: a short read means
	 * the end for now, and the kernel takes it so. */
	for (;;) {
		rc = store_stream_pread(fs->store, fs->owner, f->sid, f->rid,
					off + got, FS_STREAM_BACK, buf + got,
					size - got, &n, &total);
		if (rc || n == 0)
			break;
		got += n;
		if (got == size)
			break;
	}
	if (got == 0 && rc == -EAGAIN) {
		free(buf);
		return 0;
	}
	if (got)
		fuse_reply_buf(req, buf, got);
	else if (rc == 0)
		fuse_reply_buf(req, NULL, 0); /* finished: end of file */
	else
		fuse_reply_err(req, rc == -ENODATA || rc == -EIO ? -rc : EIO);
	free(buf);
	fs_file_drop(fs, f);
	return 1;
}

/* Unlinks r from the parked list (the lock held). */
static void
unpark(struct fs_streams *ss, struct sread *r)
{
	struct sread **pp;

	for (pp = &ss->parked; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			return;
		}
}

/* The kernel gave up on a parked read (a signal). Whoever unlinks a
 * parked read answers it. While its parker is still registering this
 * callback, libfuse may call it from inside that registration, where
 * answering would free the request under libfuse's feet: then it is only
 * flagged, and the parker answers. */
static void
interrupted(fuse_req_t req, void *data)
{
	struct fs *fs = data;
	struct fs_streams *ss = fs->streams;
	struct sread *r;

	pthread_mutex_lock(&ss->lock);
	for (r = ss->parked; r; r = r->next)
		if (r->req == req)
			break;
	if (r && r->registering) {
		r->intr = 1;
		r = NULL;
	} else if (r) {
		unpark(ss, r);
	}
	pthread_mutex_unlock(&ss->lock);
	if (!r)
		return;
	fuse_reply_err(req, EINTR);
	fs_file_drop(fs, r->f);
	free(r);
}

/* Tries, then parks if nothing came and no retry round began meanwhile. */
static void
read_or_park(struct fs *fs, fuse_req_t req, struct fs_file *f, uint64_t off,
	     size_t size)
{
	struct fs_streams *ss = fs->streams;
	struct sread *r;
	uint64_t seen;
	int intr;

again:
	for (;;) {
		pthread_mutex_lock(&ss->lock);
		seen = ss->wakes;
		pthread_mutex_unlock(&ss->lock);
		if (try_read(fs, req, f, off, size))
			return;
		pthread_mutex_lock(&ss->lock);
		if (ss->wakes == seen)
			break;
		pthread_mutex_unlock(&ss->lock); /* a change came: again */
	}
	r = xcalloc(1, sizeof(*r));
	r->req = req;
	r->f = f;
	r->off = off;
	r->size = size;
	r->registering = 1;
	r->next = ss->parked;
	ss->parked = r;
	pthread_mutex_unlock(&ss->lock);
	fuse_req_interrupt_func(req, interrupted, fs);
	pthread_mutex_lock(&ss->lock);
	r->registering = 0;
	intr = r->intr;
	if (!intr && ss->wakes == seen) {
		pthread_mutex_unlock(&ss->lock);
		return; /* parked: a retry round or an interrupt answers it */
	}
	unpark(ss, r);
	pthread_mutex_unlock(&ss->lock);
	free(r);
	if (!intr)
		goto again; /* a round passed it by while registering */
	fuse_reply_err(req, EINTR);
	fs_file_drop(fs, f);
}

void
fs_stream_read(struct fs *fs, fuse_req_t req, struct fs_file *f,
	       uint64_t off, size_t size)
{
	read_or_park(fs, req, f, off, size);
}

void
fs_stream_wake(struct fs *fs)
{
	struct fs_streams *ss = fs->streams;
	struct sread *list = NULL, **pp, *r;

	pthread_mutex_lock(&ss->lock);
	ss->wakes++;
	/* take every parked read but those still registering (their
	 * parkers see the round and retry) */
	for (pp = &ss->parked; (r = *pp);) {
		if (r->registering) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		r->next = list;
		list = r;
	}
	pthread_mutex_unlock(&ss->lock);
	while ((r = list)) {
		list = r->next;
		read_or_park(fs, r->req, r->f, r->off, r->size);
		free(r);
	}
}

void
fs_stream_stop(struct fs *fs)
{
	struct fs_streams *ss = fs->streams;
	struct sread *r, *list;

	if (!ss)
		return;
	pthread_mutex_lock(&ss->lock);
	list = ss->parked;
	ss->parked = NULL;
	pthread_mutex_unlock(&ss->lock);
	while ((r = list)) {
		list = r->next;
		fuse_reply_err(r->req, EIO);
		fs_file_drop(fs, r->f);
		free(r);
	}
}

void
fs_stream_free(struct fs *fs)
{
	if (!fs->streams)
		return;
	pthread_mutex_destroy(&fs->streams->lock);
	free(fs->streams);
	fs->streams = NULL;
}
