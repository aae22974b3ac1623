/*
 * le: little-endian loads and stores of 32- and 64-bit integers, for the
 * on-disk formats (diskfmt.c's headers, persist_log.c's group logs), which
 * are little-endian whatever the machine.
 */
#ifndef VY_LE_H
#define VY_LE_H

#include <stdint.h>

static inline uint32_t
le_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t
le_rd64(const uint8_t *p)
{
	return (uint64_t)le_rd32(p) | (uint64_t)le_rd32(p + 4) << 32;
}

static inline void
le_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void
le_wr64(uint8_t *p, uint64_t v)
{
	le_wr32(p, (uint32_t)v);
	le_wr32(p + 4, (uint32_t)(v >> 32));
}

#endif
