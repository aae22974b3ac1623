/*
 * concurrent: many threads hammer the daemon at once, half of them
 * sharing one connection (calls on one client serialise) and half with
 * their own. Each round puts a blob of a random size (small and large),
 * names it, gets it by name, checks every byte, releases and deletes it.
 *
 *   concurrent THREADS ROUNDS
 *
 * Prints "rounds=N errors=0". Exits 0 when every round checked out.
 */
#include <inttypes.h>
#include <pthread.h>

#include "helpers.h"

static struct vy_client *shared;
static int rounds;
static int errors;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void
bad(const char *what, struct vy_client *c)
{
	pthread_mutex_lock(&mu);
	errors++;
	fprintf(stderr, "concurrent: %s: %s\n", what, vy_errmsg(c));
	pthread_mutex_unlock(&mu);
}

static void *
worker(void *arg)
{
	long k = (long)arg;
	struct vy_client *c = k % 2 ? shared : must_connect();
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(k + 1) ^
			(uint64_t)getpid();
	char name[64];
	int r;

	for (r = 0; r < rounds; r++) {
		size_t len, i;
		unsigned char *buf;
		struct vy_object *o;
		vy_id id, got;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		len = seed % 3 == 0 ? seed % 4096 : seed % (300u << 10);
		buf = malloc(len ? len : 1);
		for (i = 0; i < len; i++)
			buf[i] = (unsigned char)(seed >> (i % 8 * 8)) + (unsigned char)i;
		snprintf(name, sizeof(name), "t%d-%ld-%d", (int)getpid(), k, r);
		if (vy_put_blob(c, buf, len, &id)) {
			bad("put", c);
			free(buf);
			continue;
		}
		if (vy_name_put(c, name, id))
			bad("name", c);
		if (vy_get_by_name(c, name, 1000, &o)) {
			bad("get", c);
		} else {
			got = vy_object_id(o);
			if (got != id || vy_object_nbytes(o) != len ||
			    (len && memcmp(vy_object_data(o), buf, len)))
				bad("bytes differ", c);
			vy_object_release(c, o);
		}
		if (vy_delete(c, &id, 1, 0, NULL))
			bad("delete", c);
		if (vy_name_get(c, name, 0, &got) != -ENOENT)
			bad("name outlived its object", c);
		free(buf);
	}
	if (c != shared)
		vy_close(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t *t;
	long i, n;

	if (argc != 3)
		die("usage: concurrent THREADS ROUNDS");
	n = atol(argv[1]);
	rounds = atoi(argv[2]);
	shared = must_connect();
	t = calloc((size_t)n, sizeof(*t));
	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i))
			die("pthread_create");
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	vy_close(shared);
	free(t);
	printf("rounds=%ld errors=%d\n", n * rounds, errors);
	return errors ? 1 : 0;
}
