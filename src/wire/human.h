/*
 * human: figures written for people, the one spelling the daemon's
 * messages and vineyardctl's tables share ("0 B", "97.7 KiB", "1.0 GiB").
 * Machine-readable output (JSON, the wire) carries plain byte counts.
 */
#ifndef VY_HUMAN_H
#define VY_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* Writes v bytes into buf (at most len bytes, NUL-terminated) in binary
 * units: exact below 1 KiB, else one decimal, up to TiB. */
void human_bytes(uint64_t v, char *buf, size_t len);

#endif
