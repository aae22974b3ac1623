#!/usr/bin/env bash
# make soak: SOAK_CLIENTS client processes (default 64) each run SOAK_OPS
# mixed operations (default 10,000) with checksums against one daemon
# started here (tests/soak/soak.c says what they do). Passes when no byte
# read back differs, no call failed, and afterwards the daemon holds
# nothing: 0 objects, used bytes back at the baseline, and its resident
# memory back within SOAK_RSS_SLACK_KB (default 32768) of the baseline.
# Bounded: the clients stop after SOAK_SECONDS (default 900), which fails
# the run. Prints every figure.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLIENTS=${SOAK_CLIENTS:-64}
OPS=${SOAK_OPS:-10000}
SECONDS_MAX=${SOAK_SECONDS:-900}
SLACK_KB=${SOAK_RSS_SLACK_KB:-32768}
VYD=$BUILD/vineyardd
CTL=$BUILD/vineyardctl
SOAK=$BUILD/soak/soak

D=$(mktemp -d "${TMPDIR:-/tmp}/vineyard-soak.XXXXXX")
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		wait "$PID"
	fi
	rm -rf "$D"
}
trap cleanup EXIT

export VINEYARD_IPC_SOCKET=$D/v.sock
"$VYD" --foreground --socket "$VINEYARD_IPC_SOCKET" --data-dir none \
	--size 2G --log-level warn >"$D/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	"$CTL" status >/dev/null 2>&1 && break
	kill -0 "$PID" 2>/dev/null || { cat "$D/daemon.log"; exit 1; }
	sleep 0.05
done

field() { "$CTL" --json status | sed -n "s/^  \"$1\": \\([0-9]*\\).*/\\1/p"; }
kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$PID/status"; }

used0=$(field used_bytes)
rss0=$(kb VmRSS)
echo "soak: $CLIENTS clients x $OPS operations, daemon pid $PID"
echo "baseline: used_bytes=$used0 rss_kb=$rss0"
"$SOAK" "$CLIENTS" "$OPS" "$SECONDS_MAX"
rc=$?
# The clients are gone; the daemon notices their sockets closing.
for _ in $(seq 100); do
	[ "$(field clients)" -le 1 ] && break
	sleep 0.05
done
objects=$(field objects)
names=$(field names)
used=$(field used_bytes)
segs=$(field segment_bytes)
rss=$(kb VmRSS)
hwm=$(kb VmHWM)
echo "after: objects=$objects names=$names used_bytes=$used segment_bytes=$segs rss_kb=$rss peak_rss_kb=$hwm"
ok=1
[ "$rc" -eq 0 ] || { echo "FAIL: the clients saw mismatches or errors (above)"; ok=0; }
[ "$objects" -eq 0 ] && [ "$names" -eq 0 ] ||
	{ echo "FAIL: objects or names left"; ok=0; }
[ "$used" -eq "$used0" ] ||
	{ echo "FAIL: used bytes $used, not back at $used0"; ok=0; }
[ "$rss" -le $((rss0 + SLACK_KB)) ] ||
	{ echo "FAIL: resident memory ${rss} kB, baseline ${rss0} kB + ${SLACK_KB} kB"; ok=0; }
kill -0 "$PID" 2>/dev/null || { echo "FAIL: the daemon died"; ok=0; }
if [ "$ok" = 1 ]; then
	echo "soak: ok"
	exit 0
fi
cat "$D/daemon.log"
exit 1
