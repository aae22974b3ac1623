/*
 * ctl_migrate: `vineyardctl migrate ID|NAME`: copies an object that another
 * instance of the cluster holds into this daemon and prints the id of the
 * local copy (vineyard-cluster(7)). An object already here is not copied.
 */
#include <inttypes.h>
#include <string.h>

#include "ctl.h"
#include "banned.h"

int
cmd_migrate(int argc, char **argv)
{
	struct vy_client *c;
	char buf[VY_ID_STRLEN];
	vy_id id, local;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s migrate ID|NAME\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	if (vy_id_parse(argv[1], &id) == 0)
		rc = vy_migrate(c, id, &local);
	else
		rc = vy_migrate_by_name(c, argv[1], &local);
	if (rc == 0) {
		vy_id_format(local, buf);
		if (opt_json)
			printf("{\"id\": \"%s\"}\n", buf);
		else
			printf("%s\n", buf);
	}
	return finish(c, rc, argv[1]);
}
