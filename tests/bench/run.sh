#!/usr/bin/env bash
# make bench: runs every tests/bench/bNN-*.sh in order. Each prints its
# figures as "name: value  baseline: value  ratio: x  (target ...)" lines,
# measured against a baseline taken in the same run. BENCH='30-*' runs a
# subset. Needs root for some baselines (huge pages, drop caches).
set -u
cd "$(dirname "$0")/../.."
export VY_BUILD=$(cd "${BUILD:-build}" && pwd)
export PYTHON=${PYTHON:-/usr/bin/python3}
echo "machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
echo "cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
rc=0
for b in tests/bench/b${BENCH:-*}.sh; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b" .sh)"
	"$b" || rc=1
done
exit $rc
