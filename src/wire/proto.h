/*
 * proto: the wire contract between vineyardd and libvineyard.
 *
 * A message is a 16-byte header followed by a CBOR body:
 *
 *   magic u32 | version u16 | type u16 | body length u32 | status/flags u32
 *
 * all little-endian. Requests carry flags (PROTO_F_*); replies carry the
 * request's type and a status: 0, or a negative errno with a CBOR text
 * string body saying why. File descriptors travel with SCM_RIGHTS on the
 * header's first byte (see fdpass.h); a reply announces how many in nfds.
 * Bodies are CBOR arrays whose layout per type is written beside the type
 * below. Change a layout and bump PROTO_VERSION in the same commit.
 *
 * Object metadata rides inside bodies as CBOR documents parsed by meta.c.
 */
#ifndef VY_PROTO_H
#define VY_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC 0x44525956u /* "VYRD" read as little-endian bytes */
#define PROTO_VERSION 6 /* 3: owners and modes (chmod, modes in puts);
			   * 4: streams (500-507); 5: moving objects
			   * (blob-chunk, migrate); 6: owners of published
			   * objects in cluster-list */
#define PROTO_HDR_LEN 16
/* Largest body either side accepts; a bigger header closes the stream. */
#define PROTO_MAX_BODY (64u << 20)
/* Largest blob sent inline (packed into shared segments by the daemon);
 * a blob of a page or more gets its own memfd. */
#define PROTO_SMALL_MAX 4095u
/* Bytes of one slab segment (packed small blobs), as clients map it. */
#define PROTO_SEG_SIZE (2u << 20)
/* Most bytes one blob-read or blob-write carries. */
#define PROTO_MAX_COPY (16u << 20)
/* Most ids, lengths or names in one batch request. */
#define PROTO_MAX_BATCH 65536u

/* Request flags. */
/* Do not answer, not even with an error. Refused (the connection closes)
 * on BLOB_CREATE, GET and NAME_GET, whose replies carry descriptors or
 * wait. */
#define PROTO_F_NOREPLY 0x1u

/*
 * Every message type, once: X(constant, number, name, handler). The enum
 * below, proto_type_name() (proto.c) and the daemon's dispatch table
 * (src/server.c, handler req_<handler> in src/req_*.c) are all generated
 * from this list, so a type cannot have a number without a name or a
 * handler. The handler column is only a token here: the library never
 * sees daemon code. Body layouts: request -> reply.
 */
#define PROTO_TYPES(X) \
	/* session */ \
	X(MSG_HELLO, 1, "hello", hello) \
		/* [version, pid, label] -> [version, pid, limit, small_max] */ \
	X(MSG_STATUS, 2, "status", status) /* [] -> {status map} */ \
	/* blobs: 100s */ \
	X(MSG_BLOB_CREATE, 100, "blob-create", blob_create) \
		/* [[len...], mode|null] -> [[id...]] [huge...] + one \
		 * writable fd per id; huge (a second item after the \
		 * array, ignored by older clients): bytes from offset 0 \
		 * of that memfd in 2 MiB pages, 0 if none known */ \
	X(MSG_BLOB_SEAL, 101, "blob-seal", id_batch) /* [[id...]] -> [] */ \
	X(MSG_BLOB_PUT, 102, "blob-put", blob_put) \
		/* [[bytes...], mode|null] (each <= SMALL_MAX) -> \
		 * [[id...]] */ \
	X(MSG_BLOB_ABORT, 103, "blob-abort", id_batch) \
		/* [[id...]] -> [] (drops unsealed blobs) */ \
	X(MSG_RELEASE, 104, "release", id_batch) \
		/* [[id...]] -> [] (unpins; may be NOREPLY) */ \
	X(MSG_BLOB_READ, 105, "blob-read", blob_read) \
		/* [id, offset, len] -> [bytes] (by copy, len <= 16 MiB) */ \
	X(MSG_BLOB_WRITE, 106, "blob-write", blob_write) \
		/* [id|0, total, offset, bytes, seal] -> [id] (by copy) */ \
	X(MSG_BLOB_CHUNK, 107, "blob-chunk", blob_chunk) \
		/* [id, offset, len, flags?] -> [xxh3-64 of bytes, bytes] or, \
		 * with CHUNK_F_LZ4 when it pays, [xxh3-64, len, lz4 block] \
		 * (daemon to daemon: a fetch, len <= 16 MiB) */ \
	/* objects: 200s */ \
	X(MSG_OBJ_PUT, 200, "obj-put", obj_put) \
		/* [tree, [seal ids], name|null, persist bool, \
		 * mode|null] -> [id] */ \
	X(MSG_GET, 201, "get", get) \
		/* [id|0, name|null, wait_ms, flags] -> see below */ \
	X(MSG_DELETE, 202, "delete", delete) \
		/* [[id...], flags] -> [count deleted] */ \
	X(MSG_LIST, 203, "list", list) \
		/* [glob|null, after id, limit] -> [[entry...], more] */ \
	X(MSG_PERSIST, 204, "persist", persist) /* [id] -> [] */ \
	X(MSG_META, 205, "meta", meta) \
		/* [id] -> [json text]: meta.json as the mount shows */ \
	X(MSG_UNPERSIST, 206, "unpersist", persist) \
		/* [id] -> [] (drops the persisted copy) */ \
	X(MSG_SPILL, 207, "spill", spill) \
		/* [op, [id...]] -> [bool] (SPILL_OP_*; the bool: QUERY's) */ \
	X(MSG_CHMOD, 208, "chmod", chmod) \
		/* [[id...], clear, set, flags] -> [count changed] */ \
	X(MSG_MIGRATE, 209, "migrate", migrate) \
		/* [id|0, name|null] -> [id]: copies another instance's \
		 * object here (vineyard-cluster(7)); id: the local copy */ \
	/* names: 300s */ \
	X(MSG_NAME_PUT, 300, "name-put", name) /* [name, id] -> [] */ \
	X(MSG_NAME_GET, 301, "name-get", name) /* [name, wait_ms] -> [id] */ \
	X(MSG_NAME_DROP, 302, "name-drop", name) /* [name] -> [] */ \
	X(MSG_NAME_LIST, 303, "name-list", name_list) \
		/* [glob|null] -> [[name, id, uid, gid]...] */ \
	/* the cluster (vineyard-cluster(7)): 400s */ \
	X(MSG_CLUSTER, 400, "cluster", cluster) \
		/* [] -> [state, instance, prefix, message, [inst...]] */ \
	X(MSG_CLUSTER_LIST, 401, "cluster-list", cluster_list) \
		/* [glob|null] -> [[obj...]] */ \
	X(MSG_GLOBAL_PUT, 402, "global-put", global_put) \
		/* [tree] (members by id only) -> [id] */ \
	/* streams (vineyard-protocol(7) Streams): 500s */ \
	X(MSG_STREAM_CREATE, 500, "stream-create", stream_create) \
		/* [typename, objects bool, name|null, mode|null?] -> \
		 * [id] */ \
	X(MSG_STREAM_OPEN, 501, "stream-open", stream_open) \
		/* [id|0, name|null, write bool, wait_ms] -> [id, rid, \
		 * typename, objects]; rid 0 for the writer */ \
	X(MSG_STREAM_CHUNK, 502, "stream-chunk", stream_chunk) \
		/* [id, len, wait_ms] -> [chunk id] + one writable fd */ \
	X(MSG_STREAM_APPEND, 503, "stream-append", stream_append) \
		/* [id, chunk id, wait_ms, next_len?] -> [] or, with \
		 * next_len and room, [next chunk id] + one writable fd */ \
	X(MSG_STREAM_END, 504, "stream-end", stream_end) \
		/* [id, failed bool, why|null] -> [] */ \
	X(MSG_STREAM_READ, 505, "stream-read", stream_read) \
		/* [id, rid, wait_ms] -> as MSG_GET; root 0 at the end */ \
	X(MSG_STREAM_CLOSE, 506, "stream-close", stream_close) \
		/* [id, rid] -> [] (rid 0: the writer) */ \
	X(MSG_STREAM_INFO, 507, "stream-info", stream_info) \
		/* [id|0, name|null] -> [id, typename, objects, state, \
		 * writer, readers, appended, first, held, held_bytes, \
		 * bytes, why] */

enum proto_type {
#define PROTO_ENUM_(sym, num, name, handler) sym = num,
	PROTO_TYPES(PROTO_ENUM_)
#undef PROTO_ENUM_
};

/*
 * MSG_GET reply: [root id, [[id, meta, nbytes]...], [[id, len, kind, fdidx, seg, off]...]]
 *   objects: every composite object of the tree, meta as stored (meta.h);
 *   blobs: kind 0 = own memfd, fd number fdidx of this reply;
 *          kind 1 = packed in segment seg at byte off; fdidx is the
 *          segment's read-only fd if this connection has not had the
 *          segment now in that slot yet, else -1. The daemon gives empty
 *          segments back and reuses their slots (version 2): a new fd for
 *          a slot replaces the client's mapping of it.
 * With GET_F_META the blobs are described but neither pinned nor sent.
 * With GET_F_OWNERS a fourth item follows: [[uid, gid, mode]...], one for
 *   each object, then one for each blob, in the order above.
 *
 * MSG_LIST entry: [id, typename, nbytes, flags, [names...], uid, gid, mode]
 *   (flags: LIST_F_*)
 *
 * Modes: read (4) and write (2) bits for the owner (<< 6), the group
 * (<< 3) and others, at most PROTO_MODE_BITS; null in a put means
 * PROTO_MODE_DEFAULT. vineyard-protocol(7) "Ownership and access".
 *
 * MSG_CLUSTER inst: [id, host, socket, rpc, pid, started, objects, bytes]
 *   state: "joining", "joined" or "lost"; message: why not joined, or "".
 *   Not in a cluster: -EOPNOTSUPP.
 * MSG_CLUSTER_LIST obj: [id, typename, nbytes, instance, available, [names...],
 *   [uid, gid, mode] | null] every published object of the cluster, with
 *   the owner its record says (null: none, a record of an older daemon);
 *   -ENOTCONN while etcd is away.
 * MSG_GLOBAL_PUT: a global object (metadata only, published at once)
 *   whose members are objects published by any instance or persisted
 *   here; -ENOTCONN while etcd is away, -EOPNOTSUPP outside a cluster.
 */
#define PROTO_MODE_BITS 0666u
#define PROTO_MODE_DEFAULT 0640u
#define CHMOD_F_TREE 0x1u  /* also everything the objects reference */
#define GET_F_META 0x1u    /* metadata only: no pins, no fds */
#define GET_F_MAPPED 0x2u  /* the client keeps a mapping of every memfd blob
			    * its connection holds a pin on: such a blob
			    * comes with fdidx -1, no descriptor (the client
			    * retries without the flag if it has none) */
/* An object another instance holds is not fetched: EREMOTE instead. */
#define GET_F_NOFETCH 0x4u
/* The reply has a fourth item: [uid, gid, mode] of each object, then of
 * each blob, in their order (an instance copying the tree gives its copy
 * the same owners). Older daemons ignore the flag: three items. */
#define GET_F_OWNERS 0x8u
/* blob-chunk: the sender may compress the chunk (an lz4 block). */
#define CHUNK_F_LZ4 0x1u
#define DELETE_F_SHALLOW 0x1u /* keep members that become unreferenced */
#define LIST_F_BLOB 0x1u
#define LIST_F_PERSISTED 0x2u
#define LIST_F_SPILLED 0x4u   /* some blob of it is on disk only */
/* MSG_SPILL ops (vineyardd(8), When memory runs out) */
#define SPILL_OP_EVICT 0      /* spill the objects' blobs now */
#define SPILL_OP_LOAD 1       /* read them back into memory */
#define SPILL_OP_LOAD_HOLD 2  /* and keep them there until UNHOLD */
#define SPILL_OP_UNHOLD 3
#define SPILL_OP_QUERY 4      /* [op, [id]] -> [is some blob on disk only] */
#define LIST_F_STREAM 0x8u        /* a stream (open unless one below) */
#define LIST_F_STREAM_END 0x10u    /* finished */
#define LIST_F_STREAM_FAILED 0x20u /* failed */

/* Stream states on the wire (MSG_STREAM_INFO). */
#define STREAM_S_OPEN 1
#define STREAM_S_FINISHED 2
#define STREAM_S_FAILED 3

#define BLOB_KIND_MEMFD 0
#define BLOB_KIND_SEGMENT 1

struct proto_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;    /* body bytes */
	uint32_t status; /* requests: flags; replies: (uint32_t)(-errno) or 0 */
};

/* Writes hdr into out[PROTO_HDR_LEN]. */
void proto_hdr_pack(const struct proto_hdr *hdr, uint8_t *out);
/* Reads and checks magic, version and length; 0 or -EPROTO. */
int proto_hdr_unpack(const uint8_t *in, struct proto_hdr *hdr);
/* Short text for a message type, for logs. */
const char *proto_type_name(unsigned type);

/* The status field of a reply holds a negative errno as uint32. */
static inline int
proto_status_errno(uint32_t status)
{
	return (int)status;
}

#endif
