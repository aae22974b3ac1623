#!/usr/bin/env bats
# The filesystem view (vineyardd --mount) in its default data mode:
# passthrough where the kernel and privileges allow it, else the cached
# fallback (the zero-copy cases then check the fallback's behaviour).
# The cases are in fs-cases.bash; 31-fs-cached.bats runs them again with
# --fs-mode cached.

load helper
FS_MODE_OPTS=
load fs-cases

local_setup() { fs_require; }

@test "fs: the layout: objects, names, status.json, meta.json, typename, data, member links" { case_layout; }
@test "fs: ls, stat, cat, find, tar, cp -a, sha256sum over objects" { case_tools; }
@test "fs: st_size equals the bytes readable, for every file" { case_sizes_exact; }
@test "fs: mmap of blob files from Python and from C" { case_mmap; }
@test "fs: zero copy: a mapping of the data file is the store's own page (pagemap)" { case_zero_copy; }
@test "fs: reading a 256 MiB blob through the mount adds no page cache" { case_no_page_cache; }
@test "fs: names appear, are re-pointed and disappear" { case_names; }
@test "fs: an open blob file stays readable after its object is deleted" { case_delete_while_open; }
@test "fs: every mutating call gets EROFS" { case_read_only; }
@test "fs: 10,000 objects are listed each exactly once" { case_many_objects; }
@test "fs: a listing that outlives a delete leaves no stale entry" { case_listing_then_delete; }
@test "fs: a stale mount left by a killed daemon does not stop the next start" { case_stale_mount; }
@test "fs: a stale mount whose root the kernel has cached is taken over" { case_stale_mount_cached_root; }
@test "fs: a live mount of another daemon is never taken over, even a stopped one" { case_mountpoint_live_not_taken; }
@test "fs: SIGKILL, then a restart on the same mountpoint" { case_sigkill_restart; }
@test "fs: SIGTERM and SIGINT unmount" { case_sigterm; }
@test "fs: missing, non-directory, non-empty and busy mountpoints get clear errors" { case_mountpoint_errors; }
@test "fs: status.json shows what vineyardctl --json status shows" { case_status_json; }
@test "fs: allow_other only when asked" { case_allow_other; }
