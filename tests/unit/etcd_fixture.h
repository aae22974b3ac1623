/*
 * etcd_fixture.h: a private etcd for a C test, through tests/helpers/etcd.sh
 * (free loopback ports, a data dir under a fresh temp dir). fixture_start
 * returns the client URL, or NULL when etcd is not installed (the test
 * then reports itself skipped). Run from the source tree's top (make check
 * does), or point VY_ETCD_SH at the script.
 */
#ifndef VY_ETCD_FIXTURE_H
#define VY_ETCD_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char fixture_dir[64];
static char fixture_url[128];

static int
fixture_run(const char *cmd)
{
	const char *sh = getenv("VY_ETCD_SH");
	char line[512];
	FILE *p;
	int st;

	snprintf(line, sizeof(line), "%s %s %s",
		 sh ? sh : "tests/helpers/etcd.sh", cmd, fixture_dir);
	if (!(p = popen(line, "r")))
		return -1;
	if (!fgets(fixture_url, sizeof(fixture_url), p))
		fixture_url[0] = '\0';
	fixture_url[strcspn(fixture_url, "\n")] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *
fixture_start(void)
{
	snprintf(fixture_dir, sizeof(fixture_dir), "/tmp/vy-etcd-XXXXXX");
	if (!mkdtemp(fixture_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	switch (fixture_run("start")) {
	case 0:
		return fixture_url;
	case 77:
		return NULL;
	default:
		fprintf(stderr, "cannot start etcd (see %s/etcd.log)\n",
			fixture_dir);
		exit(1);
	}
}

static void
fixture_stop(void)
{
	char cmd[128];

	fixture_run("stop");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fixture_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fixture_dir);
}

#endif
