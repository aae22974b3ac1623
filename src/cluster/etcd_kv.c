/*
 * etcd_kv: the key, transaction and lease calls of the etcd client: each
 * builds its JSON body, makes one request (etcd.c) and reads the reply.
 * A range is read in pages of ETCD_RANGE_PAGE keys, all at the revision of
 * the first page. A transaction is built as JSON arrays and sent whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/etcd_int.h"
#include "banned.h"

struct etcd_txn {
	json_t *cmp, *succ, *fail;
};

/* ---- kv ---- */

int
etcd_put(struct etcd *e, const void *key, size_t klen, const void *val,
	 size_t vlen, int64_t lease, int64_t *rev)
{
	json_t *b = etcd_key_req(key, klen, NULL, 0), *r;
	int rc;

	json_object_set_new(b, "value", etcd_jb64(val, vlen));
	if (lease)
		json_object_set_new(b, "lease", etcd_jrev(lease));
	if ((rc = etcd_request(e, "/v3/kv/put", b, &r)) < 0)
		return rc;
	if (rev)
		*rev = etcd_header_rev(r);
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
		b = etcd_key_req(from, flen, end, elen);
		json_object_set_new(b, "limit", json_integer(ETCD_RANGE_PAGE));
		if (at)
			json_object_set_new(b, "revision", etcd_jrev(at));
		if ((rc = etcd_request(e, "/v3/kv/range", b, &r)) < 0)
			break;
		if (!at)
			at = etcd_header_rev(r);
		kvs = json_object_get(r, "kvs");
		more = json_is_true(json_object_get(r, "more")) && end;
		for (i = 0; i < json_array_size(kvs) && rc == 0; i++)
			rc = etcd_kv_call(json_array_get(kvs, i), 0, fn, NULL,
					  ctx);
		/* the next page starts just after the last key */
		if (rc == 0 && more && json_array_size(kvs)) {
			uint8_t *lk;
			size_t lklen;

			rc = etcd_jdecode(json_array_get(kvs,
						json_array_size(kvs) - 1),
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

	rc = etcd_request(e, "/v3/kv/deleterange",
			  etcd_key_req(key, klen, end, elen), &r);
	if (rc < 0)
		return rc;
	if (deleted)
		*deleted = etcd_jint(r, "deleted");
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

	json_object_set_new(c, "key", etcd_jb64(key, klen));
	json_object_set_new(c, "target", json_string(target));
	json_object_set_new(c, "result", json_string("EQUAL"));
	json_object_set_new(c, field, v);
	json_array_append_new(t->cmp, c);
}

void
etcd_txn_cmp_create(struct etcd_txn *t, const void *key, size_t klen,
		    int64_t rev)
{
	cmp_add(t, key, klen, "CREATE", "createRevision", etcd_jrev(rev));
}

void
etcd_txn_cmp_mod(struct etcd_txn *t, const void *key, size_t klen,
		 int64_t rev)
{
	cmp_add(t, key, klen, "MOD", "modRevision", etcd_jrev(rev));
}

void
etcd_txn_cmp_value(struct etcd_txn *t, const void *key, size_t klen,
		   const void *val, size_t vlen)
{
	cmp_add(t, key, klen, "VALUE", "value", etcd_jb64(val, vlen));
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
	json_t *b = etcd_key_req(key, klen, NULL, 0);

	json_object_set_new(b, "value", etcd_jb64(val, vlen));
	if (lease)
		json_object_set_new(b, "lease", etcd_jrev(lease));
	op_add(t, failure, "requestPut", b);
}

void
etcd_txn_del(struct etcd_txn *t, int failure, const void *key, size_t klen)
{
	op_add(t, failure, "requestDeleteRange",
	       etcd_key_req(key, klen, NULL, 0));
}

void
etcd_txn_get(struct etcd_txn *t, int failure, const void *key, size_t klen)
{
	op_add(t, failure, "requestRange", etcd_key_req(key, klen, NULL, 0));
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
		return etcd_seterr(e, -E2BIG, "a transaction of %zu "
				   "operations is over etcd's limit of %d",
				   etcd_txn_ops(t), ETCD_MAX_TXN_OPS);
	b = json_object();
	json_object_set(b, "compare", t->cmp);
	json_object_set(b, "success", t->succ);
	json_object_set(b, "failure", t->fail);
	if ((rc = etcd_request(e, "/v3/kv/txn", b, &r)) < 0)
		return rc;
	*succeeded = json_is_true(json_object_get(r, "succeeded"));
	if (rev)
		*rev = etcd_header_rev(r);
	resp = json_object_get(r, "responses");
	for (i = 0; fn && i < json_array_size(resp) && rc == 0; i++) {
		kvs = json_object_get(json_object_get(json_array_get(resp, i),
						      "response_range"), "kvs");
		for (j = 0; j < json_array_size(kvs) && rc == 0; j++)
			rc = etcd_kv_call(json_array_get(kvs, j), 0, fn, NULL,
					  ctx);
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
	if ((rc = etcd_request(e, "/v3/lease/grant", b, &r)) < 0)
		return rc;
	*id = etcd_jint(r, "ID");
	json_decref(r);
	if (*id == 0)
		return etcd_seterr(e, -EPROTO, "lease grant gave no lease");
	return 0;
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl)
{
	json_t *b = json_object(), *r;
	int64_t left;
	int rc;

	json_object_set_new(b, "ID", etcd_jrev(id));
	if ((rc = etcd_request(e, "/v3/lease/keepalive", b, &r)) < 0)
		return rc;
	/* the gateway streams: one message, wrapped in "result" */
	left = etcd_jint(json_object_get(r, "result"), "TTL");
	json_decref(r);
	if (ttl)
		*ttl = left;
	if (left <= 0)
		return etcd_seterr(e, -ENOENT, "lease %" PRIx64 " has expired",
				   (uint64_t)id);
	return 0;
}

int
etcd_lease_revoke(struct etcd *e, int64_t id)
{
	json_t *b = json_object(), *r;
	int rc;

	json_object_set_new(b, "ID", etcd_jrev(id));
	if ((rc = etcd_request(e, "/v3/lease/revoke", b, &r)) < 0)
		return rc;
	json_decref(r);
	return 0;
}
