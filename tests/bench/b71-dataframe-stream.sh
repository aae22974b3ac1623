#!/usr/bin/env bash
# b71-dataframe-stream: 100 DataFrames of 10 MiB from one process to
# another through a vineyard.io.DataframeStream vs. pickled through a
# multiprocessing.Queue, in this run (target >= 10x). Its own daemon on a
# private socket, with --huge-pages enable (switched on when root).
# BENCH_RUNS sets the stream rounds (default 3), BENCH_QUEUE_RUNS the
# Queue rounds (default 1), BENCH_FRAMES the frames.
set -u
cd "$(dirname "$0")/../.."
VY_BUILD=${VY_BUILD:-$(pwd)/build}
PYTHON=${PYTHON:-/usr/bin/python3}
D=$(mktemp -d /tmp/vy-b71.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

"$VY_BUILD/vineyardd" --foreground --socket "$D/v.sock" --data-dir none \
	--size 2G --huge-pages enable >>"$D/log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	"$VY_BUILD/vineyardctl" --socket "$D/v.sock" status >/dev/null 2>&1 &&
		break
	sleep 0.05
done
if ! "$VY_BUILD/vineyardctl" --socket "$D/v.sock" status >/dev/null 2>&1; then
	echo "vineyardd did not start:"; cat "$D/log"; exit 1
fi
PYTHONPATH=client/python${PYTHONPATH:+:$PYTHONPATH} \
VINEYARD_LIBRARY=$VY_BUILD/libvineyard.so.0 \
	"$PYTHON" tests/bench/b71-dataframe-stream.py "$D/v.sock"
