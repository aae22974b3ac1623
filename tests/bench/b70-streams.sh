#!/usr/bin/env bash
# b70-streams: 1 GiB from one process to another in 4 MiB chunks through a
# byte stream vs. a plain pipe (writer and reader of the same sizes, each
# reader summing every byte), interleaved rounds, medians, in this run:
#   1. one reader: stream vs. pipe (target >= 1.5x)
#   2. three readers of one stream vs. the pipe to one reader (>= 1.0x)
# The daemon runs with --huge-pages enable (switched on when root).
set -u
B=${VY_BUILD:-$(cd "$(dirname "$0")/../../build" && pwd)}
SB=$B/tests/helpers/streambench
ROUNDS=${ROUNDS:-5}
BYTES=${BYTES:-$((1 << 30))}
CHUNK=$((4 << 20))
D=$(mktemp -d /tmp/vy-b70.XXXXXX)
PID=
export VINEYARD_IPC_SOCKET=$D/v.sock

cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

"$B/vineyardd" --foreground --socket "$D/v.sock" --data-dir none \
	--size 2G --huge-pages enable >>"$D/log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	"$B/vineyardctl" status >/dev/null 2>&1 && break
	sleep 0.05
done

now() { date +%s%N; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
gbps() { awk -v b="$BYTES" -v ns="$1" 'BEGIN {printf "%.2f", b / ns}'; }

pipe_round() {
	local t0 t1
	t0=$(now)
	"$SB" pipe-write "$BYTES" "$CHUNK" | "$SB" pipe-read "$CHUNK" 2>"$D/pipe.out"
	t1=$(now)
	echo $((t1 - t0))
}

# stream_round N: one writer, N readers (all opened before the first chunk)
stream_round() {
	local n=$1 i t0 t1 pids=()
	for i in $(seq "$n"); do
		"$SB" stream-read "s$R" 2>"$D/stream$i.out" &
		pids+=($!)
	done
	t0=$(now)
	"$SB" stream-write "s$R" "$BYTES" "$CHUNK" "$n" || exit 1
	for i in "${pids[@]}"; do
		wait "$i" || exit 1
	done
	t1=$(now)
	"$B/vineyardctl" rm "s$R" >/dev/null
	echo $((t1 - t0))
}

: >"$D/p"; : >"$D/s1"; : >"$D/s3"
for R in $(seq "$ROUNDS"); do
	pipe_round >>"$D/p"
	R=a$R stream_round 1 >>"$D/s1"
	cmp -s "$D/pipe.out" "$D/stream1.out" || {
		echo "stream and pipe readers disagree:"; cat "$D"/*.out; exit 1; }
	R=b$R stream_round 3 >>"$D/s3"
	for i in 2 3; do
		cmp -s "$D/pipe.out" "$D/stream$i.out" || {
			echo "reader $i disagrees"; exit 1; }
	done
done
p=$(median <"$D/p"); s1=$(median <"$D/s1"); s3=$(median <"$D/s3")
echo "stream 1 GiB, 4 MiB chunks, 1 reader: $(gbps "$s1") GB/s  baseline (pipe): $(gbps "$p") GB/s  ratio: $(awk -v a="$s1" -v b="$p" 'BEGIN {printf "%.2f", b / a}')  (target >= 1.5)"
echo "stream 1 GiB to 3 readers: $(gbps "$s3") GB/s  baseline (pipe, 1 reader): $(gbps "$p") GB/s  ratio: $(awk -v a="$s3" -v b="$p" 'BEGIN {printf "%.2f", b / a}')  (target >= 1.0)"
