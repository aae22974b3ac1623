/*
 * etcd: requests to etcd's v3 JSON gateway. Each request is one POST of a
 * JSON body on a reused easy handle with a connect and a total timeout;
 * a connection-level failure moves on to the next endpoint, so a request
 * costs at most one timeout per endpoint. The watch is a second easy handle
 * on a multi handle whose chunked reply (one JSON object a line) is split
 * and parsed as it arrives; the multi handle is also what etcd_wait sleeps
 * on, so etcd_wake (curl_multi_wakeup) can cut any wait short.
 * Integers in the gateway's JSON are strings ("revision":"12"); keys and
 * values are base64.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/b64.h"
#include "cluster/etcd.h"
#include "banned.h"

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

struct etcd_txn {
	json_t *cmp, *succ, *fail;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int
seterr(struct etcd *e, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(e->err, sizeof(e->err), "etcd %s: ",
		     e->nurls ? e->urls[e->cur] : "?");
	if (n < 0 || (size_t)n >= sizeof(e->err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(e->err + n, sizeof(e->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

const char *
etcd_errmsg(const struct etcd *e)
{
	return e->err;
}

const char *
etcd_endpoint(const struct etcd *e)
{
	return e->urls[e->cur];
}

static size_t
buf_write(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n, cap;
	char *p;

	if (b->len + len + 1 > MAX_REPLY) {
		b->overflow = 1;
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		if (!(p = realloc(b->p, cap)))
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

struct etcd *
etcd_new(const char *urls, int timeout_ms, const char **err)
{
	struct etcd *e;
	const char *p = urls, *c;
	size_t len;

	pthread_once(&curl_once, curl_init_once);
	if (!urls || !*urls) {
		*err = "no etcd endpoint";
		return NULL;
	}
	if (!(e = calloc(1, sizeof(*e)))) {
		*err = "out of memory";
		return NULL;
	}
	e->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	while (*p) {
		c = strchr(p, ',');
		len = c ? (size_t)(c - p) : strlen(p);
		if (len == 0 || e->nurls == MAX_ENDPOINTS) {
			*err = len ? "more than 16 etcd endpoints" :
				"empty etcd endpoint in the list";
			goto fail;
		}
		if (strncmp(p, "http://", 7) || len == 7) {
			*err = "an etcd endpoint is http://HOST:PORT";
			goto fail;
		}
		/* no trailing slash: paths are appended */
		while (len > 7 && p[len - 1] == '/')
			len--;
		if (!(e->urls[e->nurls++] = strndup(p, len))) {
			*err = "out of memory";
			goto fail;
		}
		p += len;
		while (*p == '/')
			p++;
		if (*p == ',')
			p++;
		else if (*p) {
			*err = "malformed etcd endpoint list";
			goto fail;
		}
	}
	e->easy = curl_easy_init();
	e->multi = curl_multi_init();
	e->wh = curl_easy_init();
	if (!e->easy || !e->multi || !e->wh) {
		*err = "cannot initialise libcurl";
		goto fail;
	}
	return e;
fail:
	etcd_free(e);
	return NULL;
}

void
etcd_free(struct etcd *e)
{
	int i;

	if (!e)
		return;
	etcd_watch_stop(e);
	if (e->wh)
		curl_easy_cleanup(e->wh);
	if (e->multi)
		curl_multi_cleanup(e->multi);
	if (e->easy)
		curl_easy_cleanup(e->easy);
	for (i = 0; i < e->nurls; i++)
		free(e->urls[i]);
	free(e->reply.p);
	free(e->wbuf.p);
	free(e->wbody);
	free(e);
}

/* ---- JSON helpers ---- */

/* An int64 field given as a string (the gateway's way) or a number. */
static int64_t
jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

static json_t *
jb64(const void *p, size_t len)
{
	char stackbuf[256], *s = stackbuf;
	json_t *v;

	if (B64_ENCODED_LEN(len) > sizeof(stackbuf) &&
	    !(s = malloc(B64_ENCODED_LEN(len))))
		return NULL;
	b64_encode(p, len, s);
	v = json_string(s);
	if (s != stackbuf)
		free(s);
	return v;
}

static json_t *
jrev(int64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_string(s);
}

/* Decodes a base64 field into malloc'd memory (*out NULL when absent). */
static int
jdecode(json_t *o, const char *k, uint8_t **out, size_t *len)
{
	json_t *v = json_object_get(o, k);
	const char *s;
	size_t n;
	long d;

	*out = NULL;
	*len = 0;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return -EPROTO;
	s = json_string_value(v);
	n = json_string_length(v);
	if (!(*out = malloc(n / 4 * 3 + 1)))
		return -ENOMEM;
	if ((d = b64_decode(s, n, *out)) < 0) {
		free(*out);
		*out = NULL;
		return -EPROTO;
	}
	*len = (size_t)d;
	return 0;
}

/* Calls fn on a gateway "kv" object. */
static int
kv_call(json_t *kvj, int del, etcd_kv_fn fn, etcd_event_fn efn, void *ctx)
{
	struct etcd_kv kv = { 0 };
	uint8_t *k, *v;
	int rc;

	if (!json_is_object(kvj))
		return -EPROTO;
	if ((rc = jdecode(kvj, "key", &k, &kv.klen)) < 0)
		return rc;
	if ((rc = jdecode(kvj, "value", &v, &kv.vlen)) < 0) {
		free(k);
		return rc;
	}
	if (!k) {
		free(v);
		return -EPROTO;
	}
	kv.key = k;
	kv.val = v ? v : (const uint8_t *)"";
	kv.create_rev = jint(kvj, "create_revision");
	kv.mod_rev = jint(kvj, "mod_revision");
	kv.lease = jint(kvj, "lease");
	rc = 0;
	if (fn)
		rc = fn(ctx, &kv);
	else
		efn(ctx, del, &kv);
	free(k);
	free(v);
	return rc;
}

/* ---- one request ---- */

static int
curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNREFUSED;
	default:
		return -EIO;
	}
}

/* etcd's gRPC status and message → -errno. */
static int
etcd_errno(long code, const char *msg)
{
	if (strstr(msg, "too many operations"))
		return -E2BIG;
	if (strstr(msg, "too large"))
		return -EMSGSIZE;
	if (strstr(msg, "compacted"))
		return -ESTALE;
	if (strstr(msg, "lease not found"))
		return -ENOENT;
	switch (code) {
	case 3:		/* InvalidArgument */
	case 9:		/* FailedPrecondition */
		return -EINVAL;
	case 5:		/* NotFound */
		return -ENOENT;
	case 11:	/* OutOfRange */
		return -ERANGE;
	case 4:		/* DeadlineExceeded */
		return -ETIMEDOUT;
	case 14:	/* Unavailable */
		return -EAGAIN;
	default:
		return -EIO;
	}
}

/* POSTs body to path; on success *out is the parsed reply (caller
 * json_decref's it). Consumes body. */
static int
request(struct etcd *e, const char *path, json_t *body, json_t **out)
{
	char url[512], *s;
	size_t len;
	long http = 0;
	CURLcode cc = CURLE_OK;
	json_error_t jerr;
	json_t *r, *m;
	int tries, rc;

	*out = NULL;
	s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!s)
		return seterr(e, -ENOMEM, "cannot build the request");
	len = strlen(s);
	if (len > ETCD_MAX_REQUEST) {
		free(s);
		return seterr(e, -EMSGSIZE, "%s: request of %zu bytes is over "
			      "etcd's limit of %d", path, len,
			      ETCD_MAX_REQUEST);
	}
	for (tries = 0; tries < e->nurls; tries++) {
		snprintf(url, sizeof(url), "%s%s", e->urls[e->cur], path);
		curl_easy_reset(e->easy);
		e->reply.len = 0;
		e->reply.overflow = 0;
		curl_easy_setopt(e->easy, CURLOPT_URL, url);
		curl_easy_setopt(e->easy, CURLOPT_POSTFIELDS, s);
		curl_easy_setopt(e->easy, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
		curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, buf_write);
		curl_easy_setopt(e->easy, CURLOPT_WRITEDATA, &e->reply);
		curl_easy_setopt(e->easy, CURLOPT_TIMEOUT_MS,
				 (long)e->timeout_ms);
		curl_easy_setopt(e->easy, CURLOPT_CONNECTTIMEOUT_MS,
				 (long)e->timeout_ms);
		curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e->easy, CURLOPT_PROXY, "");
		curl_easy_setopt(e->easy, CURLOPT_TCP_NODELAY, 1L);
		cc = curl_easy_perform(e->easy);
		if (cc == CURLE_OK || e->reply.overflow)
			break;
		/* a dead endpoint: try the next one */
		seterr(e, curl_errno(cc), "%s", curl_easy_strerror(cc));
		e->cur = (e->cur + 1) % e->nurls;
	}
	free(s);
	if (e->reply.overflow)
		return seterr(e, -EMSGSIZE, "%s: reply over %u bytes", path,
			      MAX_REPLY);
	if (cc != CURLE_OK)
		return curl_errno(cc);
	curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &http);
	r = json_loadb(e->reply.p ? e->reply.p : "", e->reply.len, 0, &jerr);
	if (!json_is_object(r)) {
		json_decref(r);
		return seterr(e, -EPROTO, "%s: HTTP %ld, reply is not JSON",
			      path, http);
	}
	m = json_object_get(r, "error");
	if (http != 200 || m) {
		const char *msg = json_string_value(m);

		if (!msg)
			msg = json_string_value(json_object_get(r, "message"));
		if (!msg)
			msg = "no reason given";
		rc = etcd_errno(jint(r, "code"), msg);
		seterr(e, rc, "%s: %s", path, msg);
		json_decref(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int64_t
header_rev(json_t *r)
{
	return jint(json_object_get(r, "header"), "revision");
}

/* ---- kv ---- */

static json_t *
key_req(const void *key, size_t klen, const void *end, size_t elen)
{
	json_t *b = json_object();

	json_object_set_new(b, "key", jb64(key, klen));
	if (end)
		json_object_set_new(b, "range_end", jb64(end, elen));
	return b;
}

int
etcd_put(struct etcd *e, const void *key, size_t klen, const void *val,
	 size_t vlen, int64_t lease, int64_t *rev)
{
	json_t *b = key_req(key, klen, NULL, 0), *r;
	int rc;

	json_object_set_new(b, "value", jb64(val, vlen));
	if (lease)
		json_object_set_new(b, "lease", jrev(lease));
	if ((rc = request(e, "/v3/kv/put", b, &r)) < 0)
		return rc;
	if (rev)
		*rev = header_rev(r);
	json_decref(r);
	return 0;
}

size_t
etcd_prefix_end(const void *p, size_t len, uint8_t *end)
{
	const uint8_t *k = p;

	memcpy(end, k, len);
	while (len > 0) {
		if (end[len - 1] != 0xff) {
			end[len - 1]++;
			return len;
		}
		len--;
	}
	return 0;
}

int
etcd_range(struct etcd *e, const void *key, size_t klen, const void *end,
	   size_t elen, etcd_kv_fn fn, void *ctx, int64_t *rev)
{
	uint8_t *from = NULL, *next;
	size_t flen = klen, i;
	int64_t at = 0;
	json_t *b, *r, *kvs;
	int rc = 0, more;

	if (!(from = malloc(klen ? klen : 1)))
		return -ENOMEM;
	memcpy(from, key, klen);
	do {
		b = key_req(from, flen, end, elen);
		json_object_set_new(b, "limit", json_integer(ETCD_RANGE_PAGE));
		if (at)
			json_object_set_new(b, "revision", jrev(at));
		if ((rc = request(e, "/v3/kv/range", b, &r)) < 0)
			break;
		if (!at)
			at = header_rev(r);
		kvs = json_object_get(r, "kvs");
		more = json_is_true(json_object_get(r, "more")) && end;
		for (i = 0; i < json_array_size(kvs) && rc == 0; i++)
			rc = kv_call(json_array_get(kvs, i), 0, fn, NULL, ctx);
		/* the next page starts just after the last key */
		if (rc == 0 && more && json_array_size(kvs)) {
			uint8_t *lk;
			size_t lklen;

			rc = jdecode(json_array_get(kvs, json_array_size(kvs) - 1),
				     "key", &lk, &lklen);
			if (rc == 0 && (next = realloc(lk, lklen + 1))) {
				next[lklen] = 0;
				free(from);
				from = next;
				flen = lklen + 1;
			} else if (rc == 0) {
				free(lk);
				rc = -ENOMEM;
			}
		} else {
			more = 0;
		}
		json_decref(r);
	} while (rc == 0 && more);
	free(from);
	if (rc == 0 && rev)
		*rev = at;
	return rc;
}

int
etcd_delete(struct etcd *e, const void *key, size_t klen, const void *end,
	    size_t elen, int64_t *deleted)
{
	json_t *r;
	int rc;

	rc = request(e, "/v3/kv/deleterange", key_req(key, klen, end, elen),
		     &r);
	if (rc < 0)
		return rc;
	if (deleted)
		*deleted = jint(r, "deleted");
	json_decref(r);
	return 0;
}

/* ---- transactions ---- */

struct etcd_txn *
etcd_txn_new(void)
{
	struct etcd_txn *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cmp = json_array();
	t->succ = json_array();
	t->fail = json_array();
	return t;
}

void
etcd_txn_free(struct etcd_txn *t)
{
	if (!t)
		return;
	json_decref(t->cmp);
	json_decref(t->succ);
	json_decref(t->fail);
	free(t);
}

static void
cmp_add(struct etcd_txn *t, const void *key, size_t klen, const char *target,
	const char *field, json_t *v)
{
	json_t *c = json_object();

	json_object_set_new(c, "key", jb64(key, klen));
	json_object_set_new(c, "target", json_string(target));
	json_object_set_new(c, "result", json_string("EQUAL"));
	json_object_set_new(c, field, v);
	json_array_append_new(t->cmp, c);
}

void
etcd_txn_cmp_create(struct etcd_txn *t, const void *key, size_t klen,
		    int64_t rev)
{
	cmp_add(t, key, klen, "CREATE", "createRevision", jrev(rev));
}

void
etcd_txn_cmp_mod(struct etcd_txn *t, const void *key, size_t klen,
		 int64_t rev)
{
	cmp_add(t, key, klen, "MOD", "modRevision", jrev(rev));
}

void
etcd_txn_cmp_value(struct etcd_txn *t, const void *key, size_t klen,
		   const void *val, size_t vlen)
{
	cmp_add(t, key, klen, "VALUE", "value", jb64(val, vlen));
}

static void
op_add(struct etcd_txn *t, int failure, const char *kind, json_t *req)
{
	json_t *op = json_object();

	json_object_set_new(op, kind, req);
	json_array_append_new(failure ? t->fail : t->succ, op);
}

void
etcd_txn_put(struct etcd_txn *t, int failure, const void *key, size_t klen,
	     const void *val, size_t vlen, int64_t lease)
{
	json_t *b = key_req(key, klen, NULL, 0);

	json_object_set_new(b, "value", jb64(val, vlen));
	if (lease)
		json_object_set_new(b, "lease", jrev(lease));
	op_add(t, failure, "requestPut", b);
}

void
etcd_txn_del(struct etcd_txn *t, int failure, const void *key, size_t klen)
{
	op_add(t, failure, "requestDeleteRange", key_req(key, klen, NULL, 0));
}

void
etcd_txn_get(struct etcd_txn *t, int failure, const void *key, size_t klen)
{
	op_add(t, failure, "requestRange", key_req(key, klen, NULL, 0));
}

size_t
etcd_txn_ops(const struct etcd_txn *t)
{
	size_t s = json_array_size(t->succ), f = json_array_size(t->fail);

	return s > f ? s : f;
}

int
etcd_txn_commit(struct etcd *e, struct etcd_txn *t, int *succeeded,
		etcd_kv_fn fn, void *ctx, int64_t *rev)
{
	json_t *b, *r, *resp, *kvs;
	size_t i, j;
	int rc = 0;

	if (json_array_size(t->cmp) > ETCD_MAX_TXN_OPS ||
	    etcd_txn_ops(t) > ETCD_MAX_TXN_OPS)
		return seterr(e, -E2BIG, "a transaction of %zu operations is "
			      "over etcd's limit of %d", etcd_txn_ops(t),
			      ETCD_MAX_TXN_OPS);
	b = json_object();
	json_object_set(b, "compare", t->cmp);
	json_object_set(b, "success", t->succ);
	json_object_set(b, "failure", t->fail);
	if ((rc = request(e, "/v3/kv/txn", b, &r)) < 0)
		return rc;
	*succeeded = json_is_true(json_object_get(r, "succeeded"));
	if (rev)
		*rev = header_rev(r);
	resp = json_object_get(r, "responses");
	for (i = 0; fn && i < json_array_size(resp) && rc == 0; i++) {
		kvs = json_object_get(json_object_get(json_array_get(resp, i),
						      "response_range"), "kvs");
		for (j = 0; j < json_array_size(kvs) && rc == 0; j++)
			rc = kv_call(json_array_get(kvs, j), 0, fn, NULL, ctx);
	}
	json_decref(r);
	return rc;
}

/* ---- leases ---- */

int
etcd_lease_grant(struct etcd *e, int ttl_s, int64_t *id)
{
	json_t *b = json_object(), *r;
	int rc;

	json_object_set_new(b, "TTL", json_integer(ttl_s));
	if ((rc = request(e, "/v3/lease/grant", b, &r)) < 0)
		return rc;
	*id = jint(r, "ID");
	json_decref(r);
	if (*id == 0)
		return seterr(e, -EPROTO, "lease grant gave no lease");
	return 0;
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl)
{
	json_t *b = json_object(), *r;
	int64_t left;
	int rc;

	json_object_set_new(b, "ID", jrev(id));
	if ((rc = request(e, "/v3/lease/keepalive", b, &r)) < 0)
		return rc;
	/* the gateway streams: one message, wrapped in "result" */
	left = jint(json_object_get(r, "result"), "TTL");
	json_decref(r);
	if (ttl)
		*ttl = left;
	if (left <= 0)
		return seterr(e, -ENOENT, "lease %" PRIx64 " has expired",
			      (uint64_t)id);
	return 0;
}

int
etcd_lease_revoke(struct etcd *e, int64_t id)
{
	json_t *b = json_object(), *r;
	int rc;

	json_object_set_new(b, "ID", jrev(id));
	if ((rc = request(e, "/v3/lease/revoke", b, &r)) < 0)
		return rc;
	json_decref(r);
	return 0;
}

/* ---- the watch ---- */

/* One line of the watch stream. */
static void
watch_line(struct etcd *e, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *m, *res, *evs, *ev;
	const char *type, *msg;
	size_t i;

	m = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(m)) {
		e->werr = seterr(e, -EPROTO, "watch: a message is not JSON");
		json_decref(m);
		return;
	}
	if ((msg = json_string_value(json_object_get(
		     json_object_get(m, "error"), "message"))) ||
	    (msg = json_string_value(json_object_get(m, "error")))) {
		e->werr = seterr(e, etcd_errno(0, msg), "watch: %s", msg);
		json_decref(m);
		return;
	}
	res = json_object_get(m, "result");
	if (jint(res, "compact_revision") > 0) {
		e->werr = seterr(e, -ESTALE, "watch: revision compacted "
				 "(now from %" PRId64 ")",
				 jint(res, "compact_revision"));
	} else if (json_is_true(json_object_get(res, "canceled"))) {
		e->werr = seterr(e, -ECONNRESET, "watch: canceled by etcd");
	}
	evs = json_object_get(res, "events");
	for (i = 0; !e->werr && i < json_array_size(evs); i++) {
		ev = json_array_get(evs, i);
		type = json_string_value(json_object_get(ev, "type"));
		if (kv_call(json_object_get(ev, "kv"),
			    type && !strcmp(type, "DELETE"), NULL, e->wfn,
			    e->wctx) < 0)
			e->werr = seterr(e, -EPROTO, "watch: bad event");
	}
	json_decref(m);
}

static size_t
watch_write(char *data, size_t size, size_t n, void *arg)
{
	struct etcd *e = arg;
	size_t len = size * n, off = 0;
	char *nl;

	if (e->werr)
		return 0;	/* ends the transfer */
	if (e->wbuf.len + len + 1 > MAX_WATCH_LINE ||
	    buf_write(data, 1, len, &e->wbuf) != len) {
		e->werr = seterr(e, -EMSGSIZE, "watch: message too big");
		return 0;
	}
	while (!e->werr &&
	       (nl = memchr(e->wbuf.p + off, '\n', e->wbuf.len - off))) {
		watch_line(e, e->wbuf.p + off, (size_t)(nl - e->wbuf.p) - off);
		off = (size_t)(nl - e->wbuf.p) + 1;
	}
	memmove(e->wbuf.p, e->wbuf.p + off, e->wbuf.len - off);
	e->wbuf.len -= off;
	return e->werr ? 0 : len;
}

int
etcd_watch_start(struct etcd *e, const void *key, size_t klen,
		 const void *end, size_t elen, int64_t start_rev,
		 etcd_event_fn fn, void *ctx)
{
	char url[512];
	json_t *b, *cr;

	etcd_watch_stop(e);
	cr = key_req(key, klen, end, elen);
	if (start_rev)
		json_object_set_new(cr, "start_revision", jrev(start_rev));
	b = json_object();
	json_object_set_new(b, "create_request", cr);
	e->wbody = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	if (!e->wbody)
		return seterr(e, -ENOMEM, "watch: cannot build the request");
	snprintf(url, sizeof(url), "%s/v3/watch", e->urls[e->cur]);
	curl_easy_reset(e->wh);
	curl_easy_setopt(e->wh, CURLOPT_URL, url);
	curl_easy_setopt(e->wh, CURLOPT_POSTFIELDS, e->wbody);
	curl_easy_setopt(e->wh, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(e->wh, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(e->wh, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
	curl_easy_setopt(e->wh, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->wh, CURLOPT_PROXY, "");
	curl_easy_setopt(e->wh, CURLOPT_TCP_KEEPALIVE, 1L);
	e->wfn = fn;
	e->wctx = ctx;
	e->werr = 0;
	e->wbuf.len = 0;
	if (curl_multi_add_handle(e->multi, e->wh) != CURLM_OK) {
		free(e->wbody);
		e->wbody = NULL;
		return seterr(e, -EIO, "watch: cannot start");
	}
	e->wactive = 1;
	return 0;
}

void
etcd_watch_stop(struct etcd *e)
{
	if (!e->wactive)
		return;
	curl_multi_remove_handle(e->multi, e->wh);
	e->wactive = 0;
	free(e->wbody);
	e->wbody = NULL;
}

int
etcd_watching(const struct etcd *e)
{
	return e->wactive;
}

int
etcd_wait(struct etcd *e, int timeout_ms)
{
	CURLMsg *msg;
	int running, left, rc = 0;
	long http = 0;

	if (e->wactive)
		curl_multi_perform(e->multi, &running);
	curl_multi_poll(e->multi, NULL, 0, timeout_ms, NULL);
	if (!e->wactive)
		return 0;
	curl_multi_perform(e->multi, &running);
	if (e->werr) {
		/* the stream said it is over (canceled, compacted) */
		rc = e->werr;
		etcd_watch_stop(e);
		return rc;
	}
	while ((msg = curl_multi_info_read(e->multi, &left))) {
		if (msg->msg != CURLMSG_DONE || msg->easy_handle != e->wh)
			continue;
		curl_easy_getinfo(e->wh, CURLINFO_RESPONSE_CODE, &http);
		if (e->werr)
			rc = e->werr;
		else if (msg->data.result != CURLE_OK)
			rc = seterr(e, -ECONNRESET, "watch: %s",
				    curl_easy_strerror(msg->data.result));
		else if (http != 200)
			rc = seterr(e, -ECONNRESET, "watch: HTTP %ld", http);
		else
			rc = seterr(e, -ECONNRESET, "watch: etcd ended it");
		etcd_watch_stop(e);
		/* the endpoint failed us: the next start tries another */
		if (rc == -ECONNRESET && e->nurls > 1)
			e->cur = (e->cur + 1) % e->nurls;
	}
	return rc;
}

void
etcd_wake(struct etcd *e)
{
	curl_multi_wakeup(e->multi);
}
