/*
 * status: the daemon's figures as one typed struct, and its three forms.
 * The daemon fills it (src/req_session.c); it travels as the MSG_STATUS
 * reply, a CBOR map keyed by the field names below, in this order;
 * libvineyard decodes it (vy_status) and status_json() renders it as the
 * one JSON text that vy_status_json, `vineyardctl --json status` and the
 * mount's status.json all show.
 *
 * A figure is one row of STATUS_FIELDS: U(name) a count, S(name, cap) a
 * string of at most cap - 1 bytes, "" meaning none (null on the wire and in
 * JSON). Adding a row adds it to the struct, the map, the JSON and the
 * decoder, and (by name) to libvineyard's struct vy_status, which must gain
 * the same field. A decoder skips keys it does not know and leaves figures
 * the daemon did not send at 0 and "", so either side may be newer.
 */
#ifndef VY_STATUS_H
#define VY_STATUS_H

#include <stdint.h>

#include "cborio.h"

#define STATUS_FIELDS(U, S) \
	S(version, 32)      /* the daemon's version (the Makefile's VERSION) */ \
	U(protocol)         /* PROTO_VERSION it speaks */ \
	U(pid) \
	U(uptime_s) \
	S(socket, 108)      /* its socket path (sun_path's size) */ \
	U(clients)          /* connections open */ \
	U(input_bytes)      /* buffered requests not yet received in full */ \
	U(input_limit_bytes) /* --input-limit: most of them, all clients */ \
	U(objects)          /* sealed, visible, blobs included */ \
	U(blobs)            /* of which blobs */ \
	U(unsealed_blobs)   /* blobs being written */ \
	U(deleted_in_use)   /* deleted blobs still mapped by a reader */ \
	U(names) \
	U(payload_bytes)    /* bytes of blob data, sealed and unsealed */ \
	U(used_bytes)       /* memory held for blobs */ \
	U(limit_bytes)      /* --size */ \
	U(segment_bytes)    /* slab segments for small blobs (part of used) */ \
	U(idle_segment_bytes) /* an empty one kept for reuse (not in used) */ \
	S(huge_pages, 16)   /* huge-page mode */ \
	S(mount, 4096)      /* the FUSE view's mountpoint, or none */ \
	S(fs_mode, 16)      /* its data mode, or none */ \
	S(data_dir, 4096)   /* persistence's data directory, or none */ \
	U(persisted_objects) \
	U(disk_bytes)       /* bytes of their files */ \
	U(disk_raw_bytes)   /* the same before compression */ \
	U(damaged_files)    /* found damaged at start and set aside */ \
	S(cluster, 16)      /* --etcd: joined, joining or lost; else none */ \
	U(cluster_instance) /* its instance id in the cluster, 0 if none */ \
	U(reserve_bytes)    /* pre-faulted pool for puts (not in used) */ \
	S(spill_dir, 4096)  /* where cold blobs spill, or none */ \
	U(spilled_bytes)    /* blob bytes on disk only (spilled or lazy) */ \
	U(spill_file_bytes) /* bytes of spill files */ \
	U(spills)           /* blobs spilled since start */ \
	U(streams)          /* stream objects */ \
	U(streams_open)     /* of which still open (not finished or failed) */ \
	U(stream_held_bytes) /* chunks streams hold (and chunks being written) */ \
	U(stream_threshold_bytes) /* their limit (--stream-threshold) */ \
	U(transfers_active) /* fetches from other instances in flight */ \
	U(transfers_done)   /* fetches finished whole */ \
	U(transfers_failed) /* fetches that failed (nothing kept) */ \
	U(transfer_bytes)   /* blob bytes received from other instances */ \
	U(transfer_wire_bytes) /* the same as they crossed the wire */ \
	U(reserve_filled_bytes) /* of reserve_bytes, faulted in and ready */ \
	U(reserve_target_bytes) /* what the pool fills towards (--reserve) */ \
	U(cluster_objects)  /* objects published in the cluster, as this \
			     * instance's copy of etcd has them */

struct status {
#define STATUS_U_(name) uint64_t name;
#define STATUS_S_(name, cap) char name[cap];
	STATUS_FIELDS(STATUS_U_, STATUS_S_)
#undef STATUS_U_
#undef STATUS_S_
};

/* Copies s into a string figure (truncating to its size); NULL is none. */
#define STATUS_SET(st, field, s) \
	status_set_str((st)->field, sizeof((st)->field), (s))
void status_set_str(char *dst, size_t cap, const char *s);

/* Appends the CBOR map. */
void status_encode(const struct status *st, struct cw *w);
/* Reads a map written by status_encode (any version); 0 or -EBADMSG. */
int status_decode(struct cr *r, struct status *st);
/* Appends the JSON text and a newline; 0 or -ENOMEM. */
int status_json(const struct status *st, struct cw *out);

#endif
