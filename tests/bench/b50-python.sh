#!/usr/bin/env bash
# Python package benchmarks: a 1 GiB DataFrame passed between processes
# (vs multiprocessing.Queue and vs multiprocessing.shared_memory), the get
# of a 1 GiB vs a 1 KiB ndarray, and the upstream-style store (create_blob,
# copy, seal, create_metadata) vs put of an ndarray. Runs its own daemons
# on private sockets: one as configured by default, and, when root, one
# with --huge-pages enable. BENCH_GIB=0.25 shrinks the frame; BENCH_RUNS and
# BENCH_QUEUE_RUNS set repetitions.
set -u
cd "$(dirname "$0")/../.."
VY_BUILD=${VY_BUILD:-$(pwd)/build}
PYTHON=${PYTHON:-/usr/bin/python3}
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait; rm -rf "$dir"' EXIT

start() { # start NAME [options]: a daemon on $dir/NAME.sock
	local name=$1 s=$dir/$1.sock; shift
	"$VY_BUILD/vineyardd" --foreground --socket "$s" --quiet \
		--data-dir "$dir/$name.data" "$@" >>"$dir/log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		"$VY_BUILD/vineyardctl" --socket "$s" status >/dev/null 2>&1 && break
		sleep 0.05
	done
	if ! "$VY_BUILD/vineyardctl" --socket "$s" status >/dev/null 2>&1; then
		echo "vineyardd ($name) did not start:"; cat "$dir/log"; exit 1
	fi
	echo "$name: huge pages $("$VY_BUILD/vineyardctl" --socket "$s" --json \
		status | sed -n 's/.*"huge_pages": "\(.*\)".*/\1/p')"
}

echo "shmem_enabled: $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null)"
start default
daemons=("$dir/default.sock")
if [ "$(id -u)" = 0 ]; then
	start huge --huge-pages enable
	daemons+=("huge pages=$dir/huge.sock")
fi
PYTHONPATH=client/python${PYTHONPATH:+:$PYTHONPATH} \
VINEYARD_LIBRARY=$VY_BUILD/libvineyard.so.0 \
	"$PYTHON" tests/bench/b50-python.py "${BENCH_GIB:-1}" "${daemons[@]}"
