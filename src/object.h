/*
 * object: one entry of the store, a blob or a composite object. A blob's
 * bytes live in its own memfd (len > PROTO_SMALL_MAX) or in a slab segment;
 * a composite object carries its stored metadata document (meta.h).
 * Plain data: the store (store_*.c) owns every object and changes them
 * under the store lock; this header only fixes the layout and the flag
 * meanings.
 */
#ifndef VY_OBJECT_H
#define VY_OBJECT_H

#include <stdint.h>

#define OBJ_BLOB 0x01u      /* a blob (id has META_BLOB_BIT) */
#define OBJ_SMALL 0x02u     /* blob packed in a slab segment */
#define OBJ_SEALED 0x04u    /* immutable and visible to readers */
#define OBJ_PERSISTED 0x08u /* has a durable copy in the data dir */
#define OBJ_DELETED 0x10u   /* gone from the table; waits for its pins */
#define OBJ_LAZY 0x20u      /* restored from disk, bytes not loaded yet */
#define OBJ_LOADING 0x40u   /* lazy, and a thread is reading its bytes */
#define OBJ_SPILLED 0x80u   /* a spill file holds its bytes (store_spill.c);
			     * with OBJ_LAZY, only it does */
#define OBJ_SPILLING 0x100u /* its spill file is being written */
#define OBJ_HELD 0x200u     /* kept in memory on request: never spilled */
#define OBJ_STREAM 0x400u   /* a stream: its state is in stream.c */

struct name;
struct store_owner;

struct object {
	uint64_t id;        /* first: idtab keys on it */
	uint16_t flags;     /* OBJ_* */
	uint16_t mode;      /* read/write bits (STORE_MODE_BITS) */
	uint32_t uid, gid;  /* owner and group: who put it */
	uint32_t refs;      /* composite objects that have this as a member */
	uint32_t pins;      /* reader pins: clients' gets and open files */
	uint32_t metalen;   /* composite: bytes of meta */
	uint64_t nbytes;    /* blob: its length; composite: sum of members */
	uint64_t used_at;   /* store tick of its last use: spill picks LRU */
	struct name *names; /* names bound here, linked by names.c */
	struct store_owner *owner; /* unsealed blob: its creator */
	union {
		struct {
			int fd;     /* read-write until sealed, then -1 */
			int rofd;   /* read-only, from seal on; -1 while lazy */
		} big;
		struct {
			uint32_t seg; /* slab segment */
			uint32_t off; /* byte offset in the segment */
		} small;
		uint8_t *meta;      /* composite: stored document, metalen bytes */
	} u;
};

#endif
