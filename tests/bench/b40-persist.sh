#!/usr/bin/env bash
# b40-persist: persistence against its baselines, measured in this run.
#   1. persist of a 1 GiB blob, compressible and random data, vs Debian's
#      `lz4 -1` of the same bytes to the same disk followed by an fsync of
#      the output (`sync FILE`): throughput ratio (target >= 0.7), and the
#      bytes on disk for random data (target <= 1.01x its size).
#   2. status answered while such a persist runs (the daemon never stalls).
#   3. restart with 10,000 persisted objects: time until the daemon first
#      answers (target <= 2 s), vs an empty data dir; SIGTERM and kill -9,
#      and (as root) with the page cache dropped first.
# BENCH_GIB=N changes the 1 GiB (e.g. 0.25 for a quick run).
set -u
B=$VY_BUILD
T=$B/tests/helpers/vy_objtool
PY=${PYTHON:-/usr/bin/python3}
GIB=${BENCH_GIB:-1}
D=$(mktemp -d /var/tmp/vy-bench40.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
export VINEYARD_IPC_SOCKET=$D/v.sock

start() { # start DATADIR: vineyardd in the background, wait for it
	"$B/vineyardd" -f -s "$D/v.sock" --size 6G --data-dir "$1" \
		>>"$D/daemon.log" 2>&1 &
	pid=$!
	for _ in $(seq 400); do
		"$B/vineyardctl" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "vineyardd did not start"; cat "$D/daemon.log"; exit 1
}
stop() { kill "${2:--TERM}" "$pid"; wait "$pid" 2>/dev/null; pid=; }
now() { date +%s.%N; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

bytes=$(awk -v g="$GIB" 'BEGIN {printf "%d", g * 1073741824}')
echo "-- data: $bytes bytes each, in $D ($(findmnt -n -o FSTYPE,SOURCE -T "$D"))"
# Compressible: 64-bit readings that drift slowly, with noisy low bits
# (LZ4 makes ~3x of it); random: /dev/urandom.
"$PY" - "$D/comp" "$bytes" <<'EOF'
import sys, numpy as np
path, total = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(40)
n = 1 << 24
with open(path, "wb") as f:
    done = 0
    while total - done >= 8:
        k = min(n, (total - done) // 8)
        base = (np.arange(done // 8, done // 8 + k, dtype=np.int64) // 64) * 16
        f.write((base + rng.integers(0, 16, k)).astype("<i8").tobytes())
        done += 8 * k
    f.write(bytes(total - done))
EOF
head -c "$bytes" /dev/urandom >"$D/rand"

# The disk is shared and deletes are discarded to it: settle before each
# run, and alternate which of the two goes first.
settle() { sync; sleep 1; }
baseline() { # the same bytes through lz4 -1 to the same disk, then fsync
	settle
	t0=$(now)
	lz4 -1 -q -f "$D/$kind" "$D/out.lz4" && sync "$D/out.lz4"
	t1=$(now)
	base+=("$(echo "$t1 - $t0" | bc)")
	lz4size=$(stat -c %s "$D/out.lz4")
	rm -f "$D/out.lz4"
}
ours() { # the blob is in the store; time vy_persist, which returns once
	 # the file is compressed, written, fsync'ed and renamed
	rm -rf "$D/data"
	start "$D/data"
	settle
	ours+=("$("$T" persist-time "$D/$kind")")
	sizes+=("$(du -b "$D/data/objects/"*.blob | awk '{print $1}')")
	stop
}
for kind in comp rand; do
	ours=() base=() sizes=()
	for round in 1 2 3 4; do
		if [ $((round % 2)) -eq 1 ]; then baseline; ours; else ours; baseline; fi
	done
	o=$(printf '%s\n' "${ours[@]}" | median)
	b=$(printf '%s\n' "${base[@]}" | median)
	s=${sizes[0]}
	awk -v o="$o" -v b="$b" -v n="$bytes" -v k="$kind" -v s="$s" -v l="$lz4size" -v g="$GIB" 'BEGIN {
		printf "persist %g GiB %s: %.2f s (%.0f MB/s)  baseline lz4 -1 + fsync: %.2f s (%.0f MB/s)  ratio: %.2f  (target >= 0.7)\n",
			g, k == "comp" ? "compressible" : "random      ", o, n / o / 1e6, b, n / b / 1e6, b / o
		printf "  on disk: %d bytes = %.4fx the data (lz4 -1: %.4fx)%s\n", s, s / n, l / n,
			k == "rand" ? "  (target <= 1.01)" : "" }'
done

echo "-- status while a $GIB GiB persist runs"
rm -rf "$D/data"
start "$D/data"
"$T" persist-time "$D/rand" >"$D/pt" &
ppid=$!
sleep 0.3
lat=()
while kill -0 "$ppid" 2>/dev/null && [ ${#lat[@]} -lt 20 ]; do
	t0=$(now)
	"$B/vineyardctl" status >/dev/null
	t1=$(now)
	lat+=("$(echo "($t1 - $t0) * 1000" | bc)")
done
wait "$ppid"
idle=()
for _ in 1 2 3 4 5; do
	t0=$(now)
	"$B/vineyardctl" status >/dev/null
	t1=$(now)
	idle+=("$(echo "($t1 - $t0) * 1000" | bc)")
done
stop
[ ${#lat[@]} -gt 0 ] || lat=(0)
awk -v d="$(printf '%s\n' "${lat[@]}" | median)" -v i="$(printf '%s\n' "${idle[@]}" | median)" -v n="${#lat[@]}" -v p="$(cat "$D/pt")" 'BEGIN {
	printf "vineyardctl status during a %.1f s persist: %.1f ms (median of %d)  idle: %.1f ms  ratio: %.2f  (report)\n", p, d, n, i, d / i }'
rm -f "$D/comp" "$D/rand"

echo "-- restart with 10,000 persisted objects"
# answer_time DATADIR: starts vineyardd on DATADIR through vy_objtool, which
# prints the ms until the first status answer; $dpid is the daemon and
# $tpid the tool, which exits when the daemon does.
answer_time() {
	: >"$D/ms"
	"$T" answer-time 30 "$B/vineyardd" -f -s "$D/v.sock" --size 6G \
		--data-dir "$1" >"$D/ms" 2>>"$D/daemon.log" &
	tpid=$!
	while [ ! -s "$D/ms" ] && kill -0 "$tpid" 2>/dev/null; do sleep 0.01; done
	dpid=$(cat "$1/lock")
}
rm -rf "$D/data" "$D/empty"
start "$D/data"
s1=$("$T" many 5000 1000 4)
s2=$("$T" many 5000 65536 4)
n=$("$B/vineyardctl" --json status | sed -n 's/.*"persisted_objects": \([0-9]*\).*/\1/p')
awk -v a="$s1" -v b="$s2" -v n="$n" 'BEGIN {
	printf "  set-up: %d objects persisted (5,000 of 1000 B, 5,000 of 64 KiB; 4 clients) in %.1f s, %.0f persists/s\n", n, a + b, 10000 / (a + b) }'
stop
empty=()
for round in 1 2 3; do
	rm -rf "$D/empty"
	answer_time "$D/empty"
	empty+=("$(cat "$D/ms")")
	kill "$dpid"
	wait "$tpid"
done
e=$(printf '%s\n' "${empty[@]}" | median)
for how in TERM KILL; do
	ours=()
	for round in 1 2 3; do
		answer_time "$D/data"
		ours+=("$(cat "$D/ms")")
		got=$("$B/vineyardctl" --json status | sed -n 's/.*"persisted_objects": \([0-9]*\).*/\1/p')
		kill "-$how" "$dpid"
		wait "$tpid"
	done
	o=$(printf '%s\n' "${ours[@]}" | median)
	awk -v o="$o" -v e="$e" -v n="$got" -v h="$how" 'BEGIN {
		printf "restart after SIG%s, %d persisted objects: answers in %.0f ms  baseline empty data dir: %.0f ms  ratio: %.1f  (target <= 2000 ms)\n",
			h, n, o, e, o / e }'
done
# The same after the page cache is dropped (a reboot's cold start): every
# file header comes from the disk.
if [ -w /proc/sys/vm/drop_caches ]; then
	cold=()
	for round in 1 2 3; do
		sync
		echo 3 >/proc/sys/vm/drop_caches
		answer_time "$D/data"
		cold+=("$(cat "$D/ms")")
		kill "$dpid"
		wait "$tpid"
	done
	awk -v o="$(printf '%s\n' "${cold[@]}" | median)" -v n="$got" 'BEGIN {
		printf "restart with a cold page cache, %d persisted objects: answers in %.0f ms  (report)\n", n, o }'
fi
