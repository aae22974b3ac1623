/*
 * etcd: the handle of the etcd client and its one request. Each request is
 * one POST of a JSON body to etcd's v3 gateway on a reused easy handle with
 * a connect and a total timeout; a connection-level failure moves on to
 * the next endpoint, so a request costs at most one timeout per endpoint.
 * Also the JSON helpers the calls share: integers in the gateway's JSON are
 * strings ("revision":"12"); keys and values are base64. The calls
 * themselves are in etcd_kv.c (keys, transactions, leases) and
 * etcd_watch.c (the watch stream).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/b64.h"
#include "cluster/etcd_int.h"
#include "banned.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
etcd_seterr(struct etcd *e, int rc, const char *fmt, ...)
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

size_t
etcd_buf_write(char *data, size_t size, size_t n, void *arg)
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
int64_t
etcd_jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

json_t *
etcd_jb64(const void *p, size_t len)
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

json_t *
etcd_jrev(int64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_string(s);
}

/* Decodes a base64 field into malloc'd memory (*out NULL when absent). */
int
etcd_jdecode(json_t *o, const char *k, uint8_t **out, size_t *len)
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
int
etcd_kv_call(json_t *kvj, int del, etcd_kv_fn fn, etcd_event_fn efn,
	     void *ctx)
{
	struct etcd_kv kv = { 0 };
	uint8_t *k, *v;
	int rc;

	if (!json_is_object(kvj))
		return -EPROTO;
	if ((rc = etcd_jdecode(kvj, "key", &k, &kv.klen)) < 0)
		return rc;
	if ((rc = etcd_jdecode(kvj, "value", &v, &kv.vlen)) < 0) {
		free(k);
		return rc;
	}
	if (!k) {
		free(v);
		return -EPROTO;
	}
	kv.key = k;
	kv.val = v ? v : (const uint8_t *)"";
	kv.create_rev = etcd_jint(kvj, "create_revision");
	kv.mod_rev = etcd_jint(kvj, "mod_revision");
	kv.lease = etcd_jint(kvj, "lease");
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
int
etcd_grpc_errno(long code, const char *msg)
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
int
etcd_request(struct etcd *e, const char *path, json_t *body, json_t **out)
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
		return etcd_seterr(e, -ENOMEM, "cannot build the request");
	len = strlen(s);
	if (len > ETCD_MAX_REQUEST) {
		free(s);
		return etcd_seterr(e, -EMSGSIZE, "%s: request of %zu bytes is "
				   "over etcd's limit of %d", path, len,
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
		curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION,
				 etcd_buf_write);
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
		etcd_seterr(e, curl_errno(cc), "%s", curl_easy_strerror(cc));
		e->cur = (e->cur + 1) % e->nurls;
	}
	free(s);
	if (e->reply.overflow)
		return etcd_seterr(e, -EMSGSIZE, "%s: reply over %u bytes",
				   path, MAX_REPLY);
	if (cc != CURLE_OK)
		return curl_errno(cc);
	curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &http);
	r = json_loadb(e->reply.p ? e->reply.p : "", e->reply.len, 0, &jerr);
	if (!json_is_object(r)) {
		json_decref(r);
		return etcd_seterr(e, -EPROTO, "%s: HTTP %ld, reply is not "
				   "JSON", path, http);
	}
	m = json_object_get(r, "error");
	if (http != 200 || m) {
		const char *msg = json_string_value(m);

		if (!msg)
			msg = json_string_value(json_object_get(r, "message"));
		if (!msg)
			msg = "no reason given";
		rc = etcd_grpc_errno(etcd_jint(r, "code"), msg);
		etcd_seterr(e, rc, "%s: %s", path, msg);
		json_decref(r);
		return rc;
	}
	*out = r;
	return 0;
}

int64_t
etcd_header_rev(json_t *r)
{
	return etcd_jint(json_object_get(r, "header"), "revision");
}

/* The body of a request on the key or range [key, end). */
json_t *
etcd_key_req(const void *key, size_t klen, const void *end, size_t elen)
{
	json_t *b = json_object();

	json_object_set_new(b, "key", etcd_jb64(key, klen));
	if (end)
		json_object_set_new(b, "range_end", etcd_jb64(end, elen));
	return b;
}
