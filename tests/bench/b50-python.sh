#!/usr/bin/env bash
# Python package benchmarks: a 1 GiB DataFrame passed between processes
# (vs multiprocessing.Queue and vs multiprocessing.shared_memory) and the
# get of a 1 GiB vs a 1 KiB ndarray. Starts its own vineyardd on a private
# socket. BENCH_GIB=0.25 shrinks the frame; BENCH_RUNS sets repetitions.
set -u
cd "$(dirname "$0")/../.."
VY_BUILD=${VY_BUILD:-$(pwd)/build}
PYTHON=${PYTHON:-/usr/bin/python3}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
"$VY_BUILD/vineyardd" --foreground --socket "$dir/v.sock" --quiet \
	>"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	[ -S "$dir/v.sock" ] && break
	sleep 0.05
done
echo "huge pages: $("$VY_BUILD/vineyardctl" --socket "$dir/v.sock" --json \
	status | sed -n 's/.*"huge_pages": "\(.*\)".*/\1/p')" \
	"(shmem_enabled: $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null))"
PYTHONPATH=client/python${PYTHONPATH:+:$PYTHONPATH} \
VINEYARD_LIBRARY=$VY_BUILD/libvineyard.so.0 \
	"$PYTHON" tests/bench/b50-python.py "$dir/v.sock" "${BENCH_GIB:-1}"
