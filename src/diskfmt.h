/*
 * diskfmt: the on-disk format of persisted objects, as bytes; no files, no
 * store. Encodes and decodes the three kinds of file in a data directory
 * (vineyard-format(5) is the reference; keep the two in step):
 *
 *   blob    a 48-byte header, then one LZ4 frame of the blob's bytes
 *           (content size and content checksum on, independent blocks
 *           of 64 KiB to 4 MiB by blob size; incompressible blocks are
 *           stored raw by LZ4 itself)
 *   object  a header, then CBOR [id, document]: a composite object's
 *           stored metadata document (meta.h)
 *   anchor  a header, then CBOR {"seq", "explicit", "names"}: marks a
 *           top-level persisted object and carries its names (a content
 *           file with the ROOT flag marks one by itself)
 *
 * The header is an LZ4 skippable frame, so `lz4 -dc` of a blob file gives
 * the blob back with stock tools. Every header carries a format version and
 * an XXH32 of itself; records carry an XXH32 of their body; blob frames
 * carry LZ4's content checksum. Format 2 (written now) adds the object's
 * owner, group and mode to the header (64 bytes); format 1 files (48-byte
 * headers, no owner) are still read, and say so in has_owner. Decoders trust nothing: every length is
 * checked against the bytes present and a maximum before it is used.
 * The only file that includes <lz4frame.h>.
 */
#ifndef VY_DISKFMT_H
#define VY_DISKFMT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cborio.h"

#define DISKFMT_VERSION 2      /* written; DISKFMT_VERSION_1 is read too */
#define DISKFMT_VERSION_1 1
#define DISKFMT_HDR_LEN 64     /* the header written (format 2) */
#define DISKFMT_HDR_LEN_1 48   /* format 1's */
#define DISKFMT_HDR_MAX 256    /* read this much to parse any header */
#define DISKFMT_SKIP_MAGIC 0x184D2A56u /* LZ4 skippable frame, nibble 6 */
#define DISKFMT_BLOCK (4u << 20)       /* largest LZ4 block of blob frames */
/* Largest record body (object document + envelope). */
#define DISKFMT_MAX_RECORD ((16u << 20) + 4096u)
/* LZ4 cannot shrink data by more than ~255:1; a header claiming more
 * content than this for its body is damaged, whatever it says. */
#define DISKFMT_MAX_RATIO 256u
#define DISKFMT_MAX_RAW (1ull << 48)
#define DISKFMT_MAX_NAMES 4096u /* names of one object in an anchor */

/* Header flags. ROOT: a content file written for an object persisted by
 * request, which makes the object top-level by itself (no anchor needed
 * unless it has names). */
#define DISKFMT_F_ROOT 0x1u

enum diskfmt_kind {
	DISKFMT_BLOB = 1,
	DISKFMT_OBJECT = 2,
	DISKFMT_ANCHOR = 3,
};

/* Who owns an object and who may use it (the store's rules). */
struct diskfmt_owner {
	uint32_t uid, gid;
	uint16_t mode;       /* read and write bits only: <= 0666 */
};

struct diskfmt_hdr {
	uint8_t version;     /* DISKFMT_VERSION or DISKFMT_VERSION_1 */
	uint8_t hdr_len;     /* bytes of the header; the body follows */
	uint8_t kind;        /* enum diskfmt_kind */
	uint16_t flags;      /* DISKFMT_F_*; 0 for anchors */
	uint64_t id;
	uint64_t raw_len;    /* blob: content bytes; record: body bytes */
	uint64_t body_len;   /* bytes after the header */
	uint32_t body_check; /* record: XXH32 of the body; blob: 0 */
	int has_owner;       /* content file of format 2: owner is set */
	struct diskfmt_owner owner; /* anchors: zero */
};

/* XXH32 with seed 0, the checksum LZ4 frames use. */
uint32_t diskfmt_xxh32(const void *p, size_t len);

/* Writes h into out[DISKFMT_HDR_LEN] in format 2's layout, with its own
 * checksum; h->version should be DISKFMT_VERSION (h->hdr_len is
 * ignored). */
void diskfmt_hdr_pack(const struct diskfmt_hdr *h, uint8_t *out);
/* Checks and reads a header (format 1 or 2) from the first len bytes of a
 * file of file_len bytes; read DISKFMT_HDR_MAX bytes or the whole file,
 * whichever is less. The body starts at h->hdr_len. Returns 0;
 * -EPROTONOSUPPORT for another format version (h->version says which);
 * -EBADMSG for anything damaged or truncated. why gets a short reason
 * either way (a static string). */
int diskfmt_hdr_parse(const void *p, size_t len, uint64_t file_len,
		      struct diskfmt_hdr *h, const char **why);

/* ---- blobs ---- */

/* Takes bytes the coder produced; returns 0 or -errno, which stops it. */
typedef int (*diskfmt_out_fn)(void *ctx, const void *p, size_t len);
/* Supplies up to cap bytes into buf; returns how many (0 at the end) or
 * -errno. */
typedef ssize_t (*diskfmt_in_fn)(void *ctx, void *buf, size_t cap);

/* Encodes len bytes, read through in, as a blob body: one LZ4 frame at
 * the given compression level (1 = fastest), handed to out in pieces of
 * at most a block. *body_len gets its length. Returns 0, -ENOMEM, -EIO
 * (LZ4 failed, or in ended early) or in's or out's error. */
int diskfmt_blob_encode(diskfmt_in_fn in, void *ictx, uint64_t len,
			int level, diskfmt_out_fn out, void *octx,
			uint64_t *body_len);
/* The same from len bytes at src. */
int diskfmt_blob_encode_mem(const void *src, size_t len, int level,
			    diskfmt_out_fn out, void *ctx, uint64_t *body_len);
/* Decodes a blob body of exactly body_len bytes, read through in, handing
 * exactly raw_len bytes (the header's) to out in pieces. Checks the
 * frame's content size, its content checksum and that nothing follows the
 * frame; the checksum is known only at the end, so on any error the bytes
 * out has had must be thrown away. Returns 0, -EBADMSG (why set), -ENOMEM
 * or in's or out's error. */
int diskfmt_blob_decode(diskfmt_in_fn in, void *ictx, uint64_t body_len,
			uint64_t raw_len, diskfmt_out_fn out, void *octx,
			const char **why);
/* The same from a body in memory into dst (raw_len bytes). */
int diskfmt_blob_decode_mem(const void *body, size_t body_len, void *dst,
			    uint64_t raw_len, const char **why);

/* ---- records ---- */

/* Appends a whole object file (header and body) for a composite object;
 * flags: DISKFMT_F_ROOT or 0. */
void diskfmt_object_file(struct cw *w, uint64_t id, uint16_t flags,
			 const struct diskfmt_owner *owner, const void *doc,
			 size_t doclen);
/* Checks a record body (after diskfmt_hdr_parse said DISKFMT_OBJECT) and
 * points *doc into it. The document's own structure is meta.c's job.
 * Returns 0 or -EBADMSG. */
int diskfmt_object_parse(const struct diskfmt_hdr *h, const void *body,
			 const void **doc, size_t *doclen, const char **why);

struct diskfmt_anchor {
	uint64_t seq;       /* later writes win when names conflict */
	int explicit_;      /* persisted by request, not only as a member */
	size_t nnames;
	struct cr names;    /* at the first name; see diskfmt_anchor_name */
	int has_owners;     /* the names' owners are recorded (format 2) */
	struct cr owners;   /* at the first [uid, gid] */
	size_t nowners_;    /* parse's count, checked against nnames */
};

/* Appends a whole anchor file for id. names[i] are NUL-terminated;
 * owners[i] (uid and gid; mode unused) says who bound names[i]. */
void diskfmt_anchor_file(struct cw *w, uint64_t id, uint64_t seq,
			 int explicit_, const char *const *names,
			 const struct diskfmt_owner *owners, size_t nnames);
/* Checks an anchor body whole (every name 1-255 bytes without NUL, one
 * owner per name when owners are recorded). */
int diskfmt_anchor_parse(const struct diskfmt_hdr *h, const void *body,
			 struct diskfmt_anchor *a, const char **why);
/* The next of a->nnames names, pointing into the body, and who bound it
 * into *owner when the anchor records it (else *owner is untouched); call
 * it nnames times after a successful parse. */
void diskfmt_anchor_name(struct diskfmt_anchor *a, const char **s,
			 size_t *len, struct diskfmt_owner *owner);

#endif
