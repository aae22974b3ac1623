/*
 * ctl_persist: `vineyardctl persist` and `unpersist`: keep objects on disk
 * across daemon restarts, or drop their persisted copies.
 */
#include <string.h>

#include "ctl.h"
#include "banned.h"

/* persist and unpersist: argv[0] says which. */
int
cmd_persist(int argc, char **argv)
{
	int un = strcmp(argv[0], "unpersist") == 0;
	struct vy_client *c;
	vy_id id;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s %s ID|NAME...\n", prog, argv[0]);
		return EX_USAGE;
	}
	c = connect_or_die();
	for (i = 1; i < argc && rc == 0; i++) {
		rc = resolve(c, argv[i], 0, &id);
		if (rc == 0)
			rc = un ? vy_unpersist(c, id) : vy_persist(c, id);
		if (rc)
			rc = fail(c, rc, argv[i]);
	}
	vy_close(c);
	return rc;
}
