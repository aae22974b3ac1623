/*
 * etcd_int.h: what the three files of the etcd client share: the handle,
 * the one-request call and the JSON helpers (in etcd.c), used by the key,
 * transaction and lease calls (etcd_kv.c) and the watch (etcd_watch.c).
 * Not for the rest of the daemon: cluster code includes etcd.h only.
 */
#ifndef VY_ETCD_INT_H
#define VY_ETCD_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/etcd.h"

#define MAX_ENDPOINTS 16
/* A reply bigger than this is refused (ranges are paged far below it). */
#define MAX_REPLY (256u << 20)
/* One watch message line; etcd splits big event batches into several. */
#define MAX_WATCH_LINE (64u << 20)

struct buf {
	char *p;
	size_t len, cap;
	int overflow;
};

struct etcd {
	char *urls[MAX_ENDPOINTS];
	int nurls, cur;
	int timeout_ms;
	CURL *easy;		/* requests */
	struct buf reply;
	char err[512];
	/* the watch */
	CURLM *multi;
	CURL *wh;
	int wactive;		/* wh is on multi */
	int werr;		/* error seen in the stream, reported at end */
	struct buf wbuf;
	char *wbody;
	etcd_event_fn wfn;
	void *wctx;
};

/* Records "etcd <endpoint>: <fmt...>" as the handle's error; returns rc. */
int etcd_seterr(struct etcd *e, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A libcurl write callback appending to a struct buf (arg), refusing to
 * grow it past MAX_REPLY. */
size_t etcd_buf_write(char *data, size_t size, size_t n, void *arg);
/* etcd's gRPC status code and message → -errno. */
int etcd_grpc_errno(long code, const char *msg);
/* POSTs body to path; on success *out is the parsed reply (caller
 * json_decref's it). Consumes body. */
int etcd_request(struct etcd *e, const char *path, json_t *body,
		 json_t **out);

/* An int64 field given as a string (the gateway's way) or a number; 0
 * when absent. */
int64_t etcd_jint(json_t *o, const char *k);
/* The revision in a reply's header. */
int64_t etcd_header_rev(json_t *r);
/* Bytes as a base64 JSON string; a revision or lease as a decimal one. */
json_t *etcd_jb64(const void *p, size_t len);
json_t *etcd_jrev(int64_t v);
/* Decodes a base64 field into malloc'd memory (*out NULL when absent). */
int etcd_jdecode(json_t *o, const char *k, uint8_t **out, size_t *len);
/* Calls fn (reads), else efn (watch events, del says a delete), on a
 * gateway "kv" object. */
int etcd_kv_call(json_t *kvj, int del, etcd_kv_fn fn, etcd_event_fn efn,
		 void *ctx);
/* The body of a request on the key or range [key, end). */
json_t *etcd_key_req(const void *key, size_t klen, const void *end,
		     size_t elen);

#endif
