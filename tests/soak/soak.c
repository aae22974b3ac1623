/*
 * soak: many client processes run long random mixes of operations against
 * one daemon and check every byte they read back.
 *
 *   soak CLIENTS OPS [SECONDS]
 *
 * Each client (a forked process with its own connection) runs OPS steps,
 * each one of: put a blob (0 B to 1 MiB, most under 4 KiB), get one of its own by id, delete
 * one, name one (new name or re-point), get one by name, drop a name, or
 * read a blob another client named (which may be gone by then: ENOENT is
 * fine, other bytes are not). Every blob's bytes follow from a seed
 * written in its first 8 bytes, so any reader can check any blob; shorter
 * blobs are checked against the writer's own record. At the end each
 * client deletes what it still holds and drops its names.
 *
 * Prints one line per figure and, last, "mismatches=N errors=N"; exits 0
 * only when both are 0 and every client finished within SECONDS (default
 * 900: the run is bounded even when the daemon is slow).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vineyard.h>

#include "timing.h"

#define LIVE_MAX 16 /* objects a client holds at once */
#define NAMES_MAX 8 /* names a client holds at once */

/* What the clients add up, in shared memory. */
struct totals {
	uint64_t ops[7];
	uint64_t bytes_put, bytes_checked;
	uint64_t mismatches, errors, enoent_foreign, done;
};

enum { OP_PUT, OP_GET, OP_DEL, OP_NAME, OP_GETNAME, OP_DROP, OP_FOREIGN };
static const char *const op_names[] = {
	"put", "get", "delete", "name", "get_by_name", "drop_name",
	"get_foreign",
};

struct live {
	vy_id id;
	uint64_t seed;
	size_t len;
};

struct client {
	struct vy_client *c;
	struct totals *tot;
	int k, nclients;
	uint64_t rng;
	struct live live[LIVE_MAX];
	int nlive;
	struct {
		char name[32];
		vy_id id;
	} names[NAMES_MAX];
	int nnames;
	double deadline;
};

static uint64_t
next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The bytes of a blob of len with seed: the seed itself first (when it
 * fits), then a stream that follows from it. */
static void
fill(unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1, v;
	size_t i;

	for (i = 0; i < len && i < 8; i++)
		p[i] = (unsigned char)(seed >> (8 * i));
	for (i = 8; i < len; i += 8) {
		v = next(&s);
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* Do len bytes at p hold what fill() writes for seed? With seed 0, the
 * seed is read from the bytes (a foreign blob). */
static int
check(const unsigned char *p, size_t len, uint64_t seed)
{
	unsigned char *want;
	int ok;

	if (!seed) {
		size_t i;

		if (len < 8)
			return 1; /* nothing to check it against */
		for (i = 0; i < 8; i++)
			seed |= (uint64_t)p[i] << (8 * i);
	}
	want = malloc(len ? len : 1);
	fill(want, len, seed);
	ok = len == 0 || memcmp(want, p, len) == 0;
	free(want);
	return ok;
}

static void
err(struct client *cl, const char *what, int rc)
{
	__atomic_add_fetch(&cl->tot->errors, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "soak: client %d: %s: %s (%d)\n", cl->k, what,
		vy_errmsg(cl->c), rc);
}

static void
mismatch(struct client *cl, const char *what, vy_id id)
{
	char idbuf[VY_ID_STRLEN];

	vy_id_format(id, idbuf);
	__atomic_add_fetch(&cl->tot->mismatches, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "soak: client %d: %s: bytes of %s differ\n", cl->k,
		what, idbuf);
}

/* Sizes: mostly small, some medium, a few large (the bytes are generated
 * and compared by the clients, so the mix sets the run's length). */
static size_t
pick_len(struct client *cl)
{
	uint64_t r = next(&cl->rng);

	switch (r % 50) {
	case 0:
		return 256u * 1024 + (size_t)(r >> 8) % (768u * 1024);
	case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8:
	case 9:
		return 4096 + (size_t)(r >> 8) % (60u * 1024);
	default:
		return (size_t)(r >> 8) % 4097;
	}
}

static void
get_check(struct client *cl, vy_id id, size_t len, uint64_t seed,
	  const char *what)
{
	struct vy_object *o;
	int rc = vy_get(cl->c, id, &o);

	if (rc) {
		err(cl, what, rc);
		return;
	}
	if (vy_object_nbytes(o) != len ||
	    !check(vy_object_data(o), len, seed))
		mismatch(cl, what, id);
	__atomic_add_fetch(&cl->tot->bytes_checked, len, __ATOMIC_RELAXED);
	vy_object_release(cl->c, o);
}

static void
op_put(struct client *cl)
{
	size_t len = pick_len(cl);
	uint64_t seed = next(&cl->rng) | 1;
	unsigned char *buf = malloc(len ? len : 1);
	struct live *l;
	vy_id id;
	int rc;

	fill(buf, len, seed);
	rc = vy_put_blob(cl->c, buf, len, &id);
	free(buf);
	if (rc) {
		err(cl, "put", rc);
		return;
	}
	l = &cl->live[cl->nlive++];
	l->id = id;
	l->seed = seed;
	l->len = len;
	__atomic_add_fetch(&cl->tot->bytes_put, len, __ATOMIC_RELAXED);
}

static void
forget_names_of(struct client *cl, vy_id id)
{
	int i;

	/* Deleting an object drops its names in the daemon too. */
	for (i = 0; i < cl->nnames; )
		if (cl->names[i].id == id)
			cl->names[i] = cl->names[--cl->nnames];
		else
			i++;
}

static void
op_delete(struct client *cl, int i)
{
	vy_id id = cl->live[i].id;
	size_t count = 0;
	int rc = vy_delete(cl->c, &id, 1, 0, &count);

	if (rc || count != 1)
		err(cl, "delete", rc);
	cl->live[i] = cl->live[--cl->nlive];
	forget_names_of(cl, id);
}

static struct live *
live_of(struct client *cl, vy_id id)
{
	int i;

	for (i = 0; i < cl->nlive; i++)
		if (cl->live[i].id == id)
			return &cl->live[i];
	return NULL;
}

static void
op_name(struct client *cl)
{
	struct live *l = &cl->live[next(&cl->rng) % (unsigned)cl->nlive];
	int i, rc;

	if (cl->nnames < NAMES_MAX && next(&cl->rng) % 2) {
		i = cl->nnames++;
		snprintf(cl->names[i].name, sizeof(cl->names[i].name),
			 "c%d-%" PRIu64, cl->k, next(&cl->rng) % 1000000);
	} else if (cl->nnames) {
		i = (int)(next(&cl->rng) % (unsigned)cl->nnames);
	} else {
		return;
	}
	rc = vy_name_put(cl->c, cl->names[i].name, l->id);
	if (rc) {
		err(cl, "name", rc);
		cl->names[i] = cl->names[--cl->nnames];
		return;
	}
	cl->names[i].id = l->id;
}

static void
op_get_by_name(struct client *cl)
{
	int i = (int)(next(&cl->rng) % (unsigned)cl->nnames);
	struct live *l;
	vy_id id;
	int rc = vy_name_get(cl->c, cl->names[i].name, 0, &id);

	if (rc) {
		err(cl, "get_by_name", rc);
		return;
	}
	l = live_of(cl, id);
	if (id != cl->names[i].id || !l) {
		mismatch(cl, "name points elsewhere", id);
		return;
	}
	get_check(cl, id, l->len, l->seed, "get_by_name");
}

static void
op_drop(struct client *cl)
{
	int i = (int)(next(&cl->rng) % (unsigned)cl->nnames);
	int rc = vy_name_drop(cl->c, cl->names[i].name);

	if (rc)
		err(cl, "drop_name", rc);
	cl->names[i] = cl->names[--cl->nnames];
}

struct pick {
	vy_id id;
	int n;
};

static int
take_first(void *ctx, const char *name, vy_id id)
{
	struct pick *p = ctx;

	(void)name;
	if (p->n++ == 0)
		p->id = id;
	return 0;
}

/* A blob another client named: it may be deleted under us (ENOENT). */
static void
op_foreign(struct client *cl)
{
	int other = (int)(next(&cl->rng) % (unsigned)cl->nclients);
	struct pick pick = { 0, 0 };
	struct vy_object *o;
	char glob[32];
	int rc;

	snprintf(glob, sizeof(glob), "c%d-*", other);
	rc = vy_name_list(cl->c, glob, take_first, &pick);
	if (rc) {
		err(cl, "name_list", rc);
		return;
	}
	if (!pick.n)
		return;
	rc = vy_get(cl->c, pick.id, &o);
	if (rc == -ENOENT) {
		__atomic_add_fetch(&cl->tot->enoent_foreign, 1,
				   __ATOMIC_RELAXED);
		return;
	}
	if (rc) {
		err(cl, "get_foreign", rc);
		return;
	}
	if (!check(vy_object_data(o), vy_object_nbytes(o), 0))
		mismatch(cl, "get_foreign", pick.id);
	__atomic_add_fetch(&cl->tot->bytes_checked, vy_object_nbytes(o),
			   __ATOMIC_RELAXED);
	vy_object_release(cl->c, o);
}

static int
run_client(struct client *cl, long ops)
{
	long n;
	int op;

	for (n = 0; n < ops; n++) {
		uint64_t r = next(&cl->rng) % 100;

		if (n % 256 == 0 && now() > cl->deadline)
			return 1;
		if (cl->nlive == 0 || (r < 30 && cl->nlive < LIVE_MAX))
			op = OP_PUT;
		else if (r < 55)
			op = OP_GET;
		else if (r < 70 || cl->nlive == LIVE_MAX)
			op = OP_DEL;
		else if (r < 80)
			op = OP_NAME;
		else if (r < 90)
			op = cl->nnames ? OP_GETNAME : OP_NAME;
		else if (r < 95)
			op = cl->nnames ? OP_DROP : OP_FOREIGN;
		else
			op = OP_FOREIGN;
		switch (op) {
		case OP_PUT:
			op_put(cl);
			break;
		case OP_GET: {
			struct live *l =
				&cl->live[next(&cl->rng) % (unsigned)cl->nlive];

			get_check(cl, l->id, l->len, l->seed, "get");
			break;
		}
		case OP_DEL:
			op_delete(cl, (int)(next(&cl->rng) %
					    (unsigned)cl->nlive));
			break;
		case OP_NAME:
			op_name(cl);
			break;
		case OP_GETNAME:
			op_get_by_name(cl);
			break;
		case OP_DROP:
			op_drop(cl);
			break;
		default:
			op_foreign(cl);
		}
		__atomic_add_fetch(&cl->tot->ops[op], 1, __ATOMIC_RELAXED);
	}
	/* Leave nothing behind. */
	while (cl->nnames)
		op_drop(cl);
	while (cl->nlive)
		op_delete(cl, cl->nlive - 1);
	return 0;
}

int
main(int argc, char **argv)
{
	struct totals *tot;
	long ops, total = 0;
	int nclients, k, st, late = 0, failed = 0;
	double t0, t1, limit;
	char errbuf[256];

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: soak CLIENTS OPS [SECONDS]\n");
		return 2;
	}
	nclients = atoi(argv[1]);
	ops = atol(argv[2]);
	limit = argc > 3 ? atof(argv[3]) : 900;
	if (nclients < 1 || ops < 1 || limit <= 0) {
		fprintf(stderr, "soak: CLIENTS, OPS and SECONDS must be "
			"positive\n");
		return 2;
	}
	tot = mmap(NULL, sizeof(*tot), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tot == MAP_FAILED) {
		perror("soak: mmap");
		return 1;
	}
	memset(tot, 0, sizeof(*tot));
	t0 = now();
	for (k = 0; k < nclients; k++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("soak: fork");
			return 1;
		}
		if (pid == 0) {
			struct client cl;
			int rc;

			memset(&cl, 0, sizeof(cl));
			cl.tot = tot;
			cl.k = k;
			cl.nclients = nclients;
			cl.rng = 0x9e3779b97f4a7c15ull * (uint64_t)(k + 1) ^
				 (uint64_t)time(NULL);
			cl.deadline = t0 + limit;
			rc = vy_connect_err(NULL, &cl.c, errbuf,
					    sizeof(errbuf));
			if (rc) {
				fprintf(stderr, "soak: client %d: connect: "
					"%s\n", k, errbuf);
				__atomic_add_fetch(&tot->errors, 1,
						   __ATOMIC_RELAXED);
				_exit(1);
			}
			rc = run_client(&cl, ops);
			vy_close(cl.c);
			__atomic_add_fetch(&tot->done, 1, __ATOMIC_RELAXED);
			_exit(rc ? 3 : 0);
		}
	}
	for (k = 0; k < nclients; k++) {
		if (wait(&st) < 0)
			break;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
			late++;
		else if (!WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	}
	t1 = now();
	for (k = 0; k < 7; k++) {
		printf("%s=%" PRIu64 "\n", op_names[k], tot->ops[k]);
		total += (long)tot->ops[k];
	}
	printf("clients=%d ops_per_client=%ld\n", nclients, ops);
	printf("ops=%ld seconds=%.1f ops_per_s=%.0f\n", total, t1 - t0,
	       total / (t1 - t0));
	printf("bytes_put=%" PRIu64 " bytes_checked=%" PRIu64 "\n",
	       tot->bytes_put, tot->bytes_checked);
	printf("foreign_gone=%" PRIu64 "\n", tot->enoent_foreign);
	if (late)
		printf("timed_out_clients=%d (limit %.0f s)\n", late, limit);
	if (failed)
		printf("failed_clients=%d\n", failed);
	printf("mismatches=%" PRIu64 " errors=%" PRIu64 "\n", tot->mismatches,
	       tot->errors);
	return tot->mismatches || tot->errors || late || failed ? 1 : 0;
}
