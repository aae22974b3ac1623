#!/usr/bin/env bash
# b60-cluster: the cluster (--etcd) and the TCP front (--rpc) against
# baselines measured in this run. A private etcd on free loopback ports
# (tests/helpers/etcd.sh), two daemons.
#   1. local 64-byte put+get with --etcd on vs the same without a cluster
#      (bench_core small): ratio (target >= 0.95)
#   2-4. names latency, publishing 10,000 objects, TCP get of 256 MiB
#      (b60-cluster.py says how each is measured)
# B60_ONLY=tcp runs part 4 alone (B60_ROUNDS=N: its rounds, default 5):
#   B60_ONLY=tcp BENCH='60-*' nice make bench
set -u
B=$VY_BUILD
PY=${PYTHON:-/usr/bin/python3}
ETCD_SH=$(dirname "$0")/../helpers/etcd.sh
command -v etcd >/dev/null || { echo "   etcd missing: run make deps"; exit 0; }
D=$(mktemp -d /tmp/vy-bench60.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	"$ETCD_SH" stop "$D/etcd" >/dev/null 2>&1
	rm -rf "$D"
}
trap cleanup EXIT
URL=$("$ETCD_SH" start "$D/etcd") || { echo "etcd did not start"; exit 1; }

start() { # start NAME [options]
	local n=$1
	shift
	"$B/vineyardd" -f -s "$D/$n.sock" --data-dir "$D/$n-data" --size 2G "$@" \
		>>"$D/$n.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 200); do
		"$B/vineyardctl" -s "$D/$n.sock" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "vineyardd $n did not start"; cat "$D/$n.log"; exit 1
}
joined() {
	for _ in $(seq 200); do
		"$B/vineyardctl" -s "$D/$1.sock" cluster >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "$1 did not join"; exit 1
}

PORT=$((20000 + RANDOM % 30000))
start plain
start a --etcd "$URL" --rpc "127.0.0.1:$PORT"
start b --etcd "$URL"
joined a
joined b
ours=() theirs=()
[ "${B60_ONLY:-}" = tcp ] || for round in 1 2 3; do
	ours+=("$("$B/bench/bench_core" small "$D/a.sock" 1 2)")
	theirs+=("$("$B/bench/bench_core" small "$D/plain.sock" 1 2)")
done
o=$(printf '%s\n' "${ours[@]}" | sort -n | sed -n 2p)
t=$(printf '%s\n' "${theirs[@]}" | sort -n | sed -n 2p)
[ "${B60_ONLY:-}" = tcp ] || awk -v o="$o" -v t="$t" 'BEGIN {
	printf "local 64 B put+get with --etcd: %d ops/s   without a cluster: %d ops/s   ratio %.2f  (target >= 0.95)\n", o, t, o / t }'
"$PY" "$(dirname "$0")/b60-cluster.py" "$URL" "$D/a.sock" "$D/b.sock" "$PORT" \
	"$B/libvineyard.so.0" "$B/vineyardctl"
