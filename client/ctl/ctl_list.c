/*
 * ctl_list: `vineyardctl ls` (one line or JSON object per object, with
 * its owner, group and mode), `vineyardctl names` (each name with who
 * bound it) and `vineyardctl meta` (one object's metadata as JSON).
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
		printf("], \"persisted\": %s, \"where\": \"%s\", \"uid\": "
		       "%" PRIu32 ", \"gid\": %" PRIu32 ", \"mode\": \"%04o\"",
		       e->persisted ? "true" : "false",
		       e->spilled ? "disk" : "memory", e->uid, e->gid, e->mode);
		if (e->stream)
			printf(", \"stream\": \"%s\"", stream_state(e->stream));
		printf("}");
	} else {
		char mode[10];

		human_bytes(e->nbytes, size, sizeof(size));
		mode_string(e->mode, mode);
		printf("%s  %-28s %10s  %-9s %-6s %s %-8s %-8s ", idbuf,
		       e->typename, size, e->stream ? stream_state(e->stream) :
		       e->persisted ? "persisted" : "-",
		       e->spilled ? "disk" : "memory", mode, user_name(e->uid),
		       group_name(e->gid));
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
		printf("%-17s  %-28s %10s  %-9s %-6s %-9s %-8s %-8s %s\n",
		       "ID", "TYPENAME", "SIZE", "PERSISTED", "WHERE", "MODE",
		       "OWNER", "GROUP", "NAMES");
	rc = vy_list(c, glob, ls_one, &l);
	if (opt_json)
		printf("%s]\n", l.n ? "\n" : "");
	return finish(c, rc, "ls");
}

static int
names_one(void *ctx, const struct vy_name_entry *e)
{
	struct ls_ctx *l = ctx;
	char idbuf[VY_ID_STRLEN];

	vy_id_format(e->id, idbuf);
	if (opt_json) {
		printf("%s\n  {\"name\": ", l->n ? "," : "");
		json_str(stdout, e->name);
		printf(", \"id\": \"%s\", \"uid\": %" PRIu32 ", \"gid\": %"
		       PRIu32 "}", idbuf, e->uid, e->gid);
	} else {
		printf("%-24s %s  %-8s %s\n", e->name, idbuf,
		       user_name(e->uid), group_name(e->gid));
	}
	l->n++;
	return 0;
}

int
cmd_names(int argc, char **argv)
{
	struct ls_ctx l = { 0 };
	struct vy_client *c;
	int rc;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s names [GLOB]\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	if (opt_json)
		printf("[");
	else if (!opt_quiet)
		printf("%-24s %-17s  %-8s %s\n", "NAME", "ID", "OWNER",
		       "GROUP");
	rc = vy_names(c, argc == 2 ? argv[1] : NULL, names_one, &l);
	if (opt_json)
		printf("%s]\n", l.n ? "\n" : "");
	return finish(c, rc, "names");
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
