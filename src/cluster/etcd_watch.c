/*
 * etcd_watch: the etcd client's one watch. It is a second easy handle on a
 * multi handle whose chunked reply (one JSON object a line) is split and
 * parsed as it arrives, events going to the caller's function; the multi
 * handle is also what etcd_wait sleeps on, so etcd_wake
 * (curl_multi_wakeup) can cut any wait short.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/etcd_int.h"
#include "banned.h"

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
		e->werr = etcd_seterr(e, -EPROTO,
				      "watch: a message is not JSON");
		json_decref(m);
		return;
	}
	if ((msg = json_string_value(json_object_get(
		     json_object_get(m, "error"), "message"))) ||
	    (msg = json_string_value(json_object_get(m, "error")))) {
		e->werr = etcd_seterr(e, etcd_grpc_errno(0, msg), "watch: %s",
				      msg);
		json_decref(m);
		return;
	}
	res = json_object_get(m, "result");
	if (etcd_jint(res, "compact_revision") > 0) {
		e->werr = etcd_seterr(e, -ESTALE, "watch: revision compacted "
				      "(now from %" PRId64 ")",
				      etcd_jint(res, "compact_revision"));
	} else if (json_is_true(json_object_get(res, "canceled"))) {
		e->werr = etcd_seterr(e, -ECONNRESET,
				      "watch: canceled by etcd");
	}
	evs = json_object_get(res, "events");
	for (i = 0; !e->werr && i < json_array_size(evs); i++) {
		ev = json_array_get(evs, i);
		type = json_string_value(json_object_get(ev, "type"));
		if (etcd_kv_call(json_object_get(ev, "kv"),
				 type && !strcmp(type, "DELETE"), NULL, e->wfn,
				 e->wctx) < 0)
			e->werr = etcd_seterr(e, -EPROTO, "watch: bad event");
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
	    etcd_buf_write(data, 1, len, &e->wbuf) != len) {
		e->werr = etcd_seterr(e, -EMSGSIZE, "watch: message too big");
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
	cr = etcd_key_req(key, klen, end, elen);
	if (start_rev)
		json_object_set_new(cr, "start_revision", etcd_jrev(start_rev));
	b = json_object();
	json_object_set_new(b, "create_request", cr);
	e->wbody = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	if (!e->wbody)
		return etcd_seterr(e, -ENOMEM,
				   "watch: cannot build the request");
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
		return etcd_seterr(e, -EIO, "watch: cannot start");
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
			rc = etcd_seterr(e, -ECONNRESET, "watch: %s",
					 curl_easy_strerror(msg->data.result));
		else if (http != 200)
			rc = etcd_seterr(e, -ECONNRESET, "watch: HTTP %ld",
					 http);
		else
			rc = etcd_seterr(e, -ECONNRESET,
					 "watch: etcd ended it");
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
