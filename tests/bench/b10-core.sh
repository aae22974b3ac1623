#!/usr/bin/env bash
# Issue 2 benchmarks: put 1 GiB, get latency, small objects vs Redis, daemon
# memory per object. Each figure is printed beside its baseline, measured in
# this run. Needs redis-server/redis-benchmark (make deps) for the Redis
# baseline; huge pages are switched on for the daemon's run when root.
set -u
B=$VY_BUILD
D=$(mktemp -d /tmp/vy-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

start() { # start SOCK [options]: vineyardd in the background, wait for it
	local s=$1; shift
	"$B/vineyardd" -f -s "$s" --data-dir "$s.data" "$@" >>"$D/daemon.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		"$B/vineyardctl" -s "$s" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "vineyardd did not start"; cat "$D/daemon.log"; exit 1
}
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; pids=(); }

echo "-- put 1 GiB (daemon with --huge-pages enable: huge pages when root)"
start "$D/a.sock" --size 8G --huge-pages enable
echo "   huge pages: $("$B/vineyardctl" -s "$D/a.sock" --json status | sed -n 's/.*"huge_pages": "\(.*\)".*/\1/p')"
"$B/bench/bench_core" put "$D/a.sock" "target >= 0.5"
stop_all
echo "-- put 1 GiB (daemon with --huge-pages off: 4 KiB pages)"
start "$D/b.sock" --size 8G --huge-pages off
"$B/bench/bench_core" put "$D/b.sock" "report"
stop_all

echo "-- get latency"
start "$D/c.sock" --size 8G
"$B/bench/bench_core" get "$D/c.sock"
stop_all

echo "-- small objects: 64 B put then get, vs Redis SET/GET (64 B values)"
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
	redis-server --port 0 --unixsocket "$D/r.sock" --save "" --appendonly no \
		>"$D/redis.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do [ -S "$D/r.sock" ] && break; sleep 0.1; done
	start "$D/s.sock" --size 2G
	for n in 1 8; do
		ours=() theirs=()
		for round in 1 2 3; do
			ours+=("$("$B/bench/bench_core" small "$D/s.sock" $n 3)")
			r=$(redis-benchmark -s "$D/r.sock" -c $n -n $((n == 1 ? 60000 : 150000)) \
				-t set,get -d 64 --csv 2>/dev/null | awk -F'"' '
				/"SET"/ {s=$4} /"GET"/ {g=$4}
				END {printf "%d", 2 / (1 / s + 1 / g)}')
			theirs+=("$r")
		done
		o=$(printf '%s\n' "${ours[@]}" | sort -n | sed -n 2p)
		t=$(printf '%s\n' "${theirs[@]}" | sort -n | sed -n 2p)
		awk -v o="$o" -v t="$t" -v n=$n 'BEGIN {
			printf "%d client%s: vineyard %d ops/s   Redis SET/GET %d ops/s   ratio %.2f%s\n",
				n, (n > 1) ? "s" : " ", o, t, o / t, (n == 1) ? "  (target >= 1.5)" : "  (report)" }'
	done
	stop_all
else
	echo "   redis-server/redis-benchmark missing: run make deps"
fi

echo "-- daemon memory with 100,000 small objects"
start "$D/m.sock" --size 2G
"$B/bench/bench_core" mem "$D/m.sock" "${pids[-1]}"
stop_all
