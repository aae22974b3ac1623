/*
 * bench_core: the store's own benchmarks, each beside a baseline measured
 * in the same run on this machine:
 *   put SOCK [T]  vy_put_blob of 1 GiB vs memcpy between two pre-faulted
 *                 1 GiB buffers (and memcpy into fresh memory); T: the
 *                 target ratio to print
 *   first [--wait] SOCK -- VINEYARDD ARGS...
 *                 starts the daemon itself, then puts 1 GiB as soon as it
 *                 answers (or, --wait, once status says its reserve pool
 *                 is full, after printing how long that took) vs memcpy
 *   get SOCK      get+release of a 4 KiB and a 1 GiB blob vs a bare UNIX
 *                 socket request/reply round trip
 *   small SOCK N  64-byte put then get, N clients (processes), ops/s
 *   mem SOCK PID  daemon resident memory per small object (100,000 puts)
 * Times are medians of several rounds; the machine is shared and noisy.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vineyard.h"
#include "../helpers/timing.h"

#define GiB (1ul << 30)
#define BARRIER() __asm__ volatile("" ::: "memory")

static struct vy_client *
conn(const char *sock)
{
	struct vy_client *c;
	char err[512];

	if (vy_connect_err(sock, &c, err, sizeof(err))) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	return c;
}

static void
check(struct vy_client *c, int rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "bench: %s: %s\n", what, vy_errmsg(c));
		exit(1);
	}
}

/*
 * Rounds of (warm memcpy, put, delete, wait until the daemon's reserve
 * pool is full again). The memcpy into fresh memory runs
 * in a phase of its own afterwards: on this VM, freeing a gigabyte of
 * freshly faulted memory makes the host reclaim it in the background, and
 * interleaving that with the other two once made the "warm" baseline
 * itself 20x slower. The first put into a just-started daemon pays for
 * the host faulting its memory in; it is printed apart from the steady
 * state the median describes.
 */
/* The kernel reads every page of p once (into a small scratch memfd):
 * on this VM the first kernel access to a page of user memory costs a
 * host fault (the guest kernel has page tables of its own there), which a
 * put's pwrite would otherwise pay, like the memcpy baseline's buffers are
 * warm. */
static void
kernel_warm(const char *p, size_t len)
{
	const size_t w = 2u << 20;
	int fd = memfd_create("warm", MFD_CLOEXEC);
	size_t off;

	if (fd < 0 || ftruncate(fd, (off_t)w) < 0) {
		perror("bench: memfd");
		exit(1);
	}
	for (off = 0; off < len; off += w)
		if (pwrite(fd, p + off, len - off < w ? len - off : w, 0) < 0) {
			perror("bench: pwrite");
			exit(1);
		}
	close(fd);
}

/* A figure of the daemon's status. */
static uint64_t
status_of(struct vy_client *c, int which)
{
	struct vy_status *st;
	uint64_t v;

	check(c, vy_status(c, &st), "status");
	v = which == 0 ? st->reserve_filled_bytes :
	    which == 1 ? st->reserve_target_bytes : st->uptime_s;
	free(st);
	return v;
}

/* Waits (at most 60 s) until the daemon's reserve pool is full again:
 * the figure is a put into a ready pool, the state an idle daemon is in.
 * Returns the seconds it took. */
static double
wait_pool(struct vy_client *c)
{
	double t = now();
	int i;

	for (i = 0; i < 600; i++) {
		if (status_of(c, 0) == status_of(c, 1))
			break;
		usleep(100000);
	}
	return now() - t;
}

static int
bench_put(const char *sock, const char *target)
{
	struct vy_client *c = conn(sock);
	enum { R = 7 };
	double warm[R], fresh[R], put[R], refill[R], t, cold;
	char *src = malloc(GiB), *dst = malloc(GiB);
	int r;

	memset(src, 1, GiB);
	BARRIER();
	memset(dst, 2, GiB);
	BARRIER();
	kernel_warm(src, GiB);
	for (r = 0; r < R; r++) {
		vy_id id;

		t = now();
		memcpy(dst, src, GiB);
		BARRIER();
		warm[r] = (double)GiB / (now() - t) / 1e9;

		t = now();
		check(c, vy_put_blob(c, src, GiB, &id), "put");
		put[r] = (double)GiB / (now() - t) / 1e9;
		check(c, vy_delete(c, &id, 1, 0, NULL), "delete");
		usleep(300000);
		refill[r] = wait_pool(c) + 0.3;
	}
	cold = put[0];
	for (r = 0; r < R; r++) {
		char *f = mmap(NULL, GiB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (f == MAP_FAILED) {
			perror("bench: mmap");
			exit(1);
		}
		t = now();
		memcpy(f, src, GiB);
		BARRIER();
		fresh[r] = (double)GiB / (now() - t) / 1e9;
		munmap(f, GiB);
		usleep(300000);
	}
	printf("  rounds: put");
	for (r = 0; r < R; r++)
		printf(" %.2f", put[r]);
	printf("  warm");
	for (r = 0; r < R; r++)
		printf(" %.2f", warm[r]);
	printf("  fresh");
	for (r = 0; r < R; r++)
		printf(" %.2f", fresh[r]);
	printf("\n");
	/* Steady state: rounds 2..R (the first is the cold put above). */
	printf("put 1 GiB (vy_put_blob):        %6.2f GB/s   baseline memcpy "
	       "warm->warm: %6.2f GB/s   ratio %.2f  (%s)\n",
	       median(put + 1, R - 1), median(warm, R),
	       median(put + 1, R - 1) / median(warm, R), target);
	printf("  (between rounds the reserve pool filled again in %.1f s, "
	       "median; the puts are into a ready pool)\n", median(refill, R));
	printf("  first put of this run:        %6.2f GB/s (the daemon had "
	       "answered before the buffers were made)\n", cold);
	printf("  memcpy into fresh memory:     %6.2f GB/s   (%.2f of warm; "
	       "put is %.1fx this)\n", median(fresh, R),
	       median(fresh, R) / median(warm, R),
	       median(put + 1, R - 1) / median(fresh, R));
	vy_close(c);
	free(src);
	free(dst);
	return 0;
}

/*
 * The first put into a daemon this program starts (argv: the daemon's
 * command), issued as soon as the daemon answers, or with wait once its
 * reserve pool is full (at most 300 s). The buffers are made, and read by
 * the kernel once, before the daemon starts.
 */
static int
bench_first(const char *sock, int wait, char **cmd)
{
	enum { R = 3 };
	char *src = malloc(GiB), *dst = malloc(GiB);
	double warm[R], t, t0, fill = 0, put;
	struct vy_client *c = NULL;
	uint64_t f = 0, tg = 0;
	pid_t pid;
	vy_id id;
	int r, i;

	memset(src, 1, GiB);
	BARRIER();
	memset(dst, 2, GiB);
	BARRIER();
	kernel_warm(src, GiB);
	for (r = 0; r < R; r++) {
		t = now();
		memcpy(dst, src, GiB);
		BARRIER();
		warm[r] = (double)GiB / (now() - t) / 1e9;
	}
	free(dst);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* the daemon's output to $VY_BENCH_LOG, else nowhere */
		const char *log = getenv("VY_BENCH_LOG");
		int fd = open(log ? log : "/dev/null",
			      O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(cmd[0], cmd);
		perror("bench: exec");
		_exit(127);
	}
	t0 = now();
	for (i = 0; i < 2000 && !c; i++) {
		char err[256];

		if (vy_connect_err(sock, &c, err, sizeof(err)))
			usleep(5000);
	}
	if (!c) {
		fprintf(stderr, "bench: the daemon did not answer\n");
		kill(pid, SIGTERM);
		return 1;
	}
	t = now();
	if (wait) {
		for (i = 0; i < 3000; i++) {
			f = status_of(c, 0);
			tg = status_of(c, 1);
			if (f == tg)
				break;
			usleep(100000);
		}
		fill = now() - t0;
	}
	f = status_of(c, 0);
	tg = status_of(c, 1);
	t = now();
	check(c, vy_put_blob(c, src, GiB, &id), "put");
	put = (double)GiB / (now() - t) / 1e9;
	if (wait)
		printf("first put once the pool is full: %5.2f GB/s   baseline "
		       "memcpy warm->warm: %5.2f GB/s   ratio %.2f  (target >= "
		       "0.5)\n  (the pool: %.0f of %.0f MiB after %.1f s)\n",
		       put, median(warm, R), put / median(warm, R),
		       (double)f / (1 << 20), (double)tg / (1 << 20), fill);
	else
		printf("first put as soon as the daemon answers (%.2f s after "
		       "it started): %5.2f GB/s   baseline memcpy warm->warm: "
		       "%5.2f GB/s   ratio %.2f  (report)\n  (the pool: %.0f of "
		       "%.0f MiB filled then)\n", t - t0, put, median(warm, R),
		       put / median(warm, R), (double)f / (1 << 20),
		       (double)tg / (1 << 20));
	vy_close(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	free(src);
	return 0;
}

/* A read that first polls for up to spin_us, as libvineyard does. */
static ssize_t
spin_read(int fd, char *buf, size_t len, int spin_us)
{
	double end = now() + spin_us / 1e6;

	while (spin_us && now() < end) {
		ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);

		if (r >= 0 || errno != EAGAIN)
			return r;
		sched_yield();
	}
	return read(fd, buf, len);
}

/* Median microseconds of a bare 64-byte request/reply between processes;
 * both sides poll spin_us before sleeping (0: plain blocking reads). */
static double
bare_rtt(int n, int spin_us)
{
	int sv[2], i;
	char buf[64] = { 0 };
	double *v = calloc((size_t)n, sizeof(double)), m;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		while (spin_read(sv[1], buf, sizeof(buf), spin_us) ==
		       sizeof(buf))
			if (write(sv[1], buf, sizeof(buf)) != sizeof(buf))
				break;
		_exit(0);
	}
	close(sv[1]);
	for (i = 0; i < n; i++) {
		double t = now();

		if (write(sv[0], buf, sizeof(buf)) != sizeof(buf) ||
		    spin_read(sv[0], buf, sizeof(buf), spin_us) != sizeof(buf))
			break;
		v[i] = (now() - t) * 1e6;
	}
	close(sv[0]);
	waitpid(pid, NULL, 0);
	m = median(v, n);
	free(v);
	return m;
}

static double
get_lat(struct vy_client *c, vy_id id, int n)
{
	double *v = calloc((size_t)n, sizeof(double)), m;
	int i;

	for (i = 0; i < n; i++) {
		struct vy_object *o;
		double t = now();

		check(c, vy_get(c, id, &o), "get");
		if (!vy_object_data(o))
			exit(1);
		vy_object_release(c, o);
		v[i] = (now() - t) * 1e6;
	}
	m = median(v, n);
	free(v);
	return m;
}

static int
bench_get(const char *sock)
{
	struct vy_client *c = conn(sock);
	char *big = malloc(GiB), small[4096];
	double g4, g1, gm, rtt, rtt_spin;
	struct vy_object *held;
	vy_id id4, id1;
	int n = 3000;

	memset(big, 7, GiB);
	memset(small, 3, sizeof(small));
	check(c, vy_put_blob(c, small, sizeof(small), &id4), "put 4 KiB");
	check(c, vy_put_blob(c, big, GiB, &id1), "put 1 GiB");
	free(big);
	/* Interleave so drift hits both alike. */
	get_lat(c, id4, 300);
	get_lat(c, id1, 300);
	g4 = get_lat(c, id4, n);
	g1 = get_lat(c, id1, n);
	g4 = (g4 + get_lat(c, id4, n)) / 2;
	g1 = (g1 + get_lat(c, id1, n)) / 2;
	/* A blob this client maps already (it holds a get): no descriptor
	 * and no mmap per get (issue 15). */
	check(c, vy_get(c, id1, &held), "get");
	gm = get_lat(c, id1, n);
	vy_object_release(c, held);
	rtt = bare_rtt(2 * n, 0);
	rtt_spin = bare_rtt(2 * n, 50);
	printf("get+release 4 KiB:   %6.1f us\n", g4);
	printf("get+release 1 GiB:   %6.1f us   ratio to 4 KiB %.2f  (target "
	       "<= 1.5)\n", g1, g1 / g4);
	printf("bare UNIX socket round trip, blocking reads: %6.1f us   "
	       "get(1 GiB) ratio %.2f  (target <= 3)\n", rtt, g1 / rtt);
	printf("bare round trip, both sides polling 50 us first (as vineyard "
	       "does): %6.1f us   ratio %.2f\n", rtt_spin, g1 / rtt_spin);
	printf("get+release of a 1 GiB blob this client maps already: %6.1f us"
	       "   ratio to the polled round trip %.2f  (target <= 1.5)\n", gm,
	       gm / rtt_spin);
	check(c, vy_delete(c, &id1, 1, 0, NULL), "delete");
	check(c, vy_delete(c, &id4, 1, 0, NULL), "delete");
	vy_close(c);
	return 0;
}

/* One client's put+get loop for secs; returns operations (2 per pair). */
static long
small_loop(const char *sock, double secs)
{
	struct vy_client *c = conn(sock);
	char payload[64];
	long ops = 0;
	double end;

	memset(payload, 5, sizeof(payload));
	end = now() + secs;
	while (now() < end) {
		int k;

		for (k = 0; k < 100; k++) {
			struct vy_object *o;
			vy_id id;

			check(c, vy_put_blob(c, payload, sizeof(payload), &id),
			      "put");
			check(c, vy_get(c, id, &o), "get");
			if (((const char *)vy_object_data(o))[63] != 5)
				exit(1);
			vy_object_release(c, o);
			ops += 2;
		}
	}
	vy_close(c);
	return ops;
}

static int
bench_small(const char *sock, int nclients, double secs)
{
	int p[2], i;
	long total = 0;

	if (pipe(p) < 0)
		return 1;
	for (i = 0; i < nclients; i++) {
		if (fork() == 0) {
			long ops = small_loop(sock, secs);

			if (write(p[1], &ops, sizeof(ops)) != sizeof(ops))
				_exit(1);
			_exit(0);
		}
	}
	close(p[1]);
	for (i = 0; i < nclients; i++) {
		long ops;

		if (read(p[0], &ops, sizeof(ops)) == sizeof(ops))
			total += ops;
		wait(NULL);
	}
	printf("%ld\n", (long)((double)total / secs));
	return 0;
}

static long
rss_kib(const char *pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return v;
}

static int
bench_mem(const char *sock, const char *pid)
{
	struct vy_client *c = conn(sock);
	enum { N = 100000, LEN = 64 };
	long a0, s0, a1, s1;
	char payload[LEN];
	int i;

	memset(payload, 9, sizeof(payload));
	a0 = rss_kib(pid, "RssAnon:");
	s0 = rss_kib(pid, "RssShmem:");
	for (i = 0; i < N; i++) {
		vy_id id;

		payload[0] = (char)i;
		check(c, vy_put_blob(c, payload, LEN, &id), "put");
	}
	a1 = rss_kib(pid, "RssAnon:");
	s1 = rss_kib(pid, "RssShmem:");
	printf("daemon memory for %d objects of %d B: private +%ld KiB, "
	       "shared +%ld KiB (payload %d KiB)\n", N, LEN, a1 - a0, s1 - s0,
	       N * LEN / 1024);
	printf("overhead beyond payload: %.0f B/object  (target <= 200)\n",
	       ((double)(a1 - a0 + s1 - s0) * 1024 - (double)N * LEN) / N);
	vy_close(c);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "put") == 0)
		return bench_put(argv[2], argc > 3 ? argv[3] : "report");
	if (argc >= 5 && strcmp(argv[1], "first") == 0) {
		int w = strcmp(argv[2], "--wait") == 0;

		if (argc >= 5 + w && strcmp(argv[3 + w], "--") == 0)
			return bench_first(argv[2 + w], w, argv + 4 + w);
	}
	if (argc >= 3 && strcmp(argv[1], "get") == 0)
		return bench_get(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "small") == 0)
		return bench_small(argv[2], atoi(argv[3]),
				   argc > 4 ? atof(argv[4]) : 3.0);
	if (argc >= 4 && strcmp(argv[1], "mem") == 0)
		return bench_mem(argv[2], argv[3]);
	fprintf(stderr, "usage: bench_core put SOCK [TARGET] | get SOCK | "
		"small SOCK N [SECS] | mem SOCK PID\n"
		"       | first [--wait] SOCK -- VINEYARDD ARGS...\n");
	return 2;
}
