/*
 * test.h: the unit tests' whole framework. CHECK records a failure with its
 * line and goes on; TEST_MAIN runs the listed functions and exits non-zero
 * if anything failed. Output: one "ok"/"not ok" line per test function.
 */
#ifndef VY_TEST_H
#define VY_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int test_failed, test_fn_failed;

#define CHECK(cond)                                                      \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "  %s:%d: check failed: %s\n",   \
				__FILE__, __LINE__, #cond);              \
			test_fn_failed = 1;                              \
		}                                                        \
	} while (0)

#define CHECK_EQ(a, b)                                                   \
	do {                                                             \
		long long va_ = (long long)(a), vb_ = (long long)(b);    \
		if (va_ != vb_) {                                        \
			fprintf(stderr, "  %s:%d: %s == %s: %lld != %lld\n", \
				__FILE__, __LINE__, #a, #b, va_, vb_);   \
			test_fn_failed = 1;                              \
		}                                                        \
	} while (0)

static int
test_run(const char *name, void (*fn)(void))
{
	test_fn_failed = 0;
	fn();
	printf("%s %s\n", test_fn_failed ? "not ok" : "ok", name);
	if (test_fn_failed)
		test_failed++;
	return test_fn_failed;
}

#define RUN(fn) test_run(#fn, fn)
#define TEST_MAIN(...)                                                   \
	int main(void)                                                   \
	{                                                                \
		__VA_ARGS__;                                             \
		return test_failed ? 1 : 0;                              \
	}

#endif
