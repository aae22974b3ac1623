#!/usr/bin/env bash
# b15-spill (issue 15): memory that does not run out or start cold.
#   1. put 1 GiB on the daemon's default flags (no --huge-pages enable; the
#      --reserve pool on its default) vs a warm memcpy (bench_core put),
#      beside the same with --reserve 0 (the fresh-page cost paid during
#      the put); the first put into a daemon as soon as it answers, and
#      the first once its pool is full (bench_core first, which starts
#      the daemon itself and says how long the filling took).
#   2. get of a spilled blob (read back from the spill file into memory,
#      then mapped) vs `lz4 -dc` of the same file to /dev/null: both read
#      the file from disk (a read-back drops its page cache, and the spill
#      file was written with O_DIRECT).
# BENCH_GIB=N changes the 1 GiB of part 2 (e.g. 0.25 for a quick run).
set -u
B=$VY_BUILD
PY=${PYTHON:-/usr/bin/python3}
GIB=${BENCH_GIB:-1}
D=$(mktemp -d /var/tmp/vy-bench15.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

start() { # start SOCK [options]
	local s=$1; shift
	"$B/vineyardd" -f -s "$s" --data-dir "$D/data-$(basename "$s")" "$@" \
		>>"$D/daemon.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		"$B/vineyardctl" -s "$s" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "vineyardd did not start"; cat "$D/daemon.log"; exit 1
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; }

echo "-- put 1 GiB, daemon defaults (reserve pool on); shmem policy:" \
	"$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null)"
start "$D/a.sock" --size 8G
echo "   huge pages: $("$B/vineyardctl" -s "$D/a.sock" --json status | sed -n 's/.*"huge_pages": "\(.*\)".*/\1/p')"
"$B/bench/bench_core" put "$D/a.sock" "target >= 0.8"
stop
echo "-- put 1 GiB, --reserve 0 (every put faults fresh pages)"
start "$D/b.sock" --size 8G --reserve 0
"$B/bench/bench_core" put "$D/b.sock" "report"
stop
echo "-- the first put into a just-started daemon (defaults)"
for w in "" --wait; do
	VY_BENCH_LOG=$D/daemon.log "$B/bench/bench_core" first $w "$D/f.sock" -- \
		"$B/vineyardd" -f -s "$D/f.sock" --data-dir "$D/data-f" --size 8G
	rm -rf "$D/data-f"
done

echo "-- get of a spilled ${GIB} GiB blob vs lz4 -dc of its spill file"
start "$D/c.sock" --size 8G
PYTHONPATH=$(cd "$B/../client/python" && pwd) VINEYARD_LIBRARY=$B/libvineyard.so.0 \
	"$PY" - "$D/c.sock" "$GIB" "$D/data-c.sock/spill/objects" <<'EOF'
import os, subprocess, sys, time
import numpy as np
import vineyard

sock, gib, sdir = sys.argv[1], float(sys.argv[2]), sys.argv[3]
n = int(gib * (1 << 30))
c = vineyard.connect(sock)
# half compressible, half random: what lz4 sees in practice
a = np.empty(n, dtype=np.uint8)
a[: n // 2] = np.arange(n // 2, dtype=np.uint64).astype(np.uint8)
a[n // 2:] = np.random.default_rng(1).integers(0, 256, n - n // 2,
                                               dtype=np.uint8)
oid = c.put(a)
ours, theirs = [], []
for r in range(3):
    c.evict([oid])
    assert c.is_spilled(oid)
    t = time.perf_counter()
    v = c.get(oid)
    ours.append(time.perf_counter() - t)
    del v
    f = [os.path.join(sdir, x) for x in os.listdir(sdir)][0]
    t = time.perf_counter()
    subprocess.run(["lz4", "-dc", f], stdout=subprocess.DEVNULL, check=True)
    theirs.append(time.perf_counter() - t)
o, t = sorted(ours)[1], sorted(theirs)[1]
print("get of a spilled %.2f GiB blob: %.3f s (%.2f GB/s)   baseline lz4 -dc "
      "of its file: %.3f s   ratio %.2f  (target >= 0.8)"
      % (gib, o, n / o / 1e9, t, t / o))
EOF
stop
