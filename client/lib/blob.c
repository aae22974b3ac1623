/*
 * blob: writing blobs and mapping the ones a get returns. Large blobs are
 * filled with pwrite where the bytes already exist: on machines where page
 * faults are slow, the kernel's copy into the memfd avoids one fault per
 * page that a writable mapping would take. Except the part the daemon says
 * is made of 2 MiB pages (its reserve pool, built of huge pages even where
 * the kernel's shmem policy is never): mapped at an address congruent to
 * it modulo 2 MiB and populated, each huge page takes one page-table
 * entry, and a memcpy into it runs at ~0.9 of a warm memcpy where pwrite,
 * which copies 4 KiB at a time through the kernel, reaches ~0.55.
 * Small blobs (up to PROTO_SMALL_MAX) never leave this process until
 * sealed: they travel inline and the daemon packs them into shared
 * segments.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "client_int.h"
#include "hugemap.h"
#include "banned.h"

#define HUGE_PAGE HUGEMAP_PAGE

/* A shared mapping of fd's first len bytes at a 2 MiB-aligned address
 * (hugemap.h), populated if populate (cheap on huge pages: one entry
 * each); NULL on failure. */
static void *
map_aligned(int fd, size_t len, int prot, int populate)
{
	void *p = hugemap(fd, 0, len, prot, populate ? MAP_POPULATE : 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The mapping of the writer's huge-page prefix, made on first use; NULL
 * when it has none or it cannot be mapped (pwrite does it all then). */
static char *
writer_hmap(struct vy_writer *w)
{
	if (!w->hmap && w->huge)
		w->hmap = map_aligned(w->fd, w->huge, PROT_READ | PROT_WRITE,
					  1);
	return w->hmap;
}

void
vy__writer_free(struct vy_writer *w)
{
	if (w->fd >= 0) {
		if (w->map)
			munmap(w->map, w->len);
		if (w->hmap)
			munmap(w->hmap, w->huge);
		close(w->fd);
	} else {
		free(w->map);
	}
	free(w);
}

void
vy__writer_unmap(struct vy_writer *w)
{
	if (w->fd >= 0 && w->map) {
		munmap(w->map, w->len);
		w->map = NULL;
	}
	if (w->fd >= 0 && w->hmap) {
		munmap(w->hmap, w->huge);
		w->hmap = NULL;
	}
}

static struct vy_writer *
writer_small(size_t len)
{
	struct vy_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->len = len;
	w->fd = -1;
	w->map = calloc(1, len ? len : 1);
	if (!w->map) {
		free(w);
		return NULL;
	}
	return w;
}

/* One BLOB_CREATE for the large ones among lens; fills ws[]. */
static int
create_many(struct vy_client *c, const size_t *lens, size_t n,
	    struct vy_writer **ws)
{
	struct vy_reply rep;
	struct cr r, h;
	size_t i, k = 0, big = 0, cnt;
	int rc, hok;

	memset(ws, 0, n * sizeof(*ws));
	for (i = 0; i < n; i++) {
		if (lens[i] > PROTO_SMALL_MAX) {
			big++;
			continue;
		}
		ws[i] = writer_small(lens[i]);
		if (!ws[i]) {
			rc = vy__fail(c, -ENOMEM, "out of memory");
			goto fail;
		}
	}
	if (!big)
		return 0;
	vy__req(c);
	cw_array(&c->req, 2);
	cw_array(&c->req, big);
	for (i = 0; i < n; i++)
		if (lens[i] > PROTO_SMALL_MAX)
			cw_uint(&c->req, lens[i]);
	cw_uint(&c->req, c->mode);
	rc = vy__rt(c, MSG_BLOB_CREATE, 0, &rep);
	if (rc)
		goto fail;
	cr_init(&r, rep.body, rep.len);
	if (cr_array(&r, &cnt) || cnt != 1 || cr_array(&r, &cnt) ||
	    cnt != big || rep.nfds != (int)big) {
		vy__close_fds(c, 0);
		rc = vy__malformed(c, "blob-create");
		goto fail;
	}
	/* The huge-page prefixes after the array (daemons of version 5
	 * before them send none: pwrite all). */
	h = r;
	for (i = 0, hok = 1; i < big && hok; i++) {
		uint64_t skip;

		hok = cr_uint(&h, &skip) == 0;
	}
	hok = hok && !cr_done(&h) && cr_array(&h, &cnt) == 0 && cnt == big;
	for (i = 0; i < n; i++) {
		struct vy_writer *w;
		uint64_t hg = 0;

		if (lens[i] <= PROTO_SMALL_MAX)
			continue;
		w = calloc(1, sizeof(*w));
		if (!w || cr_uint(&r, &w->id)) {
			/* The daemon drops them when we disconnect, or: */
			free(w);
			vy__close_fds(c, (int)k);
			rc = vy__fail(c, -ENOMEM, "out of memory");
			goto fail;
		}
		w->len = lens[i];
		if (hok && cr_uint(&h, &hg))
			hok = 0;
		/* only whole 2 MiB pages inside the blob */
		if (hok && hg <= lens[i] && hg % HUGE_PAGE == 0)
			w->huge = (size_t)hg;
		w->fd = c->rfds[k];
		c->rfds[k++] = -1;
		ws[i] = w;
	}
	c->nrfds = 0;
	return 0;
fail:
	for (i = 0; i < n; i++)
		if (ws[i]) {
			vy__writer_free(ws[i]);
			ws[i] = NULL;
		}
	return rc;
}

VY_API int
vy_blob_create_many(struct vy_client *c, const size_t *lens, size_t n,
		    struct vy_writer **ws)
{
	int rc = vy__enter(c);

	if (rc)
		return rc;
	if (n > PROTO_MAX_BATCH)
		rc = vy__fail(c, -EINVAL, "at most %u blobs at once",
			      PROTO_MAX_BATCH);
	else
		rc = create_many(c, lens, n, ws);
	vy__leave(c);
	return rc;
}

VY_API int
vy_blob_create(struct vy_client *c, size_t len, struct vy_writer **w)
{
	*w = NULL;
	return vy_blob_create_many(c, &len, 1, w);
}

VY_API void *
vy_writer_data(struct vy_writer *w)
{
	if (w->fd >= 0 && !w->map) {
		void *p = MAP_FAILED;

		/* Aligned, the huge pages fault in whole; unpopulated: the
		 * caller may write only part of it. */
		if (w->huge)
			p = map_aligned(w->fd, w->len,
					PROT_READ | PROT_WRITE, 0);
		if (!p || p == MAP_FAILED)
			p = mmap(NULL, w->len, PROT_READ | PROT_WRITE,
				 MAP_SHARED, w->fd, 0);
		if (p == MAP_FAILED)
			return NULL;
		w->map = p;
	}
	return w->map;
}

VY_API size_t
vy_writer_size(const struct vy_writer *w)
{
	return w->len;
}

VY_API vy_id
vy_writer_id(const struct vy_writer *w)
{
	return w->id;
}

VY_API int
vy_writer_write(struct vy_writer *w, size_t off, const void *p, size_t len)
{
	const char *src = p;

	if (off > w->len || len > w->len - off)
		return -EINVAL;
	if (w->fd < 0 || w->map) {
		memcpy((char *)vy_writer_data(w) + off, p, len);
		return 0;
	}
	if (off < w->huge && writer_hmap(w)) {
		size_t k = w->huge - off < len ? w->huge - off : len;

		memcpy((char *)w->hmap + off, src, k);
		src += k;
		off += k;
		len -= k;
	}
	while (len) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : len;
		ssize_t n = pwrite(w->fd, src, chunk, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		src += n;
		off += (size_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends the small writers ws[from..to) that have no id yet, k of them, in
 * one request with mode, and sets their ids. */
static int
put_small_batch(struct vy_client *c, struct vy_writer **ws, size_t from,
		size_t to, size_t k, unsigned mode)
{
	struct vy_reply rep;
	struct cr r;
	size_t i, cnt;
	int rc;

	vy__req(c);
	cw_array(&c->req, 2);
	cw_array(&c->req, k);
	for (i = from; i < to; i++)
		if (ws[i]->fd < 0)
			cw_bytes(&c->req, ws[i]->map, ws[i]->len);
	cw_uint(&c->req, mode);
	rc = vy__rt(c, MSG_BLOB_PUT, 0, &rep);
	if (rc)
		return rc;
	cr_init(&r, rep.body, rep.len);
	if (cr_array(&r, &cnt) || cnt != 1 || cr_array(&r, &cnt) || cnt != k)
		goto bad;
	for (i = from; i < to; i++)
		if (ws[i]->fd < 0 && cr_uint(&r, &ws[i]->id))
			goto bad;
	return 0;
bad:
	return vy__malformed(c, "blob-put");
}

/* Bytes of inline blobs per request: far below PROTO_MAX_BODY, so that one
 * put does not take a large share of the daemon's --input-limit. */
#define PUT_SMALL_BYTES (8u << 20)

/* As many requests as the batch and size limits need: on failure, the
 * writers sent before have their ids (the caller deletes them). */
int
vy__put_small(struct vy_client *c, struct vy_writer **ws, size_t n,
	      unsigned mode)
{
	size_t i, from = 0, k = 0, bytes = 0;
	int rc;

	for (i = 0; i < n; i++) {
		if (ws[i]->fd >= 0)
			continue;
		/* 3 bytes of CBOR head per blob of at most 4095 bytes */
		if (k == PROTO_MAX_BATCH ||
		    bytes + ws[i]->len + 3 > PUT_SMALL_BYTES) {
			if ((rc = put_small_batch(c, ws, from, i, k, mode)))
				return rc;
			from = i;
			k = 0;
			bytes = 0;
		}
		k++;
		bytes += ws[i]->len + 3;
	}
	return k ? put_small_batch(c, ws, from, n, k, mode) : 0;
}

/* Seals the large writers in one request. Unmaps first: the kernel refuses
 * to seal a memfd that still has a writable mapping. */
int
vy__seal_big(struct vy_client *c, struct vy_writer **ws, size_t n)
{
	struct vy_reply rep;
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (ws[i]->fd >= 0) {
			k++;
			vy__writer_unmap(ws[i]);
		}
	if (!k)
		return 0;
	vy__req(c);
	cw_array(&c->req, 1);
	cw_array(&c->req, k);
	for (i = 0; i < n; i++)
		if (ws[i]->fd >= 0)
			cw_uint(&c->req, ws[i]->id);
	return vy__rt(c, MSG_BLOB_SEAL, 0, &rep);
}

void
vy__abort_big(struct vy_client *c, struct vy_writer *w)
{
	struct vy_reply rep;

	if (w->fd < 0 || c->broken)
		return;
	vy__req(c);
	cw_array(&c->req, 1);
	cw_array(&c->req, 1);
	cw_uint(&c->req, w->id);
	vy__rt(c, MSG_BLOB_ABORT, 0, &rep);
}

VY_API int
vy_blob_seal(struct vy_client *c, struct vy_writer *w, vy_id *id)
{
	int rc = vy__enter(c);

	if (rc) {
		vy__writer_free(w);
		return rc;
	}
	rc = w->fd < 0 ? vy__put_small(c, &w, 1, c->mode) :
			 vy__seal_big(c, &w, 1);
	if (rc == 0 && id)
		*id = w->id;
	if (rc && w->fd >= 0) {
		char saved[sizeof(c->err)];

		memcpy(saved, c->err, sizeof(saved));
		vy__abort_big(c, w);
		memcpy(c->err, saved, sizeof(saved));
	}
	vy__leave(c);
	vy__writer_free(w);
	return rc;
}

VY_API void
vy_blob_abort(struct vy_client *c, struct vy_writer *w)
{
	if (!w)
		return;
	if (vy__enter(c) == 0) {
		vy__abort_big(c, w);
		vy__leave(c);
	}
	vy__writer_free(w);
}

VY_API int
vy_put_blob(struct vy_client *c, const void *data, size_t len, vy_id *id)
{
	struct vy_writer *w;
	int rc;

	if (c->tcp) {	/* no descriptors: the bytes go by copy */
		if ((rc = vy__enter(c)))
			return rc;
		rc = vy__put_copy(c, data, len, id);
		vy__leave(c);
		return rc;
	}
	if (len <= PROTO_SMALL_MAX) {
		struct vy_writer tmp = { 0, len, -1, (void *)(uintptr_t)data,
					  0, NULL };
		struct vy_writer *tp = &tmp;

		rc = vy__enter(c);
		if (rc)
			return rc;
		rc = vy__put_small(c, &tp, 1, c->mode);
		if (rc == 0)
			*id = tmp.id;
		vy__leave(c);
		return rc;
	}
	rc = vy_blob_create(c, len, &w);
	if (rc)
		return rc;
	rc = vy_writer_write(w, 0, data, len);
	if (rc) {
		vy_blob_abort(c, w);
		return vy__fail(c, rc, "writing the blob: %s", strerror(-rc));
	}
	return vy_blob_seal(c, w, id);
}

VY_API int
vy_writer_write_fd(struct vy_writer *w, size_t off, int fd, size_t len)
{
	size_t done = 0;
	char *buf;

	if (off > w->len || len > w->len - off)
		return -EINVAL;
	/* The huge-page prefix: read straight into its mapping. */
	if (w->fd >= 0 && !w->map && off < w->huge && writer_hmap(w)) {
		size_t k = w->huge - off < len ? w->huge - off : len;

		while (done < k) {
			ssize_t n = read(fd, (char *)w->hmap + off + done,
					 k - done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -ENODATA;
			done += (size_t)n;
		}
		if (done == len)
			return 0;
	}
	if (w->fd >= 0 && !w->map) {
		off_t pos = (off_t)(off + done);

		/* sendfile writes at the output's file offset. */
		if (lseek(w->fd, pos, SEEK_SET) < 0)
			return -errno;
		while (done < len) {
			ssize_t n = sendfile(w->fd, fd, NULL, len - done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				return -ENODATA;
			if (n < 0)
				break; /* input sendfile cannot read: copy */
			done += (size_t)n;
		}
		if (done == len)
			return 0;
	}
	buf = malloc(1u << 20);
	if (!buf)
		return -ENOMEM;
	while (done < len) {
		size_t want = len - done > (1u << 20) ? (1u << 20) : len - done;
		ssize_t n = read(fd, buf, want);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return n < 0 ? -errno : -ENODATA;
		}
		rc = vy_writer_write(w, off + done, buf, (size_t)n);
		if (rc) {
			free(buf);
			return rc;
		}
		done += (size_t)n;
	}
	free(buf);
	return 0;
}

VY_API int
vy_put_blob_fd(struct vy_client *c, int fd, size_t len, vy_id *id)
{
	struct vy_writer *w;
	int rc = vy_blob_create(c, len, &w);

	if (rc)
		return rc;
	rc = vy_writer_write_fd(w, 0, fd, len);
	if (rc) {
		vy_blob_abort(c, w);
		if (rc == -ENODATA)
			return vy__fail(c, -EIO, "input ended before %zu bytes "
					"(did the file shrink?)", len);
		return vy__fail(c, rc, "reading the input: %s", strerror(-rc));
	}
	return vy_blob_seal(c, w, id);
}

/* ---- mappings of blobs got from the store ---- */

int
vy__map_blob(struct vy_client *c, uint64_t id, uint64_t len, int kind,
	     int fd, uint64_t seg, uint64_t off, const void **data)
{
	struct vy_mapping *m = idtab_get(&c->maps, id);

	if (kind == BLOB_KIND_SEGMENT) {
		if (seg >= c->nsegs) {
			size_t k = seg + 8;
			void **v;

			if (seg > (1u << 24))
				return -EPROTO;
			v = realloc(c->segs, k * sizeof(*v));
			if (!v)
				return -ENOMEM;
			memset(v + c->nsegs, 0, (k - c->nsegs) * sizeof(*v));
			c->segs = v;
			c->nsegs = k;
		}
		/* A descriptor for a slot already mapped: the daemon gave
		 * that segment back and put a new one in its slot (no blob we
		 * hold was in the old one), so the new one replaces it. */
		if (fd >= 0) {
			void *p = mmap(NULL, PROTO_SEG_SIZE, PROT_READ,
				       MAP_SHARED, fd, 0);

			if (p == MAP_FAILED)
				return -errno;
			if (c->segs[seg])
				munmap(c->segs[seg], PROTO_SEG_SIZE);
			c->segs[seg] = p;
		} else if (!c->segs[seg]) {
			return -EPROTO;
		}
		if (off > PROTO_SEG_SIZE || len > PROTO_SEG_SIZE - off)
			return -EPROTO;
		*data = (const char *)c->segs[seg] + off;
	} else if (m) {
		*data = m->addr;
	} else {
		void *p;

		if (fd < 0 && len)
			return -ESTALE; /* not mapped here after all: retry */
		if (fd < 0 || len == 0)
			return -EPROTO;
		/* Aligned, a blob's huge pages (the reserve pool's, or all
		 * of them under a shmem policy that allows them) fault in
		 * with one entry each: reading it all is ~2x faster. */
		p = len >= HUGE_PAGE ?
		    map_aligned(fd, len, PROT_READ, 0) : NULL;
		if (!p)
			p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return -errno;
		*data = p;
		m = calloc(1, sizeof(*m));
		if (m)
			m->id = id; /* the key: set before the insert */
		if (!m || idtab_put(&c->maps, m)) {
			free(m);
			munmap(p, len);
			return -ENOMEM;
		}
		m->addr = p;
		m->len = len;
		m->refs = 1;
		return 0;
	}
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (m)
			m->id = id; /* the key: set before the insert */
		if (!m || idtab_put(&c->maps, m)) {
			free(m);
			return -ENOMEM;
		}
		m->len = len;
	}
	m->refs++;
	return 0;
}

void
vy__unmap_blobs(struct vy_client *c, const uint64_t *ids, size_t n)
{
	struct vy_reply rep;
	size_t i, big = 0;

	for (i = 0; i < n; i++) {
		struct vy_mapping *m = idtab_get(&c->maps, ids[i]);

		if (m && m->addr)
			big++;
		if (!m || --m->refs)
			continue;
		if (m->addr)
			munmap(m->addr, m->len);
		idtab_del(&c->maps, ids[i]);
		free(m);
	}
	if (!n || c->broken)
		return;
	/* Only small blobs: queue, to ride with the next request. */
	if (!big && c->npending + n <= 1024) {
		if (c->npending + n > c->pendcap) {
			size_t cap = c->npending + n < 64 ? 64 :
				     2 * (c->npending + n);
			uint64_t *p = realloc(c->pending, cap * sizeof(*p));

			if (p) {
				c->pending = p;
				c->pendcap = cap;
			}
		}
		if (c->npending + n <= c->pendcap) {
			memcpy(c->pending + c->npending, ids, n * sizeof(*ids));
			c->npending += n;
			return;
		}
	}
	/* A tree may hold more blobs than one request may name. */
	if (n + c->npending > PROTO_MAX_BATCH)
		vy__flush_releases(c);
	while (n > 0) {
		size_t k = n < PROTO_MAX_BATCH - c->npending ? n :
			   PROTO_MAX_BATCH - c->npending;

		vy__req(c);
		cw_array(&c->req, 1);
		cw_array(&c->req, k + c->npending);
		for (i = 0; i < k; i++)
			cw_uint(&c->req, ids[i]);
		for (i = 0; i < c->npending; i++)
			cw_uint(&c->req, c->pending[i]);
		c->npending = 0;
		vy__rt(c, MSG_RELEASE, PROTO_F_NOREPLY, &rep);
		ids += k;
		n -= k;
	}
}

void
vy__unmap_all(struct vy_client *c)
{
	struct vy_mapping *m;
	size_t pos = 0, i;

	while ((m = idtab_next(&c->maps, &pos))) {
		if (m->addr)
			munmap(m->addr, m->len);
		free(m);
	}
	idtab_release(&c->maps);
	for (i = 0; i < c->nsegs; i++)
		if (c->segs[i])
			munmap(c->segs[i], PROTO_SEG_SIZE);
	free(c->segs);
	c->segs = NULL;
	c->nsegs = 0;
}
