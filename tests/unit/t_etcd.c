/*
 * t_etcd: base64 and the key-value map on their own, then the etcd client
 * against a real etcd started for the test: put/range with paging past one
 * page, delete, transactions (compare-and-set, the 128-ops limit), leases
 * (grant, keepalive, expiry, revoke), a watch seeing puts and deletes, and
 * clear errors from a dead endpoint within the timeout.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/b64.h"
#include "cluster/etcd.h"
#include "cluster/kvmap.h"
#include "etcd_fixture.h"
#include "test.h"
#include "banned.h"

static const char *url;

static void
test_b64(void)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba",
				       "foobar" };
	static const char *enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
				     "Zm9vYmE=", "Zm9vYmFy" };
	char out[64];
	uint8_t dec[64], all[256];
	size_t i, n;

	for (i = 0; i < 7; i++) {
		n = b64_encode(plain[i], strlen(plain[i]), out);
		CHECK(n == strlen(enc[i]) && !strcmp(out, enc[i]));
		CHECK_EQ(b64_decode(enc[i], strlen(enc[i]), dec),
			 (long)strlen(plain[i]));
		CHECK(!memcmp(dec, plain[i], strlen(plain[i])));
	}
	for (i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	{
		char big[B64_ENCODED_LEN(256)];
		uint8_t back[256];

		n = b64_encode(all, 256, big);
		CHECK_EQ(b64_decode(big, n, back), 256);
		CHECK(!memcmp(back, all, 256));
	}
	/* not base64: refused, never a partial result */
	CHECK_EQ(b64_decode("Zm9", 3, dec), -1);
	CHECK_EQ(b64_decode("Zm9*", 4, dec), -1);
	CHECK_EQ(b64_decode("Z===", 4, dec), -1);
	CHECK_EQ(b64_decode("Zg==Zg==", 8, dec), -1);
}

static void
test_kvmap(void)
{
	struct kvmap m, n;
	const struct kv_entry *e;
	char k[32];
	size_t i, pos = 0, seen = 0;

	kvmap_init(&m);
	for (i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key/%zu", i);
		kvmap_put(&m, k, strlen(k), k, strlen(k), (int64_t)i);
	}
	CHECK_EQ(m.count, 5000);
	for (i = 0; i < 5000; i += 2) {
		snprintf(k, sizeof(k), "key/%zu", i);
		CHECK_EQ(kvmap_del(&m, k, strlen(k)), 1);
	}
	CHECK_EQ(kvmap_del(&m, "key/0", 5), 0);
	for (i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key/%zu", i);
		e = kvmap_get(&m, k, strlen(k));
		CHECK((e != NULL) == (i % 2 == 1));
		if (e)
			CHECK(e->vlen == strlen(k) && !memcmp(e->val, k, e->vlen));
	}
	kvmap_put(&m, "key/1", 5, "x", 1, 0);
	CHECK(!strcmp((const char *)kvmap_get(&m, "key/1", 5)->val, "x"));
	while ((e = kvmap_next(&m, &pos)))
		seen++;
	CHECK_EQ(seen, 2500);
	kvmap_init(&n);
	kvmap_move(&n, &m);
	CHECK_EQ(n.count, 2500);
	CHECK_EQ(m.count, 0);
	kvmap_release(&n);
	kvmap_release(&m);
}

static void
test_bad_urls(void)
{
	const char *err = NULL;

	CHECK(etcd_new("", 1000, &err) == NULL && err);
	CHECK(etcd_new("127.0.0.1:2379", 1000, &err) == NULL && err);
	CHECK(etcd_new("http://a:1,,http://b:2", 1000, &err) == NULL);
	CHECK(etcd_new("http://", 1000, &err) == NULL);
}

struct collect {
	int n;
	char last[64];
	int64_t lease;
};

static int
collect_cb(void *ctx, const struct etcd_kv *kv)
{
	struct collect *c = ctx;

	c->n++;
	snprintf(c->last, sizeof(c->last), "%.*s", (int)kv->vlen,
		 (const char *)kv->val);
	c->lease = kv->lease;
	return 0;
}

static struct etcd *
open_etcd(void)
{
	const char *err = NULL;
	struct etcd *e = etcd_new(url, 2000, &err);

	if (!e)
		fprintf(stderr, "etcd_new: %s\n", err);
	return e;
}

static void
test_kv(void)
{
	struct etcd *e = open_etcd();
	struct collect c = { 0 };
	uint8_t end[16];
	char k[32], v[32];
	int64_t rev = 0, del = -1;
	size_t elen;
	int i;

	if (!e)
		return;
	CHECK_EQ(etcd_put(e, "t/a", 3, "1", 1, 0, &rev), 0);
	CHECK(rev > 0);
	CHECK_EQ(etcd_range(e, "t/a", 3, NULL, 0, collect_cb, &c, NULL), 0);
	CHECK(c.n == 1 && !strcmp(c.last, "1"));
	/* binary values, and more keys than one page */
	CHECK_EQ(etcd_put(e, "t/bin", 5, "\0\1\377", 3, 0, NULL), 0);
	for (i = 0; i < ETCD_RANGE_PAGE + 250; i++) {
		snprintf(k, sizeof(k), "p/%05d", i);
		snprintf(v, sizeof(v), "%d", i);
		if (etcd_put(e, k, strlen(k), v, strlen(v), 0, NULL)) {
			CHECK(0);
			break;
		}
	}
	memset(&c, 0, sizeof(c));
	elen = etcd_prefix_end("p/", 2, end);
	CHECK_EQ(etcd_range(e, "p/", 2, end, elen, collect_cb, &c, &rev), 0);
	CHECK_EQ(c.n, ETCD_RANGE_PAGE + 250);
	snprintf(v, sizeof(v), "%d", ETCD_RANGE_PAGE + 249);
	CHECK(!strcmp(c.last, v));
	CHECK_EQ(etcd_delete(e, "p/", 2, end, elen, &del), 0);
	CHECK_EQ(del, ETCD_RANGE_PAGE + 250);
	memset(&c, 0, sizeof(c));
	CHECK_EQ(etcd_range(e, "p/", 2, end, elen, collect_cb, &c, NULL), 0);
	CHECK_EQ(c.n, 0);
	etcd_free(e);
}

static void
test_txn(void)
{
	struct etcd *e = open_etcd();
	struct etcd_txn *t;
	struct collect c = { 0 };
	char k[32];
	int ok = -1, i;

	if (!e)
		return;
	/* create-if-absent: the first wins, the second reads the winner */
	t = etcd_txn_new();
	etcd_txn_cmp_create(t, "x/name", 6, 0);
	etcd_txn_put(t, 0, "x/name", 6, "first", 5, 0);
	etcd_txn_get(t, 1, "x/name", 6);
	CHECK_EQ(etcd_txn_commit(e, t, &ok, collect_cb, &c, NULL), 0);
	CHECK_EQ(ok, 1);
	etcd_txn_free(t);
	t = etcd_txn_new();
	etcd_txn_cmp_create(t, "x/name", 6, 0);
	etcd_txn_put(t, 0, "x/name", 6, "second", 6, 0);
	etcd_txn_get(t, 1, "x/name", 6);
	CHECK_EQ(etcd_txn_commit(e, t, &ok, collect_cb, &c, NULL), 0);
	CHECK_EQ(ok, 0);
	CHECK(c.n == 1 && !strcmp(c.last, "first"));
	etcd_txn_free(t);
	/* value compare */
	t = etcd_txn_new();
	etcd_txn_cmp_value(t, "x/name", 6, "first", 5);
	etcd_txn_del(t, 0, "x/name", 6);
	CHECK_EQ(etcd_txn_commit(e, t, &ok, NULL, NULL, NULL), 0);
	CHECK_EQ(ok, 1);
	etcd_txn_free(t);
	/* 128 ops pass, 129 are refused before any is sent */
	t = etcd_txn_new();
	for (i = 0; i < ETCD_MAX_TXN_OPS; i++) {
		snprintf(k, sizeof(k), "m/%d", i);
		etcd_txn_put(t, 0, k, strlen(k), "v", 1, 0);
	}
	CHECK_EQ(etcd_txn_commit(e, t, &ok, NULL, NULL, NULL), 0);
	etcd_txn_put(t, 0, "m/x", 3, "v", 1, 0);
	CHECK_EQ(etcd_txn_commit(e, t, &ok, NULL, NULL, NULL), -E2BIG);
	CHECK(strstr(etcd_errmsg(e), "128") != NULL);
	etcd_txn_free(t);
	/* a request over etcd's size limit is refused here, clearly */
	{
		size_t big = ETCD_MAX_REQUEST;
		char *v = calloc(1, big);

		CHECK_EQ(etcd_put(e, "m/big", 5, v, big, 0, NULL), -EMSGSIZE);
		free(v);
	}
	etcd_free(e);
}

static void
test_lease(void)
{
	struct etcd *e = open_etcd();
	struct collect c = { 0 };
	int64_t id = 0, ttl = 0;
	int i;

	if (!e)
		return;
	CHECK_EQ(etcd_lease_grant(e, 1, &id), 0);
	CHECK(id != 0);
	CHECK_EQ(etcd_put(e, "l/k", 3, "v", 1, id, NULL), 0);
	CHECK_EQ(etcd_lease_keepalive(e, id, &ttl), 0);
	CHECK(ttl >= 1);
	CHECK_EQ(etcd_range(e, "l/k", 3, NULL, 0, collect_cb, &c, NULL), 0);
	CHECK(c.n == 1 && c.lease == id);
	/* left alone, the lease expires and takes its key (bounded wait) */
	for (i = 0; i < 100; i++) {
		c.n = 0;
		etcd_range(e, "l/k", 3, NULL, 0, collect_cb, &c, NULL);
		if (!c.n)
			break;
		usleep(100000);
	}
	CHECK_EQ(c.n, 0);
	CHECK_EQ(etcd_lease_keepalive(e, id, NULL), -ENOENT);
	CHECK_EQ(etcd_lease_revoke(e, id), -ENOENT);
	CHECK_EQ(etcd_lease_grant(e, 30, &id), 0);
	CHECK_EQ(etcd_lease_revoke(e, id), 0);
	etcd_free(e);
}

struct events {
	int puts, dels;
	char last[32];
};

static void
event_cb(void *ctx, int del, const struct etcd_kv *kv)
{
	struct events *ev = ctx;

	if (del)
		ev->dels++;
	else
		ev->puts++;
	snprintf(ev->last, sizeof(ev->last), "%.*s", (int)kv->klen,
		 (const char *)kv->key);
}

static void
test_watch(void)
{
	struct etcd *e = open_etcd(), *w = open_etcd();
	struct events ev = { 0 };
	uint8_t end[8];
	size_t elen = etcd_prefix_end("w/", 2, end);
	int64_t rev = 0;
	int i;

	if (!e || !w)
		return;
	CHECK_EQ(etcd_put(e, "w/before", 8, "1", 1, 0, &rev), 0);
	/* from the revision after the put: sees only what follows */
	CHECK_EQ(etcd_watch_start(w, "w/", 2, end, elen, rev + 1, event_cb,
				  &ev), 0);
	CHECK_EQ(etcd_put(e, "w/a", 3, "1", 1, 0, NULL), 0);
	CHECK_EQ(etcd_put(e, "w/b", 3, "1", 1, 0, NULL), 0);
	CHECK_EQ(etcd_delete(e, "w/a", 3, NULL, 0, NULL), 0);
	CHECK_EQ(etcd_put(e, "elsewhere", 9, "1", 1, 0, NULL), 0);
	for (i = 0; i < 100 && ev.puts + ev.dels < 3; i++)
		CHECK_EQ(etcd_wait(w, 100), 0);
	CHECK_EQ(ev.puts, 2);
	CHECK_EQ(ev.dels, 1);
	CHECK(!strcmp(ev.last, "w/a"));
	CHECK(etcd_watching(w));
	/* a wake cuts a long wait short */
	etcd_wake(w);
	CHECK_EQ(etcd_wait(w, 60000), 0);
	etcd_watch_stop(w);
	CHECK(!etcd_watching(w));
	etcd_free(w);
	etcd_free(e);
}

/* A dead endpoint: a clear error, never a hang; a second one is used. */
static void
test_dead(void)
{
	const char *err;
	struct etcd *e;
	char urls[300];

	e = etcd_new("http://127.0.0.1:1", 500, &err);
	CHECK(e != NULL);
	if (!e)
		return;
	CHECK_EQ(etcd_put(e, "k", 1, "v", 1, 0, NULL), -ECONNREFUSED);
	CHECK(strstr(etcd_errmsg(e), "127.0.0.1:1") != NULL);
	etcd_free(e);
	snprintf(urls, sizeof(urls), "http://127.0.0.1:1,%s", url);
	e = etcd_new(urls, 500, &err);
	CHECK_EQ(etcd_put(e, "k", 1, "v", 1, 0, NULL), 0);
	CHECK(!strcmp(etcd_endpoint(e), url));
	etcd_free(e);
}

int
main(void)
{
	RUN(test_b64);
	RUN(test_kvmap);
	RUN(test_bad_urls);
	if (!(url = fixture_start())) {
		printf("ok # skip etcd tests: etcd not installed\n");
		return test_failed ? 1 : 0;
	}
	RUN(test_kv);
	RUN(test_txn);
	RUN(test_lease);
	RUN(test_watch);
	RUN(test_dead);
	fixture_stop();
	return test_failed ? 1 : 0;
}
