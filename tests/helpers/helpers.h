/*
 * helpers.h: what the test helper programs share. Each helper is a small
 * real client of libvineyard driven by tests/bats/20-client.bats; it prints
 * what it observed on stdout as "key=value" lines and exits 0 only when
 * everything it checked held. Helpers talk to $VINEYARD_IPC_SOCKET.
 */
#ifndef VY_HELPERS_H
#define VY_HELPERS_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vineyard.h>

/* Not every helper uses every function here. */
#define HELPER_FN static __attribute__((unused))

HELPER_FN __attribute__((noreturn)) void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "helper: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Connects to $VINEYARD_IPC_SOCKET or dies with the library's sentence. */
HELPER_FN struct vy_client *
must_connect(void)
{
	struct vy_client *c;
	char err[512];
	int rc = vy_connect_err(NULL, &c, err, sizeof(err));

	if (rc)
		die("connect: %s (%d)", err, rc);
	return c;
}

/* FNV-1a over len bytes: enough to see whether bytes changed. */
HELPER_FN uint64_t
fnv(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h;
}

/* Waits until path exists (a test's go signal); 0, or -1 after ~60 s. */
HELPER_FN int
wait_for_file(const char *path)
{
	int i;

	for (i = 0; i < 6000; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* An id given as o + 16 hex digits, or a name resolved now. */
HELPER_FN vy_id
must_resolve(struct vy_client *c, const char *arg)
{
	vy_id id;
	int rc;

	if (vy_id_parse(arg, &id) == 0)
		return id;
	rc = vy_name_get(c, arg, 0, &id);
	if (rc)
		die("%s: %s", arg, vy_errmsg(c));
	return id;
}

#endif
