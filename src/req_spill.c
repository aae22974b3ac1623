/*
 * req_spill: MSG_SPILL: evict objects to the spill directory, read them
 * back (optionally held in memory until released), and ask whether an
 * object is on disk only. Evicts and reads back run on the store's loader
 * thread: the reply waits for its ticket, never the event loop.
 */
#include <errno.h>
#include <stdlib.h>

#include "server_int.h"
#include "store.h"
#include "banned.h"

int
req_spill(struct conn *c, struct req *q)
{
	struct store *st = c->sv->store;
	struct cr *r = &q->r;
	uint64_t op, *ids = NULL, tk = 0;
	size_t n, k, i;
	int rc = 0, spilled = 0;

	if (cr_array(r, &n) || n != 2 || cr_uint(r, &op) || cr_array(r, &k) ||
	    k > 65536 || op > SPILL_OP_QUERY || (op == SPILL_OP_QUERY && k != 1))
		return BAD(c, MSG_SPILL, "spill");
	ids = malloc((k ? k : 1) * sizeof(*ids));
	if (!ids)
		return reply_error(c, MSG_SPILL, -ENOMEM, "out of memory");
	for (i = 0; i < k; i++)
		if (cr_uint(r, &ids[i])) {
			free(ids);
			return BAD(c, MSG_SPILL, "spill");
		}
	/* Every call checks that the peer may read each whole object first,
	 * as a get does, so nothing moves for a refused client. */
	switch (op) {
	case SPILL_OP_EVICT:
		/* The loader writes the files; the answer waits for it. */
		rc = store_evict(st, c->owner, ids, k, &tk);
		break;
	case SPILL_OP_LOAD_HOLD:
	case SPILL_OP_UNHOLD:
		rc = store_hold(st, c->owner, ids, k,
				op == SPILL_OP_LOAD_HOLD);
		if (rc || op == SPILL_OP_UNHOLD)
			break;
		/* read them back */
		/* fall through */
	case SPILL_OP_LOAD:
		/* all known and readable before any is read back */
		for (i = 0; i < k && rc == 0; i++)
			rc = store_spilled(st, c->owner, ids[i], &spilled);
		spilled = 0;
		for (i = 0; i < k && rc == 0; i++) {
			uint64_t t = 0;

			rc = store_prefetch(st, c->owner, ids[i], 0, &t);
			if (t > tk)
				tk = t;  /* the loader runs jobs in order */
		}
		break;
	default:
		rc = store_spilled(st, c->owner, ids[0], &spilled);
		break;
	}
	free(ids);
	if (rc)
		return reply_store_error(c, MSG_SPILL, rc);
	reply_begin(c->sv);
	cw_array(&c->sv->out, 1);
	cw_bool(&c->sv->out, spilled);
	return reply_durable(c, q, tk);
}
