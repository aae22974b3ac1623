/*
 * ctl_rm: `vineyardctl rm`: delete objects given by id or name, with their
 * members left unreferenced unless --shallow.
 */
#include <getopt.h>
#include <stdlib.h>

#include "ctl.h"
#include "banned.h"

int
cmd_rm(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "shallow", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct vy_client *c;
	vy_id *ids;
	size_t count = 0;
	unsigned flags = 0;
	int i, n, rc = 0, ch;

	while ((ch = getopt_long(argc, argv, "s", lo, NULL)) != -1) {
		if (ch == 's')
			flags |= VY_DELETE_SHALLOW;
		else
			return EX_USAGE;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: %s rm [--shallow] ID|NAME...\n", prog);
		return EX_USAGE;
	}
	n = argc - optind;
	ids = calloc((size_t)n, sizeof(*ids));
	if (!ids)
		return EX_FAIL;
	c = connect_or_die();
	for (i = 0; i < n; i++) {
		rc = resolve(c, argv[optind + i], 0, &ids[i]);
		if (rc) {
			free(ids);
			return finish(c, rc, argv[optind + i]);
		}
	}
	rc = vy_delete(c, ids, (size_t)n, flags, &count);
	free(ids);
	if (rc == 0 && opt_json)
		printf("{\"deleted\": %zu}\n", count);
	else if (rc == 0 && !opt_quiet && count > (size_t)n)
		fprintf(stderr, "%s: deleted %zu objects (members included)\n",
			prog, count);
	return finish(c, rc, "rm");
}
