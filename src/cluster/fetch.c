/*
 * fetch: transfers of other instances' objects into this store (fetch.h).
 * One thread per transfer; the table of transfers in flight, keyed by
 * object id, is what makes concurrent requests for one object share one
 * transfer. A transfer takes the whole tree or nothing: blobs it copied
 * are deleted again when a later step fails.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "cluster/fetch.h"
#include "cluster/node.h"
#include "cluster/transfer.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

struct transfer {
	struct transfer *next;
	struct fetch *f;
	uint64_t id;
	uint64_t ticket;
	unsigned waiters;    /* fetch_start calls answered with the ticket */
	unsigned holders;    /* fetch_wait callers still reading the result:
			      * fetch_done_next leaves it listed till 0 */
	char rpc[256];
	pthread_t th;
	struct xfer x;
	int finished;        /* the thread is done (joinable) */
	int rc;
	char msg[480];
};

struct fetch {
	struct store *s;
	struct node *n;
	char *token;
	int efd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct transfer *list; /* running and finished, not yet handed out */
	uint64_t seq;
	int stopping;
	int lz4;
	/* figures; bytes and wire are atomic, the rest under lock */
	uint64_t active, done, failed, bytes, wire;
};

struct fetch *
fetch_new(struct store *s, struct node *n, const char *token, int lz4)
{
	struct fetch *f = xcalloc(1, sizeof(*f));

	f->lz4 = lz4;
	f->s = s;
	f->n = n;
	f->token = token ? xstrdup(token) : NULL;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0)
		fatal("fetch: eventfd");
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	return f;
}

void
fetch_free(struct fetch *f)
{
	struct transfer *t, *next;

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = 1;
	for (t = f->list; t; t = t->next)
		if (!t->finished)
			xfer_abort(&t->x);
	pthread_cond_broadcast(&f->cond);
	/* fetch_wait callers leave at once now; none may still read */
	for (;;) {
		for (t = f->list; t && !t->holders; t = t->next)
			;
		if (!t)
			break;
		pthread_cond_wait(&f->cond, &f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	for (t = f->list; t; t = next) {
		next = t->next;
		pthread_join(t->th, NULL);
		free(t);
	}
	close(f->efd);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f->token);
	free(f);
}

int
fetch_fd(const struct fetch *f)
{
	return f->efd;
}

/* Deletes the blobs a failed transfer had copied. */
static void
undo(struct store *s, uint64_t *ids, size_t n)
{
	size_t count;

	if (n)
		store_delete(s, NULL, ids, n, DELETE_F_SHALLOW, &count, NULL);
}

/* No copy of what is missing fits under --size: say so before moving a
 * byte. */
static int
check_space(struct transfer *t, const struct xfer_tree *tr)
{
	struct store_status st;
	uint64_t need = 0;
	size_t i;

	for (i = 0; i < tr->nblobs; i++)
		if (!store_has(t->f->s, tr->blobs[i].id))
			need += tr->blobs[i].len > PROTO_SMALL_MAX ?
				arena_footprint((size_t)tr->blobs[i].len) :
				tr->blobs[i].len;
	store_status(t->f->s, &st);
	if (st.limit && (st.used + need < need || st.used + need > st.limit))
		return xfer_fail(&t->x, -ENOSPC, "no space for a copy of "
				 "o%016" PRIx64 ": it needs %" PRIu64 " more "
				 "bytes, %" PRIu64 " of this daemon's --size %"
				 PRIu64 " are in use", t->id, need, st.used,
				 st.limit);
	return 0;
}

static int
run(struct transfer *t)
{
	struct store *s = t->f->s;
	struct store_owner *ow = store_owner_new(s, "fetch");
	struct store_adopted *objs = NULL;
	struct xfer_tree tr;
	uint64_t *made = NULL;
	size_t nmade = 0, i;
	int rc;

	t->x.moved = &t->f->bytes;
	t->x.wire = &t->f->wire;
	t->x.lz4 = t->f->lz4;
	if ((rc = xfer_connect(&t->x, t->rpc, t->f->token)))
		goto out;
	if ((rc = xfer_tree(&t->x, t->id, &tr)))
		goto out;
	if ((rc = check_space(t, &tr)))
		goto done;
	made = xcalloc(tr.nblobs ? tr.nblobs : 1, sizeof(*made));
	for (i = 0; i < tr.nblobs; i++) {
		if (store_has(s, tr.blobs[i].id))
			continue;
		if ((rc = xfer_blob(&t->x, s, ow, &tr.blobs[i])))
			goto done;
		made[nmade++] = tr.blobs[i].id;
	}
	/* children before parents: the reverse of the walk's order */
	objs = xcalloc(tr.nobjs ? tr.nobjs : 1, sizeof(*objs));
	for (i = 0; i < tr.nobjs; i++) {
		objs[i].id = tr.objs[tr.nobjs - 1 - i].id;
		objs[i].meta = tr.objs[tr.nobjs - 1 - i].meta;
		objs[i].metalen = tr.objs[tr.nobjs - 1 - i].metalen;
		objs[i].who = tr.objs[tr.nobjs - 1 - i].whop;
	}
	if ((rc = store_adopt_objects(s, objs, tr.nobjs)))
		xfer_fail(&t->x, rc, "%s", store_errmsg());
done:
	if (rc)
		undo(s, made, nmade);
	xfer_tree_release(&tr);
out:
	store_owner_free(s, ow);
	free(made);
	free(objs);
	return rc;
}

static void *
transfer_main(void *arg)
{
	struct transfer *t = arg;
	struct fetch *f = t->f;
	uint64_t one = 1;
	int rc = run(t);

	/* the peer's connection failing is not this daemon's: a client must
	 * not read it as its own daemon gone */
	if (rc == -ECONNRESET || rc == -ECONNREFUSED || rc == -EPIPE ||
	    rc == -ECONNABORTED || rc == -ENOTCONN)
		rc = -EREMOTEIO;

	if (rc)
		log_warnx("fetch of o%016" PRIx64 " from %s failed: %s", t->id,
			  t->rpc, t->x.err);
	else
		log_info("fetched o%016" PRIx64 " from %s", t->id, t->rpc);
	pthread_mutex_lock(&f->lock);
	xfer_close(&t->x); /* under the lock: fetch_free may abort it */
	t->rc = rc;
	snprintf(t->msg, sizeof(t->msg), "%s", rc ? t->x.err : "");
	t->finished = 1;
	f->active--;
	if (rc)
		f->failed++;
	else
		f->done++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	if (write(f->efd, &one, sizeof(one)) < 0) {
		/* the counter only saturates; the loop reads it anyway */
	}
	return NULL;
}

/* Starts or joins the transfer of id; with hold, the caller is counted
 * in its holders (under the same lock, so it is never collected first). */
static int
begin(struct fetch *f, uint64_t id, int hold, struct transfer **out,
      char *msg, size_t len)
{
	struct transfer *t;
	char rpc[256];
	int rc;

	pthread_mutex_lock(&f->lock);
	for (t = f->list; t; t = t->next)
		if (t->id == id && !t->finished)
			break;
	if (t) {
		t->waiters++;
		t->holders += hold != 0;
		*out = t;
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	pthread_mutex_unlock(&f->lock);
	/* the cluster's cache has its own lock: any thread may ask */
	if ((rc = node_locate(f->n, id, rpc, sizeof(rpc), msg, len)))
		return rc;
	t = xcalloc(1, sizeof(*t));
	t->f = f;
	t->id = id;
	t->waiters = 1;
	t->holders = hold != 0;
	t->x.fd = -1;
	snprintf(t->rpc, sizeof(t->rpc), "%s", rpc);
	pthread_mutex_lock(&f->lock);
	if (f->stopping) {
		pthread_mutex_unlock(&f->lock);
		free(t);
		snprintf(msg, len, "the daemon is stopping");
		return -ECANCELED;
	}
	t->ticket = FETCH_TICKET_BIT | ++f->seq;
	if (pthread_create(&t->th, NULL, transfer_main, t)) {
		pthread_mutex_unlock(&f->lock);
		free(t);
		snprintf(msg, len, "cannot start a transfer thread");
		return -EAGAIN;
	}
	t->next = f->list;
	f->list = t;
	f->active++;
	*out = t;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

int
fetch_start(struct fetch *f, uint64_t id, uint64_t *ticket, char *msg,
	    size_t len)
{
	struct transfer *t;
	int rc = begin(f, id, 0, &t, msg, len);

	if (rc == 0)
		*ticket = t->ticket; /* fixed at creation; t is listed */
	return rc;
}

int
fetch_wait(struct fetch *f, uint64_t id, const int *stop, char *msg,
	   size_t len)
{
	struct transfer *t;
	struct timespec ts;
	uint64_t one = 1;
	int rc, wake;

	if ((rc = begin(f, id, 1, &t, msg, len)))
		return rc;
	pthread_mutex_lock(&f->lock);
	while (!t->finished && !f->stopping &&
	       !(stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE))) {
		/* the stop flag has no condition of its own: look again
		 * every 200 ms */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	}
	if (t->finished) {
		rc = t->rc;
		snprintf(msg, len, "%s", t->msg);
	} else {
		rc = -ECANCELED;
		snprintf(msg, len, "the daemon is stopping");
	}
	wake = --t->holders == 0 && t->finished;
	if (f->stopping)
		pthread_cond_broadcast(&f->cond); /* fetch_free waits */
	pthread_mutex_unlock(&f->lock);
	/* the loop collects it now that nobody reads it */
	if (wake && write(f->efd, &one, sizeof(one)) < 0) {
		/* the counter only saturates */
	}
	return rc;
}

int
fetch_done_next(struct fetch *f, uint64_t *ticket, int *rc, char *msg,
		size_t len)
{
	struct transfer **pp, *t = NULL;
	uint64_t v;

	if (read(f->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new; finished ones may still be listed */
	}
	pthread_mutex_lock(&f->lock);
	for (pp = &f->list; *pp; pp = &(*pp)->next)
		if ((*pp)->finished && !(*pp)->holders) {
			t = *pp;
			*pp = t->next;
			break;
		}
	pthread_mutex_unlock(&f->lock);
	if (!t)
		return 0;
	pthread_join(t->th, NULL);
	*ticket = t->ticket;
	*rc = t->rc;
	snprintf(msg, len, "%s", t->msg);
	free(t);
	return 1;
}

void
fetch_figures(struct fetch *f, struct fetch_figures *out)
{
	pthread_mutex_lock(&f->lock);
	out->active = f->active;
	out->done = f->done;
	out->failed = f->failed;
	pthread_mutex_unlock(&f->lock);
	out->bytes = __atomic_load_n(&f->bytes, __ATOMIC_RELAXED);
	out->wire = __atomic_load_n(&f->wire, __ATOMIC_RELAXED);
}
