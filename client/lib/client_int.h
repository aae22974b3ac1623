/*
 * client_int.h: what the files of libvineyard share and users never see:
 * the connection struct, the round trip, and the table of mapped blobs.
 * Every function here expects c->lock held (the public entry points take
 * it); none prints or exits.
 */
#ifndef VY_CLIENT_INT_H
#define VY_CLIENT_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "cborio.h"
#include "idtab.h"
#include "proto.h"
#include "vineyard.h"

#define VY_API __attribute__((visibility("default")))

/* A blob this client has mapped; refs counts gets not yet released. */
struct vy_mapping {
	uint64_t id;      /* first: idtab key */
	void *addr;       /* memfd blobs: our mapping; segment blobs: NULL */
	size_t len;
	uint32_t refs;
};

struct vy_client {
	int fd;
	pid_t pid;          /* who connected: use in a fork child is refused */
	unsigned forkgen;   /* vy__forkgen at connect; differs in a child */
	int broken;         /* stream out of step: every call fails */
	pthread_mutex_t lock;
	char *path;         /* socket path, or "host:port" over TCP */
	int tcp;            /* TCP: no descriptors, bytes by copy */
	char *token;        /* TCP: sent in the hello, or NULL */
	char err[512];
	struct cw req;      /* request being built */
	struct cw rel;      /* the queued-releases frame sent before it */
	uint8_t *rbuf;      /* reply body */
	size_t rcap;
	/* Set by a blob read: a reply [bytes] of up to sink_cap bytes lands
	 * in sink, not rbuf (one copy fewer); sunk says how many did. */
	uint8_t *sink;
	size_t sink_cap, sunk;
	int *rfds;          /* descriptors that came with the reply */
	int nrfds;
	int rfdcap;
	struct idtab maps;  /* struct vy_mapping, by blob id */
	void **segs;        /* read-only mappings of slab segments */
	size_t nsegs;
	uint64_t limit;     /* the daemon's --size */
	unsigned mode;      /* of what this client puts (vy_set_mode) */
	unsigned spin_us;   /* poll this long for a reply before sleeping */
	/* Releases of small blobs wait here and ride with the next request:
	 * their memory is a few bytes, and a separate message would cost the
	 * daemon a wakeup per get. Large blobs are released at once. */
	uint64_t *pending;
	size_t npending, pendcap;
};

/* Bumped in every fork child (pthread_atfork): cheaper than getpid(). */
extern unsigned vy__forkgen;

struct vy_reply {
	const uint8_t *body;
	size_t len;
	int nfds; /* in c->rfds */
};

/* Sets c->err and returns rc. */
int vy__fail(struct vy_client *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A reply not as the protocol says: the stream is out of step, so the
 * connection is marked broken; returns -EPROTO. */
int vy__malformed(struct vy_client *c, const char *what);
/* Clears c->err, checks fork and stream state; 0 or -errno. Takes lock. */
int vy__enter(struct vy_client *c);
void vy__leave(struct vy_client *c);
/* Starts a request body in c->req (after room for the header). */
void vy__req(struct vy_client *c);
/* Sends c->req as type and reads the reply. A negative status from the
 * daemon is returned with its text in c->err. NOREPLY requests return 0
 * at once. Descriptors received are the caller's to close. */
int vy__rt(struct vy_client *c, uint16_t type, uint32_t flags,
	   struct vy_reply *rep);
/* The two halves of vy__rt, for a caller that keeps several requests in
 * flight (copy.c): vy__send sends c->req; vy__recv reads one reply of
 * type, with exact set when more replies follow it on the stream (then
 * nothing past this reply's frame is read). */
int vy__send(struct vy_client *c, uint16_t type, uint32_t flags);
int vy__recv(struct vy_client *c, uint16_t type, int exact,
	     struct vy_reply *rep);
/* Memory for a blob's copy of len bytes (NULL when none), and its
 * release (copy.c): large ones are mapped in huge pages, faulted in. */
void *vy__copy_alloc(size_t len);
void vy__copy_free(void *p, size_t len);
/* vy_put_blob over TCP: by copy (copy.c). */
int vy__put_copy(struct vy_client *c, const void *data, size_t len,
		 vy_id *id);
/* vy_blob_read for a caller that holds the lock. */
int vy__read_copy(struct vy_client *c, vy_id id, uint64_t off, void *buf,
		  size_t len, size_t *got);
/* Sends queued small-blob releases now (no reply). */
void vy__flush_releases(struct vy_client *c);
/* Closes every descriptor of the last reply from index i on. */
void vy__close_fds(struct vy_client *c, int from);
/* Reads a reply that is one unsigned number ([n]) into *v. */
int vy__reply_uint(struct vy_client *c, const struct vy_reply *rep,
		   const char *what, uint64_t *v);
/* A malloc'd copy of the reply body in *out, so that callbacks may call
 * back into the library (which reuses the reply buffer); 0 or -ENOMEM. */
int vy__copy_body(struct vy_client *c, const struct vy_reply *rep,
		  uint8_t **out);

/* A string or, for NULL, CBOR null: the optional names and globs. */
static inline void
vy__str_or_null(struct cw *w, const char *s)
{
	if (s)
		cw_str(w, s);
	else
		cw_null(w);
}

/* Names (names.c). */
/* 0, or -EINVAL with c->err set when name is NULL or too long. */
int vy__check_name(struct vy_client *c, const char *name);
/* object_get.c: a get with the wire's GET_F_* flags, by name if not NULL
 * (migrate.c's vy_get_opts). */
int vy__get(struct vy_client *c, vy_id id, const char *name, int timeout_ms,
	    unsigned flags, struct vy_object **out);
/* Deletes ids (a DELETE request); *count (may be NULL) gets how many
 * objects went, members included. */
int vy__delete(struct vy_client *c, const vy_id *ids, size_t n,
	       unsigned flags, size_t *count);

/* A blob being written (blob.c). */
struct vy_writer {
	vy_id id;     /* 0 for a small blob until sealed */
	size_t len;
	int fd;       /* large: writable memfd; small: -1 */
	void *map;    /* large: writable mapping or NULL; small: buffer */
	size_t huge;  /* large: its first bytes in 2 MiB pages (daemon) */
	void *hmap;   /* those mapped 2 MiB-aligned, or NULL */
};
void vy__writer_free(struct vy_writer *w);
/* Drops a large writer's writable mapping: the kernel will not seal a
 * memfd that still has one. */
void vy__writer_unmap(struct vy_writer *w);
/* Sends the small writers among ws inline with mode, setting their ids (in
 * as many requests as PROTO_MAX_BATCH and PROTO_MAX_BODY need). */
int vy__put_small(struct vy_client *c, struct vy_writer **ws, size_t n,
		  unsigned mode);
/* Unmaps and seals the large writers among ws in one request. */
int vy__seal_big(struct vy_client *c, struct vy_writer **ws, size_t n);
/* Drops a large unsealed blob at the daemon (best effort). */
void vy__abort_big(struct vy_client *c, struct vy_writer *w);

/* Blob mappings (blob.c). */
/* Maps the blob described in a GET reply and counts a reference. */
int vy__map_blob(struct vy_client *c, uint64_t id, uint64_t len, int kind,
		 int fd, uint64_t seg, uint64_t off, const void **data);
/* Drops one reference per id locally and tells the daemon (no reply). */
void vy__unmap_blobs(struct vy_client *c, const uint64_t *ids, size_t n);
void vy__unmap_all(struct vy_client *c);

#endif
