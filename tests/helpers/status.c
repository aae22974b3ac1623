/*
 * status: prints libvineyard's version and the daemon's figures from the
 * typed vy_status() as "key=value" lines (strings absent print as "null"),
 * for 00-daemon.bats to compare with `vineyardctl --json status`.
 */
#include <inttypes.h>

#include "helpers.h"

int
main(void)
{
	struct vy_client *c;
	struct vy_status *st;
	int rc;

	if ((rc = vy_connect(NULL, &c)))
		die("connect: %s", strerror(-rc));
	if ((rc = vy_status(c, &st)))
		die("status: %s", vy_errmsg(c));
	printf("lib_version=%s\n", vy_version());
#define S(f) printf(#f "=%s\n", st->f ? st->f : "null")
#define U(f) printf(#f "=%" PRIu64 "\n", st->f)
	S(version); U(protocol); U(pid); U(uptime_s); S(socket); U(clients);
	U(input_bytes); U(input_limit_bytes);
	U(objects); U(blobs); U(unsealed_blobs); U(deleted_in_use); U(names);
	U(payload_bytes); U(used_bytes); U(limit_bytes); U(segment_bytes);
	U(idle_segment_bytes); S(huge_pages); S(mount); S(fs_mode); S(data_dir);
	U(persisted_objects); U(disk_bytes); U(disk_raw_bytes);
	U(damaged_files);
	S(cluster); U(cluster_instance);
	U(reserve_bytes); S(spill_dir); U(spilled_bytes); U(spill_file_bytes);
	U(spills);
	U(streams); U(streams_open); U(stream_held_bytes);
	U(stream_threshold_bytes);
	U(transfers_active); U(transfers_done); U(transfers_failed);
	U(transfer_bytes); U(transfer_wire_bytes);
	U(reserve_filled_bytes); U(reserve_target_bytes);
	U(cluster_objects);
	free(st);
	vy_close(c);
	return 0;
}
