/*
 * timing.h: the clock and the median that the benchmark programs
 * (tests/bench/bench_core.c, tests/helpers/vy-fsbench.c, vy_objtool.c)
 * share, so every figure is timed and summarised the same way.
 */
#ifndef VY_TIMING_H
#define VY_TIMING_H

#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int
timing_dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of v[0..n), n > 0; sorts v in place. */
static inline double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), timing_dcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
