/*
 * req_blobs: the blob requests: create (writable memfds for the client to
 * fill), seal, abort and release (id batches), and put of small blobs
 * sent inline (packed into shared segments by the store).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cborio.h"
#include "proto.h"
#include "server_int.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

/* No room for blobs of lens: the loader thread spills for them and the
 * request is parked, to run again when it is done, so other clients are
 * served meanwhile (1: parked). Room made can be taken by another put
 * before the re-run; after a few tries the create spills by itself, on
 * this thread, rather than wait on. */
int
wait_for_room(struct conn *c, const struct req *q, const uint64_t *lens,
	      size_t n)
{
	uint64_t tk;

	if (c->room_waits < 4) {
		store_make_room(c->sv->store, lens, n, &tk);
		if (tk) {
			c->room_waits++;
			conn_park_ticket(c, tk, q, 1);
			return 1;
		}
	}
	c->room_waits = 0;
	return 0;
}

int
req_blob_create(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	uint64_t *lens, *ids, *huge;
	unsigned mode;
	size_t n, i;
	int rc = 0;

	if (c->tcp)
		return TCP_REFUSE(c, MSG_BLOB_CREATE, "blob-create");
	if (cr_array(r, &n) || n != 2)
		return BAD(c, MSG_BLOB_CREATE, "blob-create");
	if ((rc = read_ids(r, &lens, &n)))
		return reply_batch_error(c, MSG_BLOB_CREATE, rc, "blob-create");
	if ((rc = read_mode(r, &mode))) {
		free(lens);
		return reply_bad_mode(c, MSG_BLOB_CREATE, rc);
	}
	if (wait_for_room(c, q, lens, n)) {
		free(lens);
		return 0;
	}
	ids = xcalloc(n, sizeof(*ids));
	huge = xcalloc(n, sizeof(*huge));
	reply_begin(sv);
	for (i = 0; i < n && rc == 0; i++) {
		int fd;

		rc = store_blob_create(sv->store, c->owner, (size_t)lens[i],
				       mode, &ids[i], &fd, &huge[i]);
		if (rc == 0)
			reply_fd(sv, fd);
	}
	if (rc) {
		char msg[320];

		snprintf(msg, sizeof(msg), "%s", store_errmsg());
		while (i-- > 1)
			store_blob_abort(sv->store, c->owner, ids[i - 1]);
		free(lens);
		free(ids);
		free(huge);
		return reply_error(c, MSG_BLOB_CREATE, rc, msg);
	}
	cw_array(&sv->out, 1);
	cw_array(&sv->out, n);
	for (i = 0; i < n; i++)
		cw_uint(&sv->out, ids[i]);
	/* After the body's array, which v5 clients read alone: how many of
	 * each memfd's first bytes are 2 MiB pages (the reserve pool's, see
	 * store_reserve.c), which a client fills fastest through a mapping
	 * aligned to them (client/lib/blob.c). */
	cw_array(&sv->out, n);
	for (i = 0; i < n; i++)
		cw_uint(&sv->out, huge[i]);
	free(lens);
	free(ids);
	free(huge);
	return reply_send(c, MSG_BLOB_CREATE, 0);
}

/* seal, abort and release: the same [[id...]] body. */
int
req_id_batch(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	uint16_t type = q->type;
	uint64_t *ids;
	size_t n, i;
	int rc = 0;

	if (cr_array(r, &n) || n != 1)
		return BAD(c, type, "id list");
	if ((rc = read_ids(r, &ids, &n)))
		return reply_batch_error(c, type, rc, "id list");
	if (type == MSG_RELEASE) {
		store_release(sv->store, c->owner, ids, n);
	} else {
		for (i = 0; i < n && rc == 0; i++)
			rc = type == MSG_BLOB_SEAL ?
				store_blob_seal(sv->store, c->owner, ids[i]) :
				store_blob_abort(sv->store, c->owner, ids[i]);
	}
	free(ids);
	if (rc)
		return reply_store_error(c, type, rc);
	if (q->flags & PROTO_F_NOREPLY)
		return 0;
	reply_begin(sv);
	cw_array(&sv->out, 0);
	return reply_send(c, type, 0);
}

int
req_blob_put(struct conn *c, struct req *q)
{
	struct server *sv = c->sv;
	struct cr *r = &q->r;
	size_t n, i;
	int rc = 0;
	uint64_t *ids;
	unsigned mode;
	struct cr check;

	if (cr_array(r, &n) || n != 2 || cr_array(r, &n))
		return BAD(c, MSG_BLOB_PUT, "blob-put");
	if (n > PROTO_MAX_BATCH)
		return reply_batch_error(c, MSG_BLOB_PUT, -E2BIG, "blob-put");
	/* All or nothing: the client learns no id when the request fails,
	 * so a bad item or a full store must not leave the blobs stored
	 * before it. Check every item first, undo on a store error. */
	check = *r;
	for (i = 0; i < n; i++) {
		const void *p;
		size_t len;

		if (cr_bytes(&check, &p, &len))
			return BAD(c, MSG_BLOB_PUT, "blob-put");
	}
	if ((rc = read_mode(&check, &mode)))
		return reply_bad_mode(c, MSG_BLOB_PUT, rc);
	ids = xcalloc(n, sizeof(*ids));
	reply_begin(sv);
	cw_array(&sv->out, 1);
	cw_array(&sv->out, n);
	for (i = 0; i < n && rc == 0; i++) {
		const void *p;
		size_t len;

		cr_bytes(r, &p, &len);
		rc = store_blob_put_small(sv->store, c->owner, p, len, mode,
					  &ids[i]);
		if (rc == 0)
			cw_uint(&sv->out, ids[i]);
	}
	if (rc) {
		char msg[320];
		size_t gone;

		snprintf(msg, sizeof(msg), "%s", store_errmsg());
		store_delete(sv->store, NULL, ids, i - 1, DELETE_F_SHALLOW,
			     &gone, NULL);
		free(ids);
		return reply_error(c, MSG_BLOB_PUT, rc, msg);
	}
	free(ids);
	return reply_send(c, MSG_BLOB_PUT, 0);
}
