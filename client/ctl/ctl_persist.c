/*
 * ctl_persist: `vineyardctl persist` and `unpersist`: keep objects on disk
 * across daemon restarts, or drop their persisted copies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "banned.h"

/* persist and unpersist: argv[0] says which. The objects of one persist
 * go as one group (vy_persist_many): all or none, synced together. */
int
cmd_persist(int argc, char **argv)
{
	int un = strcmp(argv[0], "unpersist") == 0;
	struct vy_client *c;
	vy_id *ids;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s %s ID|NAME...\n", prog, argv[0]);
		return EX_USAGE;
	}
	c = connect_or_die();
	ids = calloc((size_t)argc, sizeof(*ids));
	if (!ids) {
		vy_close(c);
		return fail(NULL, -ENOMEM, argv[0]);
	}
	for (i = 1; i < argc && rc == 0; i++) {
		rc = resolve(c, argv[i], 0, &ids[i - 1]);
		if (rc == 0 && un)
			rc = vy_unpersist(c, ids[i - 1]);
		if (rc)
			rc = fail(c, rc, argv[i]);
	}
	if (rc == 0 && !un) {
		rc = vy_persist_many(c, ids, (size_t)argc - 1);
		if (rc)
			rc = fail(c, rc, argc == 2 ? argv[1] : argv[0]);
	}
	free(ids);
	vy_close(c);
	return rc;
}
