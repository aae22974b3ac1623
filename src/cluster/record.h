/*
 * record: the owner of a published object in its etcd record. A record
 * (objects/<id>, vineyard-cluster(7)) says whose the object is with three
 * optional keys: "uid" and "gid" (integers) and "mode" (a string of octal
 * digits, as `vineyardctl --json ls` shows it, e.g. "0640"). A record an
 * older daemon wrote has none of them; one with a key missing or out of
 * range is treated as having none (the caller logs it once).
 */
#ifndef VY_RECORD_H
#define VY_RECORD_H

#include <jansson.h>

struct store_perm;

/* Adds the three keys for p to rec (a JSON object). */
void record_set_owner(json_t *rec, const struct store_perm *p);
/* Reads them back: 1 with *p filled; 0 when the record has none of them;
 * -EINVAL with a sentence in *why (static text) when they are malformed
 * (some missing, not integers, a uid or gid of 2^32-1 or more, a mode
 * that is not octal or has bits outside 0666). *p is untouched unless 1. */
int record_owner(json_t *rec, struct store_perm *p, const char **why);

#endif
