#!/usr/bin/env bash
# b63-migrate: moving an object between instances against a plain TCP copy
# measured in the same run. A private etcd on free loopback ports
# (tests/helpers/etcd.sh), daemons a and b; a holds a persisted 1 GiB blob
# of random bytes, b migrates it (vineyardctl migrate: the whole fetch, from
# the request to the sealed local copy), then drops the copy; median of 3.
# Baseline (b63-tcpcopy.py): one process sends 1 GiB over a loopback TCP
# socket to another, which receives it into a pre-faulted buffer; median
# of 3. Target: ratio >= 0.8 (issue 13).
set -u
B=$VY_BUILD
PY=${PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
ETCD_SH=$HERE/../helpers/etcd.sh
MIB=${B63_MIB:-1024}
ROUNDS=${B63_ROUNDS:-3}
command -v etcd >/dev/null || { echo "   etcd missing: run make deps"; exit 0; }
D=$(mktemp -d /tmp/vy-bench63.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	"$ETCD_SH" stop "$D/etcd" >/dev/null 2>&1
	rm -rf "$D"
}
trap cleanup EXIT
URL=$("$ETCD_SH" start "$D/etcd") || { echo "etcd did not start"; exit 1; }

port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		ss -Htln 2>/dev/null | awk '{print $4}' | grep -q ":$p\$" || { echo $p; return; }
	done
}
start() { # start NAME
	local n=$1
	"$B/vineyardd" -f -s "$D/$n.sock" --data-dir "$D/$n-data" --size 4G \
		--etcd "$URL" --rpc "127.0.0.1:$(port)" >>"$D/$n.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 200); do
		"$B/vineyardctl" -s "$D/$n.sock" cluster 2>/dev/null | grep -q ": joined," && return 0
		sleep 0.05
	done
	echo "vineyardd $n did not join"; cat "$D/$n.log"; exit 1
}
start a
start b
head -c $((MIB << 20)) /dev/urandom >"$D/data"
id=$("$B/vineyardctl" -s "$D/a.sock" put "$D/data" --persist) || exit 1
rm -f "$D/data"
for _ in $(seq 300); do
	"$B/vineyardctl" -s "$D/b.sock" ls --cluster 2>/dev/null | grep "$id" | grep -qv unavailable && break
	sleep 0.1
done
ours=() theirs=()
for r in $(seq "$ROUNDS"); do
	t0=$(date +%s.%N)
	timeout 300 "$B/vineyardctl" -s "$D/b.sock" migrate "$id" >/dev/null || { echo "migrate failed"; cat "$D/b.log"; exit 1; }
	t1=$(date +%s.%N)
	ours+=("$(echo "$t1 - $t0" | bc)")
	"$B/vineyardctl" -s "$D/b.sock" rm "$id" >/dev/null || exit 1
	theirs+=("$(timeout 300 "$PY" "$HERE/b63-tcpcopy.py" $((MIB << 20)))")
done
o=$(printf '%s\n' "${ours[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p")
t=$(printf '%s\n' "${theirs[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p")
awk -v o="$o" -v t="$t" -v m="$MIB" 'BEGIN {
	printf "migrate %d MiB a->b: %.3f s (%.2f GB/s)   plain TCP copy: %.3f s (%.2f GB/s)   ratio %.2f  (target >= 0.8)\n",
		m, o, m * 1048576 / o / 1e9, t, m * 1048576 / t / 1e9, t / o }'
