/*
 * ctl_name: the name commands of vineyardctl: `name` binds, `unname`
 * drops, `wait` waits for a name to appear.
 */
#include <getopt.h>
#include <stdlib.h>

#include "ctl.h"
#include "banned.h"

int
cmd_name(int argc, char **argv)
{
	struct vy_client *c;
	vy_id id;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s name ID|NAME NEWNAME\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	rc = resolve(c, argv[1], 0, &id);
	if (rc == 0)
		rc = vy_name_put(c, argv[2], id);
	return finish(c, rc, "name");
}

int
cmd_unname(int argc, char **argv)
{
	struct vy_client *c;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s unname NAME...\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	for (i = 1; i < argc && rc == 0; i++)
		rc = vy_name_drop(c, argv[i]);
	return finish(c, rc, "unname");
}

int
cmd_wait(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct vy_client *c;
	double t = 60;
	char idbuf[VY_ID_STRLEN];
	vy_id id;
	int rc, ch;

	while ((ch = getopt_long(argc, argv, "t:", lo, NULL)) != -1) {
		if (ch == 't')
			t = atof(optarg);
		else
			return EX_USAGE;
	}
	if (optind + 1 != argc || t < 0) {
		fprintf(stderr, "usage: %s wait NAME [--timeout SECONDS]\n",
			prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	rc = vy_name_get(c, argv[optind], seconds_to_ms(t), &id);
	if (rc == 0) {
		vy_id_format(id, idbuf);
		printf("%s\n", idbuf);
	}
	return finish(c, rc, argv[optind]);
}
