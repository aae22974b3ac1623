/*
 * vy-fsbench: timing loops for tests/bench/b30-fs.sh. Figures only; the
 * script compares them with baselines measured in the same run.
 *
 *   memfd PID ID         print /proc/PID/fd/N, the daemon's descriptor of
 *                        blob ID's memfd (the "direct" baseline)
 *   cmp A B ROUNDS       interleaved rounds of: read(2) A, read(2) B
 *                        (1 MiB reads), mmap+touch A, mmap+touch B (one
 *                        byte per 4 KiB page); prints the medians in GiB/s:
 *                        "read A B" and "mmap A B"
 *   stat PATH N          N stat(2) calls, 5 batches; median ns per call
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static volatile unsigned char sink;

static void
fail(const char *what)
{
	fprintf(stderr, "vy-fsbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* GiB/s of reading path whole with 1 MiB reads. */
static double
read_rate(const char *path)
{
	static char buf[1 << 20];
	double t0, t;
	size_t total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		fail(path);
	t0 = now();
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	t = now() - t0;
	if (n < 0)
		fail(path);
	close(fd);
	sink ^= (unsigned char)buf[0];
	return (double)total / t / (1u << 30);
}

/* GiB/s of mapping path and touching one byte per page, faults included. */
static double
mmap_rate(const char *path)
{
	struct stat st;
	const unsigned char *p;
	double t0, t;
	size_t i, len;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		fail(path);
	len = (size_t)st.st_size;
	t0 = now();
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		fail("mmap");
	for (i = 0; i < len; i += 4096)
		sink ^= p[i];
	munmap((void *)(uintptr_t)p, len);
	t = now() - t0;
	close(fd);
	return (double)len / t / (1u << 30);
}

static int
cmd_cmp(const char *a, const char *b, int rounds)
{
	double *ra = calloc((size_t)rounds, sizeof(double));
	double *rb = calloc((size_t)rounds, sizeof(double));
	double *ma = calloc((size_t)rounds, sizeof(double));
	double *mb = calloc((size_t)rounds, sizeof(double));
	int r;

	if (!ra || !rb || !ma || !mb)
		fail("calloc");
	for (r = 0; r < rounds; r++) {
		ra[r] = read_rate(a);
		rb[r] = read_rate(b);
		ma[r] = mmap_rate(a);
		mb[r] = mmap_rate(b);
	}
	printf("read %.2f %.2f\n", median(ra, rounds), median(rb, rounds));
	printf("mmap %.2f %.2f\n", median(ma, rounds), median(mb, rounds));
	free(ra);
	free(rb);
	free(ma);
	free(mb);
	return 0;
}

static int
cmd_stat(const char *path, long n)
{
	double v[5], t0;
	struct stat st;
	long i;
	int b;

	for (b = 0; b < 5; b++) {
		t0 = now();
		for (i = 0; i < n; i++)
			if (stat(path, &st) < 0)
				fail(path);
		v[b] = (now() - t0) / (double)n * 1e9;
	}
	printf("%.0f\n", median(v, 5));
	return 0;
}

static int
cmd_memfd(const char *pid, const char *id)
{
	char dir[64], path[320], link[256], want[64];
	struct dirent *de;
	DIR *d;

	/* The store names each blob's memfd "vineyard-<16 hex digits>". */
	if (strlen(id) != 17 || id[0] != 'o')
		return fprintf(stderr, "vy-fsbench: bad id %s\n", id), 2;
	snprintf(want, sizeof(want), "/memfd:vineyard-%s", id + 1);
	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	d = opendir(dir);
	if (!d)
		fail(dir);
	while ((de = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strncmp(link, want, strlen(want)) == 0) {
			printf("%s\n", path);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	fprintf(stderr, "vy-fsbench: no memfd for %s in %s\n", id, dir);
	return 1;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "memfd") == 0)
		return cmd_memfd(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "cmp") == 0)
		return cmd_cmp(argv[2], argv[3], atoi(argv[4]) > 0 ?
			       atoi(argv[4]) : 1);
	if (argc == 4 && strcmp(argv[1], "stat") == 0)
		return cmd_stat(argv[2], atol(argv[3]) > 0 ? atol(argv[3]) : 1);
	fprintf(stderr, "usage: vy-fsbench memfd PID ID | cmp A B ROUNDS | "
		"stat PATH N\n");
	return 2;
}
