/*
 * object_int.h: the object structs the files of libvineyard share: the
 * metadata being built (meta_build.c, consumed by object_put.c) and the
 * tree a get returns (object_get.c, read by object_access.c).
 */
#ifndef VY_OBJECT_INT_H
#define VY_OBJECT_INT_H

#include "client_int.h"
#include "meta.h"

/* ---- metadata being built ---- */

enum { MEM_ID, MEM_WRITER, MEM_META };

struct vy_meta_member {
	char *name;
	int kind;
	vy_id id;
	struct vy_writer *w;
	struct vy_meta *child;
};

struct vy_meta {
	char *typename;
	struct cw fields;      /* key/value pairs, already CBOR */
	char **keys;           /* nfields */
	size_t nfields;
	struct vy_meta_member *members;
	size_t nmembers;
	int oom;
	int has_mode;          /* vy_meta_set_mode: mode, not the client's */
	unsigned mode;
};

/* ---- got objects ---- */

struct vy_tree;

struct vy_object {
	vy_id id;              /* first: idtab key */
	struct vy_tree *tree;
	int is_blob;
	uint64_t nbytes;
	const char *typename;  /* into meta, NUL-terminated copy */
	char *typebuf;
	uint8_t *meta;         /* stored document, copied */
	size_t metalen;
	struct meta_view view;
	const void *data;      /* blob bytes, NULL when metadata only */
	size_t nmembers;
	char **mnames;
	struct vy_object **members;
	char **strs;           /* strings handed out by field_string */
	size_t nstrs;
};

struct vy_tree {
	struct idtab nodes;    /* struct vy_object by id */
	struct vy_object *root;
	uint64_t *pinned;      /* blob ids to release */
	size_t npinned;
	int meta_only;
	int copied;            /* TCP: blob bytes are malloc'd copies */
};

/* Builds the object tree of a MSG_GET-shaped reply (also a stream's
 * chunk), mapping its blobs; closes the reply's descriptors. */
int vy__get_reply(struct vy_client *c, const struct vy_reply *rep,
		  unsigned flags, struct vy_object **out);

#endif
