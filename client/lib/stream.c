/*
 * stream: streams of sealed chunks (vineyard.h, STREAMS in libvineyard(3)):
 * create, open a writer or a reader, write chunks (byte streams: a blob the
 * daemon creates once there is room under its threshold, filled here and
 * sealed by the append) or append objects, end, read chunks in order,
 * close. Waits happen in the daemon (the request is parked), so a reader
 * blocked here is one request in flight, nothing polled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client_int.h"
#include "object_int.h"
#include "banned.h"

struct vy_stream {
	vy_id id;
	uint64_t rid;       /* reader id, 0 for the writer */
	int writer;
	int objects;
	int ended;          /* the writer finished or failed it */
	char typename[256];
	/* byte streams: the chunk being written */
	vy_id chunk;
	int fd;
	void *map;          /* vy_stream_next_chunk's buffer (ours) */
	size_t len;
	void *buf;          /* that buffer, kept for the next chunk */
	size_t bufcap;
	/* the next chunk, given with the last append (its size) */
	vy_id spare;
	int spare_fd;
	size_t spare_len;
};

/* A client's "forever" as the daemon takes it. */
static uint64_t
wait_of(int timeout_ms)
{
	return timeout_ms < 0 ? (1ull << 40) : (uint64_t)timeout_ms;
}

VY_API int
vy_stream_create(struct vy_client *c, const char *typename, int objects,
		 const char *name, vy_id *id)
{
	struct vy_reply rep;
	int rc = vy__enter(c);

	if (rc)
		return rc;
	if (!typename || !*typename || strlen(typename) > 255) {
		rc = vy__fail(c, -EINVAL, "a stream's typename is 1-255 bytes");
		goto out;
	}
	if (name && (rc = vy__check_name(c, name)))
		goto out;
	vy__req(c);
	cw_array(&c->req, 4);
	cw_str(&c->req, typename);
	cw_bool(&c->req, objects != 0);
	vy__str_or_null(&c->req, name);
	cw_uint(&c->req, c->mode); /* vy_set_mode's, as puts */
	rc = vy__rt(c, MSG_STREAM_CREATE, 0, &rep);
	if (rc == 0)
		rc = vy__reply_uint(c, &rep, "stream-create", id);
out:
	vy__leave(c);
	return rc;
}

static int
open_stream(struct vy_client *c, vy_id id, const char *name, int write,
	    int timeout_ms, struct vy_stream **out)
{
	struct vy_stream *s;
	struct vy_reply rep;
	struct cr r;
	const char *tn;
	size_t n, tl;
	int rc = vy__enter(c), objects;

	*out = NULL;
	if (rc)
		return rc;
	if (name && (rc = vy__check_name(c, name)))
		goto out;
	vy__req(c);
	cw_array(&c->req, 4);
	cw_uint(&c->req, name ? 0 : id);
	vy__str_or_null(&c->req, name);
	cw_bool(&c->req, write);
	cw_uint(&c->req, name ? wait_of(timeout_ms) : 0);
	rc = vy__rt(c, MSG_STREAM_OPEN, 0, &rep);
	if (rc)
		goto out;
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = vy__fail(c, -ENOMEM, "out of memory");
		goto out;
	}
	cr_init(&r, rep.body, rep.len);
	if (cr_array(&r, &n) || n != 4 || cr_uint(&r, &s->id) ||
	    cr_uint(&r, &s->rid) || cr_str(&r, &tn, &tl) ||
	    tl >= sizeof(s->typename) || cr_bool(&r, &objects)) {
		free(s);
		rc = vy__malformed(c, "stream-open reply");
		goto out;
	}
	memcpy(s->typename, tn, tl);
	s->typename[tl] = 0;
	s->objects = objects;
	s->writer = write;
	s->fd = -1;
	s->spare_fd = -1;
	*out = s;
out:
	vy__leave(c);
	return rc;
}

VY_API int
vy_stream_open_writer(struct vy_client *c, vy_id id, const char *name,
		      int timeout_ms, struct vy_stream **s)
{
	return open_stream(c, id, name, 1, timeout_ms, s);
}

VY_API int
vy_stream_open_reader(struct vy_client *c, vy_id id, const char *name,
		      int timeout_ms, struct vy_stream **s)
{
	return open_stream(c, id, name, 0, timeout_ms, s);
}

VY_API vy_id
vy_stream_id(const struct vy_stream *s)
{
	return s->id;
}

VY_API const char *
vy_stream_typename(const struct vy_stream *s)
{
	return s->typename;
}

VY_API int
vy_stream_is_objects(const struct vy_stream *s)
{
	return s->objects;
}

static int
check_writer(struct vy_client *c, struct vy_stream *s)
{
	if (!s->writer)
		return vy__fail(c, -EINVAL, "this handle is a reader; open the "
				"stream for writing");
	if (s->ended)
		return vy__fail(c, -EINVAL, "the stream has ended");
	return 0;
}

static void
spare_drop(struct vy_stream *s)
{
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	s->spare_fd = -1;
	s->spare = 0;
	s->spare_len = 0;
}

/* Asks the daemon for a chunk of len bytes: its id and writable fd (or
 * takes the spare the last append brought, when it is that size). */
static int
new_chunk(struct vy_client *c, struct vy_stream *s, size_t len,
	  int timeout_ms)
{
	struct vy_reply rep;
	int rc;

	if (s->chunk)
		return vy__fail(c, -EBUSY, "append the chunk being written "
				"first");
	if (len == 0)
		return vy__fail(c, -EINVAL, "a stream chunk needs at least one "
				"byte");
	if (s->spare && s->spare_len == len) {
		s->chunk = s->spare;
		s->fd = s->spare_fd;
		s->len = len;
		s->spare = 0;
		s->spare_fd = -1;
		return 0;
	}
	/* a spare of another size: the daemon replaces it with this one */
	spare_drop(s);
	vy__req(c);
	cw_array(&c->req, 3);
	cw_uint(&c->req, s->id);
	cw_uint(&c->req, len);
	cw_uint(&c->req, wait_of(timeout_ms));
	rc = vy__rt(c, MSG_STREAM_CHUNK, 0, &rep);
	if (rc)
		return rc;
	if (rep.nfds != 1) {
		vy__close_fds(c, 0);
		return vy__malformed(c, "stream-chunk reply");
	}
	rc = vy__reply_uint(c, &rep, "stream-chunk", &s->chunk);
	if (rc) {
		vy__close_fds(c, 0);
		return rc;
	}
	s->fd = c->rfds[0];
	c->nrfds = 0; /* ours now */
	s->len = len;
	return 0;
}

static void
chunk_drop(struct vy_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->map = NULL;
	s->fd = -1;
	s->chunk = 0;
	s->len = 0;
}

VY_API int
vy_stream_next_chunk(struct vy_client *c, struct vy_stream *s, size_t len,
		     int timeout_ms, void **data)
{
	int rc = vy__enter(c);

	*data = NULL;
	if (rc)
		return rc;
	/* The chunk is filled in a buffer of ours and copied into the
	 * memfd at the append: a memfd written through a mapping makes the
	 * kernel's seal wait up to 100 ms per chunk for the pages the
	 * unmap leaves pinned in per-CPU caches (memfd_wait_for_pins). */
	if ((rc = check_writer(c, s)) == 0 && len > s->bufcap) {
		void *nb = malloc(len);

		if (!nb) {
			rc = vy__fail(c, -ENOMEM, "out of memory for a chunk "
				      "of %zu bytes", len);
		} else {
			free(s->buf);
			s->buf = nb;
			s->bufcap = len;
		}
	}
	if (rc == 0 && (rc = new_chunk(c, s, len, timeout_ms)) == 0)
		s->map = *data = s->buf;
	vy__leave(c);
	return rc;
}

/* Copies len bytes into the chunk's memfd: pwrite, no page fault per page
 * (as for blobs, blob.c); on failure the chunk is given up. */
static int
put_bytes(struct vy_client *c, struct vy_stream *s, const char *p,
	  size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t k = len - off > (1u << 30) ? (1u << 30) : len - off;
		ssize_t n = pwrite(s->fd, p + off, k, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = vy__fail(c, n < 0 ? -errno : -EIO, "writing a "
					  "chunk: %s", n < 0 ? strerror(errno) :
					  "short write");

			chunk_drop(s);
			return rc;
		}
		off += (size_t)n;
	}
	return 0;
}

static int
append(struct vy_client *c, struct vy_stream *s, vy_id id, int timeout_ms)
{
	struct vy_reply rep;
	struct cr r;
	uint64_t next = 0;
	size_t n;
	int rc, own;

	if (id == 0) {
		if (!s->chunk)
			return vy__fail(c, -EINVAL, "no chunk being written "
					"(vy_stream_next_chunk)");
		id = s->chunk;
		if (s->map) {
			rc = put_bytes(c, s, s->map, s->len);
			s->map = NULL;
			if (rc)
				return rc;
		}
	} else if (!s->objects) {
		return vy__fail(c, -EINVAL, "a byte stream takes the chunks "
				"of vy_stream_next_chunk only");
	}
	/* A byte stream's writer asks for the next chunk, of this one's
	 * size, in the same round trip (the daemon gives it when there is
	 * room at once). */
	own = id == s->chunk;
	vy__req(c);
	cw_array(&c->req, own ? 4 : 3);
	cw_uint(&c->req, s->id);
	cw_uint(&c->req, id);
	cw_uint(&c->req, wait_of(timeout_ms));
	if (own)
		cw_uint(&c->req, s->len);
	rc = vy__rt(c, MSG_STREAM_APPEND, 0, &rep);
	if (rc)
		return rc;
	cr_init(&r, rep.body, rep.len);
	if (cr_array(&r, &n) || n > 1 || (n == 1 && (!own || rep.nfds != 1 ||
						  cr_uint(&r, &next)))) {
		vy__close_fds(c, 0);
		return vy__malformed(c, "stream-append reply");
	}
	if (n == 0 && rep.nfds) {
		vy__close_fds(c, 0);
		return vy__malformed(c, "stream-append reply");
	}
	if (own) {
		size_t len = s->len;

		chunk_drop(s);
		if (n == 1) {
			s->spare = next;
			s->spare_fd = c->rfds[0];
			s->spare_len = len;
			c->nrfds = 0; /* ours now */
		}
	}
	return 0;
}

VY_API int
vy_stream_append(struct vy_client *c, struct vy_stream *s, vy_id id,
		 int timeout_ms)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	if ((rc = check_writer(c, s)) == 0)
		rc = append(c, s, id, timeout_ms);
	vy__leave(c);
	return rc;
}

VY_API int
vy_stream_write(struct vy_client *c, struct vy_stream *s, const void *data,
		size_t len, int timeout_ms)
{
	const char *p = data;
	int rc = vy__enter(c);

	if (rc)
		return rc;
	if ((rc = check_writer(c, s)) || (rc = new_chunk(c, s, len,
							  timeout_ms)))
		goto out;
	if ((rc = put_bytes(c, s, p, len)) == 0)
		rc = append(c, s, 0, timeout_ms);
out:
	vy__leave(c);
	return rc;
}

static int
end_stream(struct vy_client *c, struct vy_stream *s, int failed,
	   const char *why)
{
	struct vy_reply rep;
	char buf[240];
	int rc;

	if ((rc = check_writer(c, s)))
		return rc;
	chunk_drop(s);
	spare_drop(s); /* the daemon frees it as the stream ends */
	vy__req(c);
	cw_array(&c->req, 3);
	cw_uint(&c->req, s->id);
	cw_bool(&c->req, failed);
	if (failed && why) {
		snprintf(buf, sizeof(buf), "%s", why);
		cw_str(&c->req, buf);
	} else {
		cw_null(&c->req);
	}
	rc = vy__rt(c, MSG_STREAM_END, 0, &rep);
	if (rc == 0)
		s->ended = 1;
	return rc;
}

VY_API int
vy_stream_finish(struct vy_client *c, struct vy_stream *s)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	rc = end_stream(c, s, 0, NULL);
	vy__leave(c);
	return rc;
}

VY_API int
vy_stream_fail(struct vy_client *c, struct vy_stream *s, const char *why)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	rc = end_stream(c, s, 1, why);
	vy__leave(c);
	return rc;
}

VY_API int
vy_stream_read(struct vy_client *c, struct vy_stream *s, int timeout_ms,
	       struct vy_object **o)
{
	struct vy_reply rep;
	struct cr r;
	uint64_t root;
	size_t n;
	int rc = vy__enter(c);

	*o = NULL;
	if (rc)
		return rc;
	if (s->writer) {
		rc = vy__fail(c, -EINVAL, "this handle is the writer; open a "
			      "reader");
		goto out;
	}
	vy__req(c);
	cw_array(&c->req, 3);
	cw_uint(&c->req, s->id);
	cw_uint(&c->req, s->rid);
	cw_uint(&c->req, wait_of(timeout_ms));
	rc = vy__rt(c, MSG_STREAM_READ, 0, &rep);
	if (rc)
		goto out;
	cr_init(&r, rep.body, rep.len);
	if (cr_array(&r, &n) || n != 3 || cr_uint(&r, &root)) {
		vy__close_fds(c, 0);
		rc = vy__malformed(c, "stream-read reply");
		goto out;
	}
	if (root == 0) /* the end */
		vy__close_fds(c, 0);
	else
		rc = vy__get_reply(c, &rep, 0, o);
out:
	vy__leave(c);
	return rc;
}

VY_API int
vy_stream_close(struct vy_client *c, struct vy_stream *s)
{
	struct vy_reply rep;
	int rc;

	if (!s)
		return 0;
	chunk_drop(s);
	spare_drop(s);
	free(s->buf);
	rc = vy__enter(c);
	if (rc == 0) {
		vy__req(c);
		cw_array(&c->req, 2);
		cw_uint(&c->req, s->id);
		cw_uint(&c->req, s->writer ? 0 : s->rid);
		/* a writer that ended has nothing left to close */
		if (!(s->writer && s->ended))
			rc = vy__rt(c, MSG_STREAM_CLOSE, 0, &rep);
		vy__leave(c);
	}
	free(s);
	return rc;
}

VY_API int
vy_stream_info(struct vy_client *c, vy_id id, const char *name,
	       struct vy_stream_info *info)
{
	struct vy_reply rep;
	struct cr r;
	const char *tn, *why;
	size_t n, tl, wl;
	uint64_t state;
	int rc = vy__enter(c);

	memset(info, 0, sizeof(*info));
	if (rc)
		return rc;
	if (name && (rc = vy__check_name(c, name)))
		goto out;
	vy__req(c);
	cw_array(&c->req, 2);
	cw_uint(&c->req, name ? 0 : id);
	vy__str_or_null(&c->req, name);
	rc = vy__rt(c, MSG_STREAM_INFO, 0, &rep);
	if (rc)
		goto out;
	cr_init(&r, rep.body, rep.len);
	if (cr_array(&r, &n) || n != 12 || cr_uint(&r, &info->id) ||
	    cr_str(&r, &tn, &tl) || tl >= sizeof(info->typename) ||
	    cr_bool(&r, &info->objects) || cr_uint(&r, &state) ||
	    cr_bool(&r, &info->writer) || cr_uint(&r, &info->readers) ||
	    cr_uint(&r, &info->appended) || cr_uint(&r, &info->first) ||
	    cr_uint(&r, &info->held) || cr_uint(&r, &info->held_bytes) ||
	    cr_uint(&r, &info->bytes) || cr_str(&r, &why, &wl)) {
		rc = vy__malformed(c, "stream-info reply");
		goto out;
	}
	memcpy(info->typename, tn, tl);
	info->state = (int)state;
	snprintf(info->why, sizeof(info->why), "%.*s", (int)wl, why);
out:
	vy__leave(c);
	return rc;
}
