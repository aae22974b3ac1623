/*
 * ctl_status: `vineyardctl status`: the daemon's figures, as the daemon's
 * JSON (--json) or as lines for people.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "banned.h"

/* Picks "key": number out of the daemon's status JSON. */
static uint64_t
jnum(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

static void
jstr(const char *json, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	p = strstr(json, pat);
	if (!p) {
		snprintf(out, len, "-");
		return;
	}
	p += strlen(pat);
	e = strchr(p, '"');
	snprintf(out, len, "%.*s", e ? (int)(e - p) : 0, p);
}

int
cmd_status(int argc, char **argv)
{
	struct vy_client *c;
	char *json, used[32], limit[32], payload[32], huge[32], mnt[256],
		mode[32];
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: %s status\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	rc = vy_status_json(c, &json);
	if (rc) {
		rc = fail(c, rc, "status");
		vy_close(c);
		return rc;
	}
	if (opt_json) {
		fputs(json, stdout);
	} else {
		human(jnum(json, "used_bytes"), used, sizeof(used));
		human(jnum(json, "limit_bytes"), limit, sizeof(limit));
		human(jnum(json, "payload_bytes"), payload, sizeof(payload));
		jstr(json, "huge_pages", huge, sizeof(huge));
		jstr(json, "mount", mnt, sizeof(mnt));
		jstr(json, "fs_mode", mode, sizeof(mode));
		printf("daemon:     pid %" PRIu64 ", up %" PRIu64 " s, socket "
		       "%s\n", jnum(json, "pid"), jnum(json, "uptime_s"),
		       vy_socket_path(c));
		printf("objects:    %" PRIu64 " (%" PRIu64 " blobs, %" PRIu64
		       " names)\n", jnum(json, "objects"), jnum(json, "blobs"),
		       jnum(json, "names"));
		printf("memory:     %s used of %s (%s of data), huge pages "
		       "%s\n", used, limit, payload, huge);
		printf("in flight:  %" PRIu64 " unsealed blobs, %" PRIu64
		       " deleted blobs still mapped\n",
		       jnum(json, "unsealed_blobs"),
		       jnum(json, "deleted_in_use"));
		printf("clients:    %" PRIu64 "\n", jnum(json, "clients"));
		printf("mount:      %s%s%s%s\n", mnt, strcmp(mode, "-") ?
		       " (" : "", strcmp(mode, "-") ? mode : "",
		       strcmp(mode, "-") ? ")" : "");
		{
			uint64_t disk = jnum(json, "disk_bytes");
			uint64_t raw = jnum(json, "disk_raw_bytes");
			char dbuf[32], rbuf[32], dir[512];

			human(disk, dbuf, sizeof(dbuf));
			human(raw, rbuf, sizeof(rbuf));
			jstr(json, "data_dir", dir, sizeof(dir));
			printf("persisted:  %" PRIu64 " objects, %s on disk "
			       "(%s before compression, ratio %.2f), %"
			       PRIu64 " damaged files skipped\n",
			       jnum(json, "persisted_objects"), dbuf, rbuf,
			       disk ? (double)raw / (double)disk : 1.0,
			       jnum(json, "damaged_files"));
			printf("data dir:   %s\n", dir);
		}
	}
	free(json);
	vy_close(c);
	return EX_OK;
}
