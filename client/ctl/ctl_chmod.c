/*
 * ctl_chmod: `vineyardctl chmod [-R] MODE ID|NAME...`: who may read and
 * change objects, as chmod(1) changes files. All the objects given change,
 * or none (the daemon checks them all first).
 */
#include <getopt.h>
#include <stdlib.h>

#include "ctl.h"
#include "banned.h"

int
cmd_chmod(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "recursive", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned clear, set, flags = 0;
	struct vy_client *c;
	vy_id *ids;
	int i, n, rc = 0, ch;

	while ((ch = getopt_long(argc, argv, "+R", lo, NULL)) != -1) {
		if (ch == 'R')
			flags |= VY_CHMOD_TREE;
		else
			return EX_USAGE;
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: %s chmod [-R] MODE ID|NAME...\n",
			prog);
		return EX_USAGE;
	}
	if (parse_mode(argv[optind], &clear, &set))
		return EX_USAGE;
	n = argc - optind - 1;
	ids = calloc((size_t)n, sizeof(*ids));
	if (!ids) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return EX_FAIL;
	}
	c = connect_or_die();
	for (i = 0; i < n && rc == 0; i++)
		if ((rc = resolve(c, argv[optind + 1 + i], 0, &ids[i])))
			rc = fail(c, rc, argv[optind + 1 + i]);
	if (rc) {
		free(ids);
		vy_close(c);
		return rc;
	}
	rc = vy_chmod(c, ids, (size_t)n, clear, set, flags);
	free(ids);
	return finish(c, rc, "chmod");
}
