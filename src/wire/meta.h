/*
 * meta: object metadata documents, in CBOR, and their JSON rendering.
 *
 * A stored document (one per composite object) is a CBOR map:
 *   {"typename": text, "fields": {key: value...}, "members": {name: id...}}
 * Field values are integers, floats, text, booleans, null, and arrays or
 * maps of those (nested at most META_MAX_DEPTH). Member ids are unsigned.
 *
 * A put tree (what a client sends) has the same shape, but a member may also
 * be a nested tree, so a whole DataFrame goes in one message. meta_tree_parse
 * flattens it children-first; the store gives each node an id and
 * meta_node_encode writes the stored document with those ids.
 *
 * Names of members become file names in the mount, so they are checked like
 * object names (see names.h) and must not be "data", "meta.json" or
 * "typename". Nothing here allocates by a length the input declares.
 */
#ifndef VY_META_H
#define VY_META_H

#include <stddef.h>
#include <stdint.h>

#include "cborio.h"

#define META_MAX_DEPTH 8        /* nesting of field values and of trees */
#define META_MAX_TYPENAME 255
#define META_MAX_KEY 255
#define META_MAX_NODES 65536    /* objects in one put tree */
#define META_MAX_LEN (16u << 20) /* bytes of one document */
#define META_BLOB_TYPENAME "vineyard::Blob"

struct meta_member {
	const char *name; /* into the input, not NUL-terminated */
	size_t namelen;
	uint64_t id;      /* when child < 0 */
	int32_t child;    /* index of a nested node, or -1 */
};

struct meta_node {
	const char *typename; /* into the input */
	size_t typelen;
	const uint8_t *fields; /* the raw CBOR map of fields */
	size_t fieldslen;
	size_t nfields;
	uint32_t first_member; /* into meta_tree.members */
	uint32_t nmembers;
};

struct meta_tree {
	struct meta_node *nodes;     /* children before parents; root last */
	size_t nnodes;
	struct meta_member *members;
	size_t nmembers;
	char err[160];               /* why parsing failed */
};

/* Parses and validates a put tree. Points into buf, which must outlive the
 * tree. Returns 0 or -EBADMSG (or -EINVAL for bad names) with t->err set.
 * Allocation failure returns -ENOMEM. */
int meta_tree_parse(const void *buf, size_t len, struct meta_tree *t);
void meta_tree_release(struct meta_tree *t);
/* Writes node n as a stored document; ids[i] is the id of node i. */
void meta_node_encode(const struct meta_tree *t, size_t n,
		      const uint64_t *ids, struct cw *w);

/* A parsed stored document. */
struct meta_view {
	const char *typename;
	size_t typelen;
	const uint8_t *fields; /* CBOR map */
	size_t fieldslen;
	const uint8_t *members; /* CBOR map name -> uint */
	size_t memberslen;
	size_t nfields, nmembers;
};

/* Parses a stored document; 0 or -EBADMSG. */
int meta_view_parse(const void *buf, size_t len, struct meta_view *v);

/* Walks a parsed document's members in order, checking each entry:
 *
 *	struct meta_members it;
 *
 *	meta_members_init(&it, &v);
 *	while ((rc = meta_members_next(&it)) > 0)
 *		use it.name, it.namelen, it.id;
 *	if (rc < 0)
 *		the member map is malformed (-EBADMSG);
 *
 * v NULL walks no members (a blob). Points into v's document. */
struct meta_members {
	struct cr r;
	size_t left;       /* entries not yet read */
	int rc;            /* once an entry is malformed, every next fails */
	const char *name;  /* the current member, not NUL-terminated */
	size_t namelen;
	uint64_t id;
};
void meta_members_init(struct meta_members *it, const struct meta_view *v);
/* 1 with the next member in it, 0 at the end, or -EBADMSG. */
int meta_members_next(struct meta_members *it);
/* Finds a member by name; 1 found, 0 not, <0 error. */
int meta_member_find(const struct meta_view *v, const char *name,
		     uint64_t *id);
/* Finds a field by key and sets r at its value; 1 found, 0 not. */
int meta_field_find(const struct meta_view *v, const char *key,
		    struct cr *r);

/* 0 if s (len bytes) is a valid member name / key, else -EINVAL. */
int meta_check_member_name(const char *s, size_t len);
/* Valid UTF-8 without control characters? */
int meta_utf8_ok(const char *s, size_t len, int allow_ctrl);

/* JSON rendering (UTF-8, two-space indent, trailing newline). */
struct meta_json {
	uint64_t id;
	const char *typename; /* NUL-terminated */
	uint64_t nbytes;
	int persisted;
	const char *const *names; /* nnames NUL-terminated strings */
	size_t nnames;
	const struct meta_view *view; /* NULL for a blob */
};
void meta_json(struct cw *out, const struct meta_json *j);
/* Appends a CBOR value as JSON at the given indent; 0 or -EBADMSG. */
int meta_json_value(struct cw *out, struct cr *r, int indent, int depth);
/* Appends s as a JSON string literal. */
void meta_json_str(struct cw *out, const char *s, size_t len);

/* "o" + 16 lowercase hex digits + NUL. */
#define META_ID_LEN 18
void meta_id_format(uint64_t id, char out[META_ID_LEN]);
/* 0 and *id, or -EINVAL when s is not exactly an id. */
int meta_id_parse(const char *s, uint64_t *id);
/* Ids with the top bit set are blobs. */
#define META_BLOB_BIT (1ull << 63)
static inline int
meta_id_is_blob(uint64_t id)
{
	return (id & META_BLOB_BIT) != 0;
}

#endif
