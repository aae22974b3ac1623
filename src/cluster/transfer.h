/*
 * transfer: the daemon's side of a connection to another instance's --rpc
 * port, for fetching objects (fetch.h). Blocking, for a transfer thread:
 * every wait is bounded by the connection's timeout, so a peer that stops
 * answering is an error, never a hang. The token rule is the TCP front's:
 * the first request is a hello carrying this daemon's --rpc-token-file
 * token when it has one.
 *
 *   transfer_conn.c  connect, hello, small round trips, the tree's metadata
 *   transfer_blob.c  one blob's bytes, in pipelined checksummed chunks,
 *                    straight into a memfd of this store
 *
 * Every call returns 0 or -errno and leaves a sentence in x->err.
 */
#ifndef VY_TRANSFER_H
#define VY_TRANSFER_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

#include "store.h"

/* Bytes of one chunk request, and how many are in flight at once. */
#define XFER_CHUNK (4u << 20)
#define XFER_WINDOW 4
/* Bytes received between two checksum updates: small enough to be summed
 * while still in the cache. */
#define XFER_SLICE (256u << 10)
/* Longest wait on the peer for one step (connect, one reply's bytes). */
#define XFER_TIMEOUT_MS 15000

struct xfer {
	int fd;
	char peer[256];
	char err[480];
	uint64_t *moved; /* blob bytes received and checked are added here
			  * (atomic), or NULL */
	uint64_t *wire;  /* the same, as they came over the wire (after any
			  * compression), or NULL */
	int lz4;         /* ask for lz4-compressed chunks */
	uint8_t *zbuf;   /* a compressed chunk being received */
	size_t zcap;
	XXH3_state_t *sum; /* of the chunk being received, or NULL */
};

/* Connects to hostport ("HOST:PORT") and says hello (with token if not
 * NULL). */
int xfer_connect(struct xfer *x, const char *hostport, const char *token);
void xfer_close(struct xfer *x);
/* Breaks a connection another thread is using (it fails at once). */
void xfer_abort(struct xfer *x);

/* One request (body in req, a CBOR item) and its reply's body (malloc'd,
 * at most max bytes). An error reply is its errno with the peer's
 * sentence. */
int xfer_call(struct xfer *x, uint16_t type, const uint8_t *req,
	      size_t reqlen, size_t max, uint8_t **body, size_t *len);

/* One object of a tree as the peer stores it, and one of its blobs. */
struct xfer_obj {
	uint64_t id;
	const uint8_t *meta;
	size_t metalen;
	struct store_who who;
	const struct store_who *whop; /* &who, or NULL: the peer did not say */
};
struct xfer_blob {
	uint64_t id, len;
	struct store_who who;
	const struct store_who *whop; /* &who, or NULL: the peer did not say */
};
struct xfer_tree {
	uint8_t *body; /* the reply the entries point into */
	struct xfer_obj *objs; /* root first, each before its members */
	size_t nobjs;
	struct xfer_blob *blobs;
	size_t nblobs;
};
/* The metadata of id's tree on the peer (a get without bytes), with the
 * owner, group and mode of each object when the peer says them. */
int xfer_tree(struct xfer *x, uint64_t id, struct xfer_tree *t);
void xfer_tree_release(struct xfer_tree *t);

/* Copies blob b from the peer into this store under its id (owner ow
 * while unsealed) and seals it; on any error nothing of it is left. A
 * chunk whose checksum does not match is -EBADMSG. */
int xfer_blob(struct xfer *x, struct store *s, struct store_owner *ow,
	      const struct xfer_blob *b);

/* Between transfer_conn.c and transfer_blob.c: */
/* Sets x->err from fmt; returns rc. */
int xfer_fail(struct xfer *x, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int xfer_send_all(struct xfer *x, const void *p, size_t len);
int xfer_recv_all(struct xfer *x, void *p, size_t len);
/* Sends one request frame. */
int xfer_send_req(struct xfer *x, uint16_t type, const uint8_t *body,
		  size_t len);
/* Reads a reply's header, checks its type; an error reply is read whole
 * and returned as its errno with the peer's sentence. */
int xfer_reply_hdr(struct xfer *x, uint16_t type, uint32_t *len);

#endif
