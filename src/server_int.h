/*
 * server_int: what the files of the socket front share, and nothing outside
 * them includes: the server and connection state, the request a handler
 * gets, and the calls between the files:
 *
 *   server.c        listening, accepting, the dispatch table, waking
 *                   parked requests (name waits, disk tickets)
 *   server_conn.c   one connection's framing: input buffer, output queue
 *                   with descriptor passing, parking, close
 *   server_reply.c  building replies and reading request fields
 *   server_blobmap.c  blob bytes sent by copy from a mapping kept for
 *                   the requests that follow
 *   req_session.c   hello and status
 *   req_blobs.c     blob create, seal, abort, release, small-blob put
 *   req_objects.c   object put, get, delete, list, persist, meta
 *   req_names.c     name put, get (with waits), drop, list
 *   req_cluster.c   the cluster's instances and published objects, global puts
 *   req_spill.c     evict, load, hold and query spilled objects
 *   req_streams.c   streams: create, open, chunks, append, end, read
 *   req_transfer.c  objects between instances: chunks served, migrate
 */
#ifndef VY_SERVER_INT_H
#define VY_SERVER_INT_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cborio.h"
#include "proto.h"
#include "server.h"

struct chunk {
	struct chunk *next;
	uint8_t *buf;       /* NULL: len bytes of srcfd from srcoff instead */
	struct blobmap *map; /* buf lies in this blob mapping: a reference,
			      * dropped once sent (buf is not freed) */
	int srcfd;          /* dup'ed; closed once sent */
	uint64_t srcoff;
	size_t len, off;
	int *fds; /* dup'ed; closed once sent */
	int nfds;
};

struct conn {
	struct server *sv;
	int fd;
	struct loop_watch *watch;
	struct store_owner *owner;
	char label[48];
	uint8_t *in;       /* received bytes not yet handled */
	size_t inlen, incap;
	struct chunk *out, *out_tail;
	uint32_t *segs;    /* segs[i]: generation of slot i's segment whose fd
			    * was sent (0: none); a new one is sent anew */
	size_t nsegs;
	/* A parked request waiting for a name (NAME_GET or GET). */
	int waiting;
	uint16_t wait_type;
	uint8_t *wait_body;
	size_t wait_len;
	uint64_t wait_deadline; /* loop_now_ms() */
	uint32_t events;        /* what the loop watches for */
	char wait_name[256];
	/* persistence: parked on a store ticket (disk work) */
	uint64_t ticket;        /* 0 = not parked */
	uint16_t tk_type;       /* the request's type */
	uint8_t *tk_held;       /* reply to send when done, or NULL: re-run */
	size_t tk_len;          /* bytes of tk_held or tk_body */
	uint8_t *tk_body;       /* the request to re-run */
	uint64_t tk_undo;       /* put with persist: deleted if it fails */
	int tk_quiet;           /* the request asked for no reply */
	int room_waits;         /* blob-create re-runs after spilling for room */
	int quiet;              /* handling a no-reply request: send nothing */
	/* the TCP front (server_tcp.c) */
	int tcp;                /* no descriptor passing on this one */
	int authed;             /* token checked (or none needed) */
	uint64_t wid;           /* blob being written by copy, or 0 */
	int wfd;                /* its read-write descriptor (the store's) */
	uint64_t wlen;          /* its length */
	struct blobmap *map;    /* the blob last read by copy, mapped while
				 * its reads go on (server_blobmap.c) */
	struct conn *prev, *next;
};

struct server {
	struct store *store;
	struct loop *loop;
	struct server_cfg cfg;
	char *socket_path;
	int lfd;
	int spare_fd;           /* /dev/null, given up to refuse a client when
				 * the daemon has no descriptor left */
	int refusing;           /* logged that it has none, until one frees */
	struct loop_watch *lwatch;
	struct conn conns;      /* list head */
	size_t nconns;
	uint64_t inbytes;       /* input buffers of all connections (atomic:
				 * status is read from the FUSE threads) */
	size_t nwaiting;
	int names_changed;      /* set by the store watcher */
	int streams_changed;    /* likewise, for parked stream requests
				 * (atomic: FUSE readers of streams set it) */
	pthread_t thread;       /* the loop's */
	int wake_fd;            /* eventfd: another thread changed a stream */
	struct loop_watch *wwatch;
	struct loop_watch *dwatch; /* the store's done eventfd */
	struct loop_watch *fwatch; /* fetches finished (cfg.fetch) */
	int tfd;                /* TCP listening socket, or -1 */
	struct loop_watch *twatch;
	char *token;            /* what TCP clients must present, or NULL */
	time_t started;
	/* scratch for replies */
	struct cw out, objs, blobs;
	int *fds;
	size_t nfds, fdcap;
};

/* One request as its handler sees it. */
struct req {
	uint16_t type;
	uint32_t flags;        /* the header's request flags (PROTO_F_*) */
	const uint8_t *body;   /* kept to re-run it after a wait */
	size_t len;
	int final;             /* a parked request's last try (timed out) */
	struct cr r;           /* reads the body from its start */
};

/* A handler answers (or parks) its request; -1 closes the connection. */
typedef int req_fn(struct conn *c, struct req *q);

/* The handlers, one per PROTO_TYPES handler token (src/wire/proto.h). */
#define REQ_DECLARE_(sym, num, name, handler) req_fn req_##handler;
PROTO_TYPES(REQ_DECLARE_)
#undef REQ_DECLARE_

/* Out of descriptors: accept one waiting client on lfd with the spare
 * descriptor, tell it why, close it (server.c). -1 if none could be. */
int server_refuse(struct server *sv, int lfd);
/* server.c: runs one request through the dispatch table. */
int server_dispatch(struct conn *c, uint16_t type, uint32_t flags,
		    const uint8_t *body, size_t len, int final);

/* req_objects.c: the reply of a get of id (MSG_GET's layout), its blobs
 * pinned for c; also a stream's next chunk. */
int reply_tree(struct conn *c, uint16_t type, uint64_t id, unsigned flags);

/* server_tcp.c: before dispatching a TCP connection's request; -1 when
 * refused (the reply is sent; the caller closes). */
int server_tcp_check(struct conn *c, uint16_t type, const uint8_t *body,
		     size_t len);
/* Refuses a request that needs descriptor passing on a TCP connection. */
#define TCP_REFUSE(c, type, what)                                        \
	reply_error(c, type, -EOPNOTSUPP, what " needs the daemon's UNIX "  \
		    "socket (descriptor passing); over TCP, bytes go by copy")

/* server_conn.c */
/* tcp_label: NULL for a client of the UNIX socket, whose credentials the
 * kernel gives; else the TCP client's label, and it is anonymous. */
struct conn *conn_new(struct server *sv, int fd, const char *tcp_label);
void conn_close(struct conn *c);
/* Runs the frames buffered in c->in until blocked or out of input;
 * -1 when it closed (and freed) c. */
int conn_process(struct conn *c);
/* Watches for input only while nothing is queued or parked. */
void conn_update_events(struct conn *c);
/* Sends buf with fds, queueing what the socket does not take now;
 * -1 if the peer is gone. */
int conn_send(struct conn *c, const uint8_t *buf, size_t len,
	      const int *fds, int nfds);
/* Sends buf, then len bytes of the sealed file srcfd from off with
 * sendfile (no copy through user space), queueing what the socket does
 * not take now; -1 if the peer is gone. */
int conn_send_file(struct conn *c, const uint8_t *buf, size_t blen, int srcfd,
		   uint64_t off, size_t len);
/* Puts k at the end of c's output queue and watches for room. */
void conn_queue(struct conn *c, struct chunk *k);

/* server_blobmap.c. Where byte off of memfd blob b is in its read-only
 * mapping, which c keeps (c->map) for the requests that follow (a blob is
 * read in pieces), with the pages of [off, off + len) populated; NULL
 * when it cannot be mapped, or the range is empty or past its end. */
struct store_blobref;
const uint8_t *blobmap_get(struct conn *c, const struct store_blobref *b,
			   uint64_t off, size_t len);
/* Sends buf, then len bytes of memfd blob b from off, copied from its
 * mapping; what the socket does not take now is queued, keeping the
 * mapping rather than a copy. Falls back to conn_send_file when it cannot
 * be mapped. -1 if the peer is gone. */
int conn_send_blob(struct conn *c, const uint8_t *buf, size_t blen,
		   const struct store_blobref *b, uint64_t off, size_t len);
/* Drops a reference; the last unmaps. NULL is a no-op. */
void blobmap_put(struct blobmap *m);
/* Parks c until name appears (name NULL: until a stream changes) or
 * wait_ms pass; the request is re-run. */
void conn_park_name(struct conn *c, const struct req *q, const char *name,
		    uint64_t wait_ms);
/* Parks c on a store ticket: the reply in sv->out (no fds) goes when it
 * completes, or, with rerun, the request is handled again. */
void conn_park_ticket(struct conn *c, uint64_t ticket, const struct req *q,
		      int rerun);

/* server_reply.c: the reply is built in sv->out, its fds in sv->fds. */
void reply_begin(struct server *sv);
void reply_fd(struct server *sv, int fd);
/* Fills in the header of the reply in sv->out. */
void reply_pack(struct server *sv, uint16_t type, int status);
/* Finishes the reply with status (0 or -errno) and sends it. */
int reply_send(struct conn *c, uint16_t type, int status);
/* Sends the success reply in sv->out followed by len bytes of memfd blob
 * b from off, which the frame's length counts (the reply ends with their
 * cw_bytes_head). */
int reply_send_blob(struct conn *c, uint16_t type,
		    const struct store_blobref *b, uint64_t off, size_t len);
/* Sends the success reply now (ticket 0), or once the disk work a store
 * call queued under ticket is durable. */
int reply_durable(struct conn *c, const struct req *q, uint64_t ticket);
/* Parks q until the loader thread spilled enough for blobs of lens, to
 * re-run it then (1), or 0: go ahead (req_blobs.c). */
int wait_for_room(struct conn *c, const struct req *q, const uint64_t *lens,
		  size_t n);
int reply_error(struct conn *c, uint16_t type, int rc, const char *msg);
/* An error reply with the store's message for rc. */
int reply_store_error(struct conn *c, uint16_t type, int rc);
#define BAD(c, type, what) reply_error(c, type, -EPROTO, "malformed " what)
/* Reads a [u64...] id list, checking the count before allocating: -E2BIG
 * over PROTO_MAX_BATCH, -EPROTO malformed. */
int read_ids(struct cr *r, uint64_t **ids, size_t *n);
/* The reply to a bad batch: EINVAL saying the limit for -E2BIG (a client
 * may well send too many), else EPROTO "malformed what". */
int reply_batch_error(struct conn *c, uint16_t type, int rc,
		      const char *what);
/* Copies an optional text item into buf as a C string: 1 set, 0 null,
 * -EPROTO bad. */
int read_opt_str(struct cr *r, char *buf, size_t cap, size_t *len);

/* Reads a mode (null: PROTO_MODE_DEFAULT): 0, -EPROTO malformed, or
 * -EINVAL for bits outside PROTO_MODE_BITS; reply_bad_mode answers
 * either. */
int read_mode(struct cr *r, unsigned *mode);
int reply_bad_mode(struct conn *c, uint16_t type, int rc);

/* Shared by the listing handlers: entries written, and where. */
struct list_ctx {
	struct cw *w;
	size_t n;
};

#endif
