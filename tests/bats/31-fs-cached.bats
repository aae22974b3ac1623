#!/usr/bin/env bats
# The filesystem view with --fs-mode cached: the fallback that serves
# blob files from store memory through the page cache. Same cases as
# 30-fs.bats (see fs-cases.bash), so both data modes are covered; the
# mountpoint and option checks, which do not depend on the mode, run there.

load helper
FS_MODE_OPTS="--fs-mode cached"
load fs-cases

local_setup() { fs_require; }

@test "fs cached: the layout: objects, names, status.json, meta.json, typename, data, member links" { case_layout; }
@test "fs cached: ls, stat, cat, find, tar, cp -a, sha256sum over objects" { case_tools; }
@test "fs cached: st_size equals the bytes readable, for every file" { case_sizes_exact; }
@test "fs cached: mmap of blob files from Python and from C" { case_mmap; }
@test "fs cached: the fallback maps a copy, not the store's page (pagemap)" { case_zero_copy; }
@test "fs cached: reading a 256 MiB blob keeps one copy in the page cache" { case_no_page_cache; }
@test "fs cached: names appear, are re-pointed and disappear" { case_names; }
@test "fs cached: an open blob file stays readable after its object is deleted" { case_delete_while_open; }
@test "fs cached: every mutating call gets EROFS" { case_read_only; }
@test "fs cached: 10,000 objects are listed each exactly once" { case_many_objects; }
@test "fs cached: a listing that outlives a delete leaves no stale entry" { case_listing_then_delete; }
@test "fs cached: a stale mount left by a killed daemon does not stop the next start" { case_stale_mount; }
@test "fs cached: a stale mount whose root the kernel has cached is taken over" { case_stale_mount_cached_root; }
@test "fs cached: a live mount of another daemon is never taken over, even a stopped one" { case_mountpoint_live_not_taken; }
@test "fs cached: SIGKILL, then a restart on the same mountpoint" { case_sigkill_restart; }
@test "fs cached: SIGTERM and SIGINT unmount" { case_sigterm; }
@test "fs cached: status.json shows what vineyardctl --json status shows" { case_status_json; }
