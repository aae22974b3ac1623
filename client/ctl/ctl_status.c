/*
 * ctl_status: `vineyardctl status`: the daemon's figures, as its JSON
 * (--json, the same text as the mount's status.json) or as lines for
 * people, from the typed struct vy_status.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "banned.h"

static void
print_human(struct vy_client *c, const struct vy_status *st)
{
	char used[32], limit[32], payload[32], disk[32], raw[32];
	char in[32], inlim[32], res[32], spilled[32], sfiles[32];
	char rfill[32], rtarget[32];

	human_bytes(st->used_bytes, used, sizeof(used));
	human_bytes(st->limit_bytes, limit, sizeof(limit));
	human_bytes(st->payload_bytes, payload, sizeof(payload));
	human_bytes(st->disk_bytes, disk, sizeof(disk));
	human_bytes(st->disk_raw_bytes, raw, sizeof(raw));
	human_bytes(st->input_bytes, in, sizeof(in));
	human_bytes(st->input_limit_bytes, inlim, sizeof(inlim));
	human_bytes(st->reserve_bytes, res, sizeof(res));
	human_bytes(st->spilled_bytes, spilled, sizeof(spilled));
	human_bytes(st->spill_file_bytes, sfiles, sizeof(sfiles));
	human_bytes(st->reserve_filled_bytes, rfill, sizeof(rfill));
	human_bytes(st->reserve_target_bytes, rtarget, sizeof(rtarget));
	printf("daemon:     pid %" PRIu64 ", up %" PRIu64 " s, socket %s\n",
	       st->pid, st->uptime_s, vy_socket_path(c));
	printf("objects:    %" PRIu64 " (%" PRIu64 " blobs, %" PRIu64
	       " names)\n", st->objects, st->blobs, st->names);
	printf("memory:     %s used of %s (%s of data), huge pages %s\n",
	       used, limit, payload, st->huge_pages ? st->huge_pages : "-");
	printf("spilled:    %s of blobs on disk only, %s of spill files in "
	       "%s, %" PRIu64 " spills; %s reserved for puts\n", spilled,
	       sfiles, st->spill_dir ? st->spill_dir : "-", st->spills, res);
	if (st->reserve_target_bytes)
		printf("reserve:    %s faulted in ahead of puts, of %s%s\n",
		       rfill, rtarget,
		       st->reserve_filled_bytes >= st->reserve_target_bytes ?
		       " (ready)" : " (filling while a CPU is idle)");
	printf("in flight:  %" PRIu64 " unsealed blobs, %" PRIu64
	       " deleted blobs still mapped\n", st->unsealed_blobs,
	       st->deleted_in_use);
	printf("clients:    %" PRIu64 " (%s of requests being received, limit "
	       "%s)\n", st->clients, in, inlim);
	printf("mount:      %s%s%s%s\n", st->mount ? st->mount : "-",
	       st->fs_mode ? " (" : "", st->fs_mode ? st->fs_mode : "",
	       st->fs_mode ? ")" : "");
	printf("persisted:  %" PRIu64 " objects, %s on disk (%s before "
	       "compression, ratio %.2f), %" PRIu64 " damaged files "
	       "skipped\n", st->persisted_objects, disk, raw,
	       st->disk_bytes ? (double)st->disk_raw_bytes /
	       (double)st->disk_bytes : 1.0, st->damaged_files);
	printf("data dir:   %s\n", st->data_dir ? st->data_dir : "-");
	{
		char held[32], thr[32];

		human_bytes(st->stream_held_bytes, held, sizeof(held));
		human_bytes(st->stream_threshold_bytes, thr, sizeof(thr));
		printf("streams:    %" PRIu64 " (%" PRIu64 " open), chunks "
		       "held %s of threshold %s\n", st->streams,
		       st->streams_open, held, thr);
	}
	if (st->cluster) {
		char moved[32], wire[32];

		human_bytes(st->transfer_bytes, moved, sizeof(moved));
		human_bytes(st->transfer_wire_bytes, wire, sizeof(wire));
		printf("cluster:    %s, instance %" PRIu64 ", %" PRIu64
		       " objects published\n", st->cluster,
		       st->cluster_instance, st->cluster_objects);
		printf("transfers:  %" PRIu64 " in flight, %" PRIu64 " done, %"
		       PRIu64 " failed, %s received from other instances (%s "
		       "on the wire)\n", st->transfers_active,
		       st->transfers_done, st->transfers_failed, moved, wire);
	}
}

int
cmd_status(int argc, char **argv)
{
	struct vy_client *c;
	struct vy_status *st = NULL;
	char *json = NULL;
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: %s status\n", prog);
		return EX_USAGE;
	}
	c = connect_or_die();
	rc = opt_json ? vy_status_json(c, &json) : vy_status(c, &st);
	if (rc == 0 && opt_json)
		fputs(json, stdout);
	else if (rc == 0)
		print_human(c, st);
	free(json);
	free(st);
	return finish(c, rc, "status");
}
