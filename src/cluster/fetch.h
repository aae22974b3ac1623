/*
 * fetch: objects of other instances copied here on demand. A fetch of an
 * object id finds the instance that published it (through the node's view
 * of the cluster) and runs one transfer on a thread of its own: the tree's
 * metadata, then every blob this store lacks (transfer.h), then the
 * composite objects, all under their own ids (store_adopt.c). Everything
 * or nothing: a failed transfer leaves no object and gives its memory
 * back. Any number of requests for one object share one transfer.
 *
 * Completions are tickets: fetch_start hands one out, fetch_fd() becomes
 * readable when some finished, and fetch_done_next() gives each
 * finished ticket once, on the loop's thread. Any other thread may
 * instead block in fetch_wait.
 */
#ifndef VY_FETCH_H
#define VY_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct node;
struct fetch;

/* Tickets have this bit, so they never equal the store's disk tickets. */
#define FETCH_TICKET_BIT (1ull << 63)

/* token: what this daemon presents to other instances' TCP fronts (its
 * own --rpc-token-file), or NULL; lz4: ask them for compressed chunks
 * (--transfer-compression lz4). */
struct fetch *fetch_new(struct store *s, struct node *n, const char *token,
			int lz4);
/* Breaks the transfers running, waits for their threads, frees. */
void fetch_free(struct fetch *f);

/* Starts (or joins) the transfer of id: 0 with *ticket; -ENOENT when no
 * instance published id; else an error with a sentence in msg (its
 * instance is gone: -EREMOTE; it has no --rpc: -EHOSTUNREACH). */
int fetch_start(struct fetch *f, uint64_t id, uint64_t *ticket, char *msg,
		size_t len);
/* The same, then blocks until that transfer ended and gives its result
 * (0 or -errno, and the sentence): for threads other than the loop's (the
 * mount's workers). -ECANCELED once *stop (read atomically; may be NULL)
 * is set or the fetch is being freed; looked at every 200 ms. Its ticket
 * still reaches fetch_done_next, after the last such waiter read it. */
int fetch_wait(struct fetch *f, uint64_t id, const int *stop, char *msg,
	       size_t len);
int fetch_fd(const struct fetch *f);
/* 1 with a finished ticket, its result (0 or -errno) and sentence; 0 when
 * none is left. */
int fetch_done_next(struct fetch *f, uint64_t *ticket, int *rc, char *msg,
		    size_t len);

/* Figures for status. */
struct fetch_figures {
	uint64_t active;   /* transfers in flight */
	uint64_t done;     /* finished whole */
	uint64_t failed;
	uint64_t bytes;    /* blob bytes received, all transfers */
	uint64_t wire;     /* the same as they came over the wire */
};
void fetch_figures(struct fetch *f, struct fetch_figures *out);

#endif
