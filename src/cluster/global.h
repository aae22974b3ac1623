/*
 * global: global objects, whose members live on several instances of the
 * cluster (upstream's ObjectMeta.set_global). A global object is metadata
 * only: a record under objects/<id> in etcd, written by the instance that
 * created it, with "global": true and members that are published objects
 * of any instance (each persisted by its owner). No instance holds it in
 * its store; every instance answers its metadata from the cluster cache,
 * with each member's instance and whether it is local there.
 */
#ifndef VY_GLOBAL_H
#define VY_GLOBAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct node;

/* Creates a global object from a put tree (one object, every member an
 * id): *id is its new id, its record is published at once. Errors with a
 * sentence in msg: -ENOTCONN (the cluster is unreachable), -ENOENT (a
 * member no instance published), -EINVAL (a local member not persisted,
 * nested members, a malformed tree). */
int global_put(struct node *n, const void *tree, size_t len, uint64_t *id,
	       char *msg, size_t msglen);
/* 1 when id is a global object the cluster knows of. */
int global_is(struct node *n, uint64_t id);
/* Adds "member_instances" ({name: {"id", "instance", "local",
 * "available"}}) to rec, a global object's record. */
void global_annotate(struct node *n, json_t *rec);

#endif
