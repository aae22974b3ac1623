/*
 * t_cluster: the membership layer against a real etcd: two members of one
 * prefix get distinct instance ids and see each other, a third under
 * another prefix sees neither; names put, replaced and dropped on one are
 * seen by the other through its cache; a few hundred published objects
 * (more than one transaction) reach the other member; a member that leaves
 * is seen gone and its objects unavailable; etcd stopped and restarted: the
 * state says so, name requests fail at once, publications made meanwhile
 * arrive after the automatic re-join; an etcd never reached: a clear state
 * and a prompt stop. Waits are bounded polls, never timed assertions.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "cluster/etcd.h"
#include "etcd_fixture.h"
#include "log.h"
#include "test.h"
#include "banned.h"

static const char *url;

struct seen {
	int events;
	uint64_t last;
};
static struct seen seen_b;

static int
on_name(void *ctx, const char *name, uint64_t id)
{
	struct seen *s = ctx;

	if (!strcmp(name, "desired")) {
		s->events++;
		s->last = id;
	}
	return 0;
}

static struct cluster *
member_fn(const char *prefix, const char *endpoints, const char *sock,
	  cluster_name_fn fn, void *ctx);

static struct cluster *
member(const char *prefix, const char *endpoints, const char *sock)
{
	return member_fn(prefix, endpoints, sock, NULL, NULL);
}

static struct cluster *
member_fn(const char *prefix, const char *endpoints, const char *sock,
	  cluster_name_fn fn, void *ctx)
{
	struct cluster_cfg cfg = {
		.endpoints = endpoints, .prefix = prefix, .ttl_s = 2,
		.timeout_ms = 500, .host = "localhost", .socket = sock,
		.rpc = "",
	};
	const char *err = NULL;
	struct cluster *c = cluster_new(&cfg, &err);

	if (!c) {
		fprintf(stderr, "cluster_new: %s\n", err);
		return NULL;
	}
	if (fn)
		cluster_on_names(c, fn, ctx);
	if (cluster_start(c)) {
		cluster_free(c);
		return NULL;
	}
	return c;
}

/* Polls cond for up to 15 s, running completions meanwhile. */
static int
wait_for(int (*cond)(void *), void *arg, struct cluster *a, struct cluster *b)
{
	int i;

	for (i = 0; i < 300; i++) {
		if (a)
			cluster_dispatch(a);
		if (b)
			cluster_dispatch(b);
		if (cond(arg))
			return 1;
		usleep(50000);
	}
	return 0;
}

static int
joined(void *arg)
{
	return cluster_state(arg, NULL, 0) == CLUSTER_JOINED;
}

static int
not_joined(void *arg)
{
	return cluster_state(arg, NULL, 0) != CLUSTER_JOINED;
}

struct alive_q {
	struct cluster *c;
	uint32_t id;
	int want;
};

static int
alive_is(void *arg)
{
	struct alive_q *q = arg;

	return cluster_instance_alive(q->c, q->id) == q->want;
}

struct done {
	int called, rc;
	char err[256];
};

static void
done_cb(void *ctx, int rc, const char *err)
{
	struct done *d = ctx;

	d->called++;
	d->rc = rc;
	snprintf(d->err, sizeof(d->err), "%s", err ? err : "");
}

static int
done_called(void *arg)
{
	return ((struct done *)arg)->called > 0;
}

struct name_q {
	struct cluster *c;
	const char *name;
	uint64_t want; /* 0: absent */
};

static int
name_is(void *arg)
{
	struct name_q *q = arg;
	uint64_t id = 0;
	int rc = cluster_name_get(q->c, q->name, &id);

	return q->want ? rc == 0 && id == q->want : rc == -ENOENT;
}

struct count_q {
	struct cluster *c;
	int want, alive;
	uint32_t inst;
};

static int
count_obj(void *ctx, uint64_t id, uint32_t instance, int alive,
	  const char *json, size_t len)
{
	struct count_q *q = ctx;

	if (instance == q->inst && alive == q->alive)
		q->want--;
	return 0;
}

static int
objects_are(void *arg)
{
	struct count_q q = *(struct count_q *)arg;

	cluster_each_object(q.c, count_obj, &q);
	return q.want == 0;
}

static struct cluster *A, *B;
static uint32_t ia, ib;

static void
test_join(void)
{
	struct cluster *C;
	struct alive_q q;

	A = member("t1", url, "/a.sock");
	B = member_fn("t1", url, "/b.sock", on_name, &seen_b);
	CHECK(A && B);
	if (!A || !B)
		return;
	CHECK(wait_for(joined, A, A, B));
	CHECK(wait_for(joined, B, A, B));
	ia = cluster_instance(A);
	ib = cluster_instance(B);
	CHECK(ia >= 1 && ib >= 1 && ia != ib);
	q = (struct alive_q){ A, ib, 1 };
	CHECK(wait_for(alive_is, &q, A, B));
	q = (struct alive_q){ B, ia, 1 };
	CHECK(wait_for(alive_is, &q, A, B));
	/* another prefix is another cluster */
	C = member("t2", url, "/c.sock");
	CHECK(C && wait_for(joined, C, C, NULL));
	if (C) {
		CHECK_EQ(cluster_instance(C), 1);
		CHECK(!cluster_instance_alive(C, ib) || ib == 1);
		cluster_free(C);
	}
}

static void
test_names(void)
{
	struct done d = { 0 };
	struct name_q q;

	if (!A || !B)
		return;
	CHECK_EQ(cluster_name_put(A, "shared", 0x1234, done_cb, &d), 0);
	CHECK(wait_for(done_called, &d, A, B));
	CHECK_EQ(d.rc, 0);
	q = (struct name_q){ B, "shared", 0x1234 };
	CHECK(wait_for(name_is, &q, A, B));
	/* a put of a taken name replaces it */
	memset(&d, 0, sizeof(d));
	CHECK_EQ(cluster_name_put(B, "shared", 0x5678, done_cb, &d), 0);
	CHECK(wait_for(done_called, &d, A, B) && d.rc == 0);
	q = (struct name_q){ A, "shared", 0x5678 };
	CHECK(wait_for(name_is, &q, A, B));
	/* a drop is seen everywhere; a drop of nothing is ENOENT */
	memset(&d, 0, sizeof(d));
	CHECK_EQ(cluster_name_drop(A, "shared", done_cb, &d), 0);
	CHECK(wait_for(done_called, &d, A, B) && d.rc == 0);
	q = (struct name_q){ B, "shared", 0 };
	CHECK(wait_for(name_is, &q, A, B));
	memset(&d, 0, sizeof(d));
	CHECK_EQ(cluster_name_drop(B, "shared", done_cb, &d), 0);
	CHECK(wait_for(done_called, &d, A, B));
	CHECK_EQ(d.rc, -ENOENT);
	CHECK(strstr(d.err, "shared") != NULL);
	/* desired-state names, and the events B's loop gets for them */
	cluster_name_set(A, "desired", 0x99);
	q = (struct name_q){ B, "desired", 0x99 };
	CHECK(wait_for(name_is, &q, A, B));
	CHECK(seen_b.events >= 1 && seen_b.last == 0x99);
	cluster_name_unset(A, "desired");
	q = (struct name_q){ B, "desired", 0 };
	CHECK(wait_for(name_is, &q, A, B));
	CHECK(seen_b.last == 0);
}

static void
test_publish(void)
{
	struct count_q q;
	char json[128], *got = NULL;
	uint32_t inst = 0;
	int i, alive = -1;

	if (!A || !B)
		return;
	/* more than one transaction's worth */
	for (i = 1; i <= 300; i++) {
		snprintf(json, sizeof(json),
			 "{\"instance\":%" PRIu32 ",\"typename\":\"t\","
			 "\"nbytes\":%d}", ia, i);
		cluster_publish(A, (uint64_t)i, json, strlen(json));
	}
	q = (struct count_q){ B, 300, 1, ia };
	CHECK(wait_for(objects_are, &q, A, B));
	CHECK_EQ(cluster_object(B, 7, &got, &inst, &alive), 0);
	CHECK(got && strstr(got, "\"nbytes\":7"));
	CHECK(inst == ia && alive == 1);
	free(got);
	cluster_unpublish(A, 7);
	q = (struct count_q){ B, 299, 1, ia };
	CHECK(wait_for(objects_are, &q, A, B));
	CHECK_EQ(cluster_object(B, 7, NULL, NULL, NULL), -ENOENT);
}

/* etcd goes away and comes back: local state says so; recovery is
 * automatic; what was published meanwhile arrives. */
static void
test_outage(void)
{
	struct done d = { 0 };
	struct count_q q;
	char msg[600], json[64];

	if (!A || !B)
		return;
	CHECK_EQ(fixture_run("stop"), 0);
	CHECK(wait_for(not_joined, A, A, B));
	CHECK(wait_for(not_joined, B, A, B));
	CHECK_EQ(cluster_state(A, msg, sizeof(msg)), CLUSTER_LOST);
	CHECK(strstr(msg, "etcd") != NULL);
	CHECK_EQ(cluster_name_put(A, "x", 1, done_cb, &d), -ENOTCONN);
	/* the cache still answers */
	CHECK_EQ(cluster_object(B, 8, NULL, NULL, NULL), 0);
	snprintf(json, sizeof(json), "{\"instance\":%" PRIu32 "}", ia);
	cluster_publish(A, 1000, json, strlen(json));
	CHECK_EQ(fixture_run("restart"), 0);
	CHECK(wait_for(joined, A, A, B));
	CHECK(wait_for(joined, B, A, B));
	/* same ids: the leases survived the restart, or were taken back */
	CHECK_EQ(cluster_instance(A), ia);
	CHECK_EQ(cluster_instance(B), ib);
	q = (struct count_q){ B, 300, 1, ia };
	CHECK(wait_for(objects_are, &q, A, B));
}

/* A member that leaves: its record goes, its objects are unavailable. */
static void
test_leave(void)
{
	struct alive_q a;
	struct count_q q;

	if (!A || !B)
		return;
	cluster_free(A);
	A = NULL;
	a = (struct alive_q){ B, ia, 0 };
	CHECK(wait_for(alive_is, &a, B, NULL));
	q = (struct count_q){ B, 300, 0, ia };
	CHECK(wait_for(objects_are, &q, B, NULL));
	cluster_free(B);
	B = NULL;
}

/* Never reached: a clear state, requests refused, a prompt stop. */
static void
test_unreachable(void)
{
	struct cluster *c = member("t3", "http://127.0.0.1:1", "/d.sock");
	struct done d = { 0 };
	char msg[600] = "";
	int i;

	CHECK(c != NULL);
	if (!c)
		return;
	for (i = 0; i < 100 && !strstr(msg, "127.0.0.1:1"); i++) {
		cluster_state(c, msg, sizeof(msg));
		usleep(20000);
	}
	CHECK_EQ(cluster_state(c, msg, sizeof(msg)), CLUSTER_JOINING);
	CHECK(strstr(msg, "127.0.0.1:1") != NULL);
	CHECK_EQ(cluster_instance(c), 0);
	CHECK_EQ(cluster_name_put(c, "x", 1, done_cb, &d), -ENOTCONN);
	cluster_free(c);
}

static void
test_bad_cfg(void)
{
	struct cluster_cfg cfg = { .endpoints = "http://127.0.0.1:1" };
	const char *err = NULL;

	cfg.prefix = "has space";
	CHECK(cluster_new(&cfg, &err) == NULL && err);
	cfg.prefix = "ok";
	cfg.ttl_s = -1;
	CHECK(cluster_new(&cfg, &err) == NULL && err);
	cfg.ttl_s = 0;
	cfg.endpoints = "localhost:2379";
	CHECK(cluster_new(&cfg, &err) == NULL && err);
}

int
main(void)
{
	log_init("t_cluster", LOG_LVL_ERROR, NULL);
	RUN(test_bad_cfg);
	RUN(test_unreachable);
	if (!(url = fixture_start())) {
		printf("ok # skip cluster tests: etcd not installed\n");
		return test_failed ? 1 : 0;
	}
	RUN(test_join);
	RUN(test_names);
	RUN(test_publish);
	RUN(test_outage);
	RUN(test_leave);
	cluster_free(A);
	cluster_free(B);
	fixture_stop();
	return test_failed ? 1 : 0;
}
