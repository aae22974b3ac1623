/*
 * b64: standard base64 (RFC 4648, with padding), as etcd's JSON gateway
 * carries keys and values. Plain functions on caller buffers, no state.
 */
#ifndef VY_B64_H
#define VY_B64_H

#include <stddef.h>

/* Bytes b64_encode writes for len input bytes, the NUL included. */
#define B64_ENCODED_LEN(len) (((len) + 2) / 3 * 4 + 1)

/* Encodes len bytes of in into out (B64_ENCODED_LEN(len) bytes), NUL
 * terminated; returns the length without the NUL. */
size_t b64_encode(const void *in, size_t len, char *out);
/* Decodes len characters of in into out (at least len / 4 * 3 bytes);
 * returns the decoded length, or -1 on a character or padding that is not
 * base64. */
long b64_decode(const char *in, size_t len, void *out);

#endif
