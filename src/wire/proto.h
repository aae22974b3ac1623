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
#define PROTO_VERSION 1
#define PROTO_HDR_LEN 16
/* Largest body either side accepts; a bigger header closes the stream. */
#define PROTO_MAX_BODY (64u << 20)
/* Largest blob sent inline (packed into shared segments by the daemon);
 * a blob of a page or more gets its own memfd. */
#define PROTO_SMALL_MAX 4095u
/* Bytes of one slab segment (packed small blobs), as clients map it. */
#define PROTO_SEG_SIZE (2u << 20)
/* Most ids, lengths or names in one batch request. */
#define PROTO_MAX_BATCH 65536u

/* Request flags. */
#define PROTO_F_NOREPLY 0x1u /* do not answer (RELEASE only) */

enum proto_type {
	/* session */
	MSG_HELLO = 1,       /* [version, pid, label] -> [version, pid, limit, small_max] */
	MSG_STATUS = 2,      /* [] -> {status map} */

	/* blobs: 100s */
	MSG_BLOB_CREATE = 100, /* [[len...]] -> [[id...]] + one writable fd per id */
	MSG_BLOB_SEAL = 101,   /* [[id...]] -> [] */
	MSG_BLOB_PUT = 102,    /* [[bytes...]] (each <= SMALL_MAX) -> [[id...]] */
	MSG_BLOB_ABORT = 103,  /* [[id...]] -> [] (drops unsealed blobs) */
	MSG_RELEASE = 104,     /* [[id...]] -> [] (unpins; may be NOREPLY) */

	/* objects: 200s */
	MSG_OBJ_PUT = 200,  /* [tree, [seal ids], name|null, persist bool] -> [id] */
	MSG_GET = 201,      /* [id|0, name|null, wait_ms, flags] -> see below */
	MSG_DELETE = 202,   /* [[id...], flags] -> [count deleted] */
	MSG_LIST = 203,     /* [glob|null, after id, limit] -> [[entry...], more] */
	MSG_PERSIST = 204,  /* [id] -> [] */
	MSG_META = 205,     /* [id] -> [json text]: meta.json as the mount shows */
	MSG_UNPERSIST = 206, /* [id] -> [] (drops the persisted copy) */

	/* names: 300s */
	MSG_NAME_PUT = 300,  /* [name, id] -> [] */
	MSG_NAME_GET = 301,  /* [name, wait_ms] -> [id] */
	MSG_NAME_DROP = 302, /* [name] -> [] */
	MSG_NAME_LIST = 303, /* [glob|null] -> [[name, id]...] */
};

/*
 * MSG_GET reply: [root id, [[id, meta, nbytes]...], [[id, len, kind, fdidx, seg, off]...]]
 *   objects: every composite object of the tree, meta as stored (meta.h);
 *   blobs: kind 0 = own memfd, fd number fdidx of this reply;
 *          kind 1 = packed in segment seg at byte off; fdidx is the
 *          segment's read-only fd if this connection has not had it yet,
 *          else -1.
 * With GET_F_META the blobs are described but neither pinned nor sent.
 *
 * MSG_LIST entry: [id, typename, nbytes, flags, [names...]] (flags: LIST_F_*)
 */
#define GET_F_META 0x1u    /* metadata only: no pins, no fds */
#define DELETE_F_SHALLOW 0x1u /* keep members that become unreferenced */
#define LIST_F_BLOB 0x1u
#define LIST_F_PERSISTED 0x2u

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
