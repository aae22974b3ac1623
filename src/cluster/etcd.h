/*
 * etcd: a small client of etcd's v3 JSON gateway (etcd 3.4: POST
 * /v3/kv/{range,put,deleterange,txn}, /v3/lease/{grant,keepalive,revoke},
 * /v3/watch) over libcurl, with jansson for the JSON: etcd.c (the handle,
 * one request), etcd_kv.c (keys, transactions, leases) and etcd_watch.c
 * (the watch), sharing etcd_int.h, are the only files that include
 * <curl/curl.h>; <jansson.h> is also in the cluster's own files.
 *
 * Every call but etcd_wake belongs to one thread (the cluster thread). Every
 * request has a timeout: nothing here waits on etcd for longer than the
 * handle's timeout_ms per endpoint tried. Calls return 0 or -errno:
 *   -ECONNREFUSED  no endpoint answered      -ETIMEDOUT  one did not in time
 *   -E2BIG         over 128 ops in one txn    -EMSGSIZE   request over 1.5 MiB
 *   -ENOENT        lease not found/expired    -ESTALE     watch start compacted
 *   -EINVAL        etcd refused the request   -EPROTO     a reply not understood
 * and etcd_errmsg() says more. Not a general etcd library: one watch per
 * handle, keys and values as bytes.
 */
#ifndef VY_ETCD_H
#define VY_ETCD_H

#include <stddef.h>
#include <stdint.h>

/* etcd's defaults, which a cluster must stay within. */
#define ETCD_MAX_TXN_OPS 128
#define ETCD_MAX_REQUEST (1536 * 1024) /* --max-request-bytes */
/* Keys a range page asks for; large ranges are read in pages. */
#define ETCD_RANGE_PAGE 1000

struct etcd;
struct etcd_txn;

/* One key-value pair; pointers valid during the callback only. */
struct etcd_kv {
	const uint8_t *key;
	size_t klen;
	const uint8_t *val; /* NULL with vlen 0 for a delete event */
	size_t vlen;
	int64_t create_rev, mod_rev, lease;
};
/* Nonzero return stops the iteration and is returned by the caller. */
typedef int (*etcd_kv_fn)(void *ctx, const struct etcd_kv *kv);
/* A watch event: del says the key went away. */
typedef void (*etcd_event_fn)(void *ctx, int del, const struct etcd_kv *kv);

/* urls: one or more "http://host:port", comma separated; the first that
 * answers is used until it fails. NULL with *err set when the list is
 * malformed (err points at static text). */
struct etcd *etcd_new(const char *urls, int timeout_ms, const char **err);
void etcd_free(struct etcd *e);
/* Detail of the last error: "etcd http://...: <what>". */
const char *etcd_errmsg(const struct etcd *e);
/* The endpoint in use. */
const char *etcd_endpoint(const struct etcd *e);

int etcd_put(struct etcd *e, const void *key, size_t klen, const void *val,
	     size_t vlen, int64_t lease, int64_t *rev);
/* Calls fn for every key in [key, end) (end NULL: key alone; end "\0" with
 * elen 1: every key from key on), reading ETCD_RANGE_PAGE keys a request,
 * all pages at one revision, stored in *rev. */
int etcd_range(struct etcd *e, const void *key, size_t klen, const void *end,
	       size_t elen, etcd_kv_fn fn, void *ctx, int64_t *rev);
/* Deletes [key, end) (end NULL: key alone); *deleted counts (may be NULL). */
int etcd_delete(struct etcd *e, const void *key, size_t klen, const void *end,
		size_t elen, int64_t *deleted);
/* end = the prefix range end of p (p with its last byte incremented);
 * writes at most len bytes and returns the length, 0 when none exists. */
size_t etcd_prefix_end(const void *p, size_t len, uint8_t *end);

/* Transactions: compares, then ops run when all hold (success) or when one
 * does not (failure). Building never fails (an over-full txn fails at
 * commit with -E2BIG). */
struct etcd_txn *etcd_txn_new(void);
void etcd_txn_free(struct etcd_txn *t);
/* key's create revision == rev (0: the key does not exist). */
void etcd_txn_cmp_create(struct etcd_txn *t, const void *key, size_t klen,
			 int64_t rev);
/* key's mod revision == rev. */
void etcd_txn_cmp_mod(struct etcd_txn *t, const void *key, size_t klen,
		      int64_t rev);
/* key's value == val. */
void etcd_txn_cmp_value(struct etcd_txn *t, const void *key, size_t klen,
			const void *val, size_t vlen);
void etcd_txn_put(struct etcd_txn *t, int failure, const void *key,
		  size_t klen, const void *val, size_t vlen, int64_t lease);
void etcd_txn_del(struct etcd_txn *t, int failure, const void *key,
		  size_t klen);
/* A read of one key, reported to commit's fn. */
void etcd_txn_get(struct etcd_txn *t, int failure, const void *key,
		  size_t klen);
/* Ops in the larger branch, to keep within ETCD_MAX_TXN_OPS. */
size_t etcd_txn_ops(const struct etcd_txn *t);
/* Commits; *succeeded says which branch ran; fn (may be NULL) gets the
 * keys its reads found. */
int etcd_txn_commit(struct etcd *e, struct etcd_txn *t, int *succeeded,
		    etcd_kv_fn fn, void *ctx, int64_t *rev);

int etcd_lease_grant(struct etcd *e, int ttl_s, int64_t *id);
/* Refreshes lease id; -ENOENT once it has expired. *ttl may be NULL. */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl);
int etcd_lease_revoke(struct etcd *e, int64_t id);

/* Starts the handle's one watch of [key, end) from revision start_rev;
 * events reach fn from inside etcd_wait. Stops a running watch first. */
int etcd_watch_start(struct etcd *e, const void *key, size_t klen,
		     const void *end, size_t elen, int64_t start_rev,
		     etcd_event_fn fn, void *ctx);
void etcd_watch_stop(struct etcd *e);
/* 1 while the watch runs (created or being created), else 0. */
int etcd_watching(const struct etcd *e);
/* Waits up to timeout_ms for watch traffic or etcd_wake, delivering
 * events. Returns 0, or the error that ended the watch (once; the watch
 * is then stopped): -ECONNRESET when etcd went away, -ESTALE when its
 * start revision was compacted. */
int etcd_wait(struct etcd *e, int timeout_ms);
/* Makes a current or next etcd_wait return early. Any thread. */
void etcd_wake(struct etcd *e);

#endif
