/*
 * ctl_list: `vineyardctl ls` (one line or JSON object per object) and
 * `vineyardctl meta` (one object's metadata as JSON).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>

#include "ctl.h"
#include "banned.h"

static const char *
stream_state(int s)
{
	return s == VY_STREAM_OPEN ? "open" : s == VY_STREAM_FINISHED ?
		"finished" : "failed";
}

struct ls_ctx {
	int n;
};

static int
ls_one(void *ctx, const struct vy_list_entry *e)
{
	struct ls_ctx *l = ctx;
	char idbuf[VY_ID_STRLEN], size[32];
	size_t i;

	vy_id_format(e->id, idbuf);
	if (opt_json) {
		printf("%s\n  {\"id\": \"%s\", \"typename\": ", l->n ? "," : "",
		       idbuf);
		json_str(stdout, e->typename);
		printf(", \"nbytes\": %" PRIu64 ", \"names\": [", e->nbytes);
		for (i = 0; i < e->nnames; i++) {
			if (i)
				printf(", ");
			json_str(stdout, e->names[i]);
		}
		printf("], \"persisted\": %s, \"where\": \"%s\"",
		       e->persisted ? "true" : "false",
		       e->spilled ? "disk" : "memory");
		if (e->stream)
			printf(", \"stream\": \"%s\"", stream_state(e->stream));
		printf("}");
	} else {
		human_bytes(e->nbytes, size, sizeof(size));
		printf("%s  %-28s %10s  %-9s %-6s ", idbuf, e->typename, size,
		       e->stream ? stream_state(e->stream) :
		       e->persisted ? "persisted" : "-",
		       e->spilled ? "disk" : "memory");
		for (i = 0; i < e->nnames; i++)
			printf("%s%s", i ? "," : "", e->names[i]);
		if (!e->nnames)
			printf("-");
		printf("\n");
	}
	l->n++;
	return 0;
}

int
cmd_ls(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "type", required_argument, NULL, 't' },
		{ "cluster", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *glob = NULL;
	int cluster = 0;
	struct ls_ctx l = { 0 };
	struct vy_client *c;
	int rc, ch;

	while ((ch = getopt_long(argc, argv, "t:C", lo, NULL)) != -1) {
		if (ch == 't')
			glob = optarg;
		else if (ch == 'C')
			cluster = 1;
		else
			return EX_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s ls [--type GLOB] [--cluster]\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	if (cluster) {
		rc = ls_cluster(c, glob);
		vy_close(c);
		return rc;
	}
	if (opt_json)
		printf("[");
	else if (!opt_quiet)
		printf("%-17s  %-28s %10s  %-9s %-6s %s\n", "ID", "TYPENAME",
		       "SIZE", "PERSISTED", "WHERE", "NAMES");
	rc = vy_list(c, glob, ls_one, &l);
	if (opt_json)
		printf("%s]\n", l.n ? "\n" : "");
	return finish(c, rc, "ls");
}

int
cmd_meta(int argc, char **argv)
{
	struct vy_client *c;
	char *json;
	vy_id id;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s meta ID|NAME\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	rc = resolve(c, argv[1], 0, &id);
	if (rc == 0)
		rc = vy_meta_json(c, id, &json);
	if (rc == 0) {
		fputs(json, stdout);
		free(json);
	}
	return finish(c, rc, argv[1]);
}
