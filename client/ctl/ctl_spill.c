/*
 * ctl_spill: the spilling commands of vineyardctl (vineyardd --spill-dir):
 * `evict` writes objects' blobs to the spill directory and frees their
 * memory, `load` reads them back (`--pin`: and keeps them in memory), and
 * `unpin` lets pinned ones spill again. Upstream's Python names these
 * client.evict, client.load(pin=) and client.unpin.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "banned.h"

/* Blobs up to this many bytes live in shared segments, which never
 * spill (the daemon's PROTO_SMALL_MAX). */
#define SMALL_MAX 4095u

/* Where each object is now, as `ls` says it: "disk" when some blob of it
 * is on disk only. With --json one array for all; otherwise evict notes on
 * stderr the objects that stayed in memory. The exit code: EX_INUSE when
 * an evicted object big enough to spill stayed whole in memory (a client
 * maps it or a file of the mount holds it open). */
static int
report(struct vy_client *c, const char *cmd, char **args, const vy_id *ids,
       int n)
{
	char idbuf[VY_ID_STRLEN];
	int evict = strcmp(cmd, "evict") == 0, i, rc, ex = EX_OK;

	if (opt_json)
		printf("[");
	for (i = 0; i < n; i++) {
		struct vy_object *o;
		uint64_t nbytes = 0;
		int spilled = 0;

		if ((rc = vy_is_spilled(c, ids[i], &spilled)))
			return fail(c, rc, args[i]);
		if (evict && !spilled) {
			if ((rc = vy_get_meta(c, ids[i], &o)))
				return fail(c, rc, args[i]);
			nbytes = vy_object_nbytes(o);
			vy_object_release(c, o);
			if (nbytes > SMALL_MAX) {
				fprintf(stderr, "%s: %s: stays in memory: a "
					"client maps it or a file of the "
					"mount holds it open\n", prog,
					args[i]);
				ex = EX_INUSE;
			} else if (!opt_quiet) {
				fprintf(stderr, "%s: %s: stays in memory: "
					"small blobs are never spilled\n",
					prog, args[i]);
			}
		}
		if (opt_json) {
			vy_id_format(ids[i], idbuf);
			printf("%s{\"id\": \"%s\", \"where\": \"%s\"}",
			       i ? ", " : "", idbuf,
			       spilled ? "disk" : "memory");
		}
	}
	if (opt_json)
		printf("]\n");
	return ex;
}

/* evict, load [--pin] and unpin: argv[0] says which. Every object is
 * resolved before any moves, and the daemon checks read permission on
 * all of them before it moves any (exit 9 for another user's object). */
int
cmd_spill(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pin", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0];
	int load = strcmp(cmd, "load") == 0, pin = 0, ch, n, i, rc = 0;
	struct vy_client *c;
	vy_id *ids;

	while ((ch = getopt_long(argc, argv, load ? "p" : "", lo, NULL)) != -1) {
		if (ch == 'p' && load) {
			pin = 1;
		} else {
			if (ch == 'p')
				fprintf(stderr, "%s: %s: --pin is for load\n",
					prog, cmd);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: %s %s%s ID|NAME...\n", prog, cmd,
			load ? " [--pin]" : "");
		return EX_USAGE;
	}
	n = argc - optind;
	ids = calloc((size_t)n, sizeof(*ids));
	if (!ids)
		return fail(NULL, -ENOMEM, cmd);
	c = connect_or_die();
	for (i = 0; i < n && rc == 0; i++)
		if ((rc = resolve(c, argv[optind + i], 0, &ids[i])))
			rc = fail(c, rc, argv[optind + i]);
	if (rc == 0) {
		if (strcmp(cmd, "evict") == 0)
			rc = vy_evict(c, ids, (size_t)n);
		else if (load)
			rc = vy_load(c, ids, (size_t)n, pin);
		else
			rc = vy_unhold(c, ids, (size_t)n);
		if (rc)
			rc = fail(c, rc, n == 1 ? argv[optind] : cmd);
		else
			rc = report(c, cmd, argv + optind, ids, n);
	}
	free(ids);
	vy_close(c);
	return rc;
}
