/* proto: header packing and checking; the body layouts live in proto.h. */
#include <errno.h>
#include <string.h>

#include "proto.h"
#include "banned.h"

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

void
proto_hdr_pack(const struct proto_hdr *hdr, uint8_t *out)
{
	put32(out, hdr->magic);
	out[4] = (uint8_t)hdr->version;
	out[5] = (uint8_t)(hdr->version >> 8);
	out[6] = (uint8_t)hdr->type;
	out[7] = (uint8_t)(hdr->type >> 8);
	put32(out + 8, hdr->len);
	put32(out + 12, hdr->status);
}

int
proto_hdr_unpack(const uint8_t *in, struct proto_hdr *hdr)
{
	hdr->magic = get32(in);
	hdr->version = (uint16_t)(in[4] | in[5] << 8);
	hdr->type = (uint16_t)(in[6] | in[7] << 8);
	hdr->len = get32(in + 8);
	hdr->status = get32(in + 12);
	if (hdr->magic != PROTO_MAGIC || hdr->version != PROTO_VERSION ||
	    hdr->len > PROTO_MAX_BODY)
		return -EPROTO;
	return 0;
}

const char *
proto_type_name(unsigned type)
{
	switch (type) {
	case MSG_HELLO: return "hello";
	case MSG_STATUS: return "status";
	case MSG_BLOB_CREATE: return "blob-create";
	case MSG_BLOB_SEAL: return "blob-seal";
	case MSG_BLOB_PUT: return "blob-put";
	case MSG_BLOB_ABORT: return "blob-abort";
	case MSG_RELEASE: return "release";
	case MSG_OBJ_PUT: return "obj-put";
	case MSG_GET: return "get";
	case MSG_DELETE: return "delete";
	case MSG_LIST: return "list";
	case MSG_PERSIST: return "persist";
	case MSG_UNPERSIST: return "unpersist";
	case MSG_META: return "meta";
	case MSG_NAME_PUT: return "name-put";
	case MSG_NAME_GET: return "name-get";
	case MSG_NAME_DROP: return "name-drop";
	case MSG_NAME_LIST: return "name-list";
	}
	return "unknown";
}
