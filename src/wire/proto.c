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
#define PROTO_NAME_(sym, num, name, handler) case sym: return name;
	PROTO_TYPES(PROTO_NAME_)
#undef PROTO_NAME_
	}
	return "unknown";
}
