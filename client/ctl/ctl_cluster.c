/*
 * ctl_cluster: `vineyardctl cluster` (the daemon's membership and the live
 * instances) and `vineyardctl ls --cluster` (every published object of the
 * cluster, with the instance that owns it). See vineyard-cluster(7).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "banned.h"

struct inst_ctx {
	int n;
	uint32_t self;
};

static int
inst_one(void *ctx, const struct vy_cluster_instance *i)
{
	struct inst_ctx *x = ctx;
	char bytes[32];

	if (opt_json) {
		printf("%s\n    {\"id\": %" PRIu32 ", \"host\": ",
		       x->n ? "," : "", i->id);
		json_str(stdout, i->host);
		printf(", \"socket\": ");
		json_str(stdout, i->socket);
		printf(", \"rpc\": ");
		json_str(stdout, i->rpc);
		printf(", \"pid\": %" PRIu64 ", \"started\": %" PRIu64
		       ", \"alive\": true, \"objects\": %" PRIu64
		       ", \"bytes\": %" PRIu64 "}", i->pid, i->started,
		       i->objects, i->bytes);
	} else {
		human_bytes(i->bytes, bytes, sizeof(bytes));
		printf("%-4" PRIu32 "%s %-16s %-7" PRIu64 " %-21s %8" PRIu64
		       " %10s  %s\n", i->id, i->id == x->self ? "*" : " ",
		       i->host, i->pid, *i->rpc ? i->rpc : "-", i->objects,
		       bytes, i->socket);
	}
	x->n++;
	return 0;
}

int
cmd_cluster(int argc, char **argv)
{
	struct vy_cluster_state st;
	struct inst_ctx x = { 0, 0 };
	struct vy_client *c;
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: %s cluster\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	/* the state first: the instances are listed after it */
	rc = vy_cluster(c, &st, NULL, NULL);
	if (rc) {
		rc = fail(c, rc, "cluster");
		vy_close(c);
		return rc;
	}
	x.self = st.instance;
	if (opt_json) {
		printf("{\n  \"state\": \"%s\",\n  \"instance\": %" PRIu32
		       ",\n  \"prefix\": ", st.state, st.instance);
		json_str(stdout, st.prefix);
		printf(",\n  \"message\": ");
		json_str(stdout, st.message);
		printf(",\n  \"instances\": [");
	} else {
		printf("cluster %s: %s, this daemon is instance %" PRIu32 "%s%s\n",
		       st.prefix, st.state, st.instance, *st.message ? "; " : "",
		       st.message);
		if (!opt_quiet)
			printf("%-5s %-16s %-7s %-21s %8s %10s  %s\n", "ID",
			       "HOST", "PID", "RPC", "OBJECTS", "BYTES",
			       "SOCKET");
	}
	rc = vy_cluster(c, NULL, inst_one, &x);
	if (opt_json)
		printf("%s]\n}\n", x.n ? "\n  " : "");
	if (rc)
		rc = fail(c, rc, "cluster");
	vy_close(c);
	/* not joined: the listing is the last one seen, and the exit says so */
	if (rc == 0 && strcmp(st.state, "joined"))
		rc = EX_CLUSTER;
	return rc;
}

struct obj_ctx {
	int n;
};

static int
obj_one(void *ctx, const struct vy_cluster_object *o)
{
	struct obj_ctx *x = ctx;
	char idbuf[VY_ID_STRLEN], size[32];
	size_t i;

	vy_id_format(o->id, idbuf);
	if (opt_json) {
		printf("%s\n  {\"id\": \"%s\", \"typename\": ", x->n ? "," : "",
		       idbuf);
		json_str(stdout, o->typename);
		printf(", \"nbytes\": %" PRIu64 ", \"instance\": %" PRIu32
		       ", \"available\": %s, \"names\": [", o->nbytes,
		       o->instance, o->available ? "true" : "false");
		for (i = 0; i < o->nnames; i++) {
			if (i)
				printf(", ");
			json_str(stdout, o->names[i]);
		}
		/* as ls shows local objects; null: the record says none */
		if (o->has_owner)
			printf("], \"uid\": %" PRIu32 ", \"gid\": %" PRIu32
			       ", \"mode\": \"%04o\"}", o->uid, o->gid, o->mode);
		else
			printf("], \"uid\": null, \"gid\": null, \"mode\": "
			       "null}");
	} else {
		char mode[10] = "-";

		human_bytes(o->nbytes, size, sizeof(size));
		if (o->has_owner)
			mode_string(o->mode, mode);
		printf("%s  %-28s %10s  %-8" PRIu32 " %-11s %-9s %-8s %-8s ",
		       idbuf, o->typename, size, o->instance,
		       o->available ? "yes" : "no (gone)", mode,
		       o->has_owner ? user_name(o->uid) : "-",
		       o->has_owner ? group_name(o->gid) : "-");
		for (i = 0; i < o->nnames; i++)
			printf("%s%s", i ? "," : "", o->names[i]);
		if (!o->nnames)
			printf("-");
		printf("\n");
	}
	x->n++;
	return 0;
}

int
ls_cluster(struct vy_client *c, const char *glob)
{
	struct obj_ctx x = { 0 };
	int rc;

	if (opt_json)
		printf("[");
	else if (!opt_quiet)
		printf("%-17s  %-28s %10s  %-8s %-11s %-9s %-8s %-8s %s\n",
		       "ID", "TYPENAME", "SIZE", "INSTANCE", "AVAILABLE",
		       "MODE", "OWNER", "GROUP", "NAMES");
	rc = vy_cluster_list(c, glob, obj_one, &x);
	if (opt_json)
		printf("%s]\n", x.n ? "\n" : "");
	if (rc)
		return fail(c, rc, "ls --cluster");
	return EX_OK;
}
