#!/usr/bin/env bash
# etcd.sh: a private etcd for one test, on free loopback ports, its data in
# DIR/etcd-data. Shared by the C tests (t_etcd, t_cluster) and bats.
#   etcd.sh start DIR     start; prints the client URL (also in DIR/etcd.url)
#   etcd.sh stop DIR      SIGTERM, wait (bounded), SIGKILL if needed
#   etcd.sh kill DIR      SIGKILL now (a crash)
#   etcd.sh restart DIR   start again on the same ports and data
# Exit 77 when etcd is not installed (callers skip), 1 when it did not start.
set -u
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: etcd.sh start|stop|kill|restart DIR" >&2; exit 2; }
ETCD=${ETCD:-$(command -v etcd || echo /usr/bin/etcd)}
mkdir -p "$dir"

alive() { [ -f "$dir/etcd.pid" ] && kill -0 "$(cat "$dir/etcd.pid")" 2>/dev/null; }

# Answers a range request: the gateway is up.
ready() {
	curl -s -m 1 -X POST "$1/v3/kv/range" -d '{"key":"AA=="}' 2>/dev/null | grep -q '"header"'
}

launch() { # CPORT PPORT
	local url=http://127.0.0.1:$1 peer=http://127.0.0.1:$2 i
	# setsid: the etcd outlives this script, and a test's ^C does not hit it
	setsid "$ETCD" --name t --data-dir "$dir/etcd-data" \
		--listen-client-urls "$url" --advertise-client-urls "$url" \
		--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
		--initial-cluster "t=$peer" --log-level error \
		</dev/null >>"$dir/etcd.log" 2>&1 3>&- &
	echo $! >"$dir/etcd.pid"
	for i in $(seq 150); do
		ready "$url" && { echo "$url" >"$dir/etcd.url"; echo "$1 $2" >"$dir/etcd.ports"; echo "$url"; return 0; }
		alive || return 1
		sleep 0.1
	done
	kill -KILL "$(cat "$dir/etcd.pid")" 2>/dev/null
	return 1
}

in_use() { ss -Htln 2>/dev/null | awk '{print $4}' | grep -q ":$1\$"; }

stop() { # SIGNAL
	alive || return 0
	local pid i
	pid=$(cat "$dir/etcd.pid")
	kill "-$1" "$pid" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$dir/etcd.pid"; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	rm -f "$dir/etcd.pid"
}

case $cmd in
start)
	[ -x "$ETCD" ] || { echo "etcd not installed" >&2; exit 77; }
	for try in $(seq 20); do
		c=$((20000 + RANDOM % 30000)) p=$((c + 1))
		in_use $c || in_use $p && continue
		launch $c $p && exit 0
		stop KILL
		rm -rf "$dir/etcd-data"
	done
	echo "etcd did not start (log: $dir/etcd.log)" >&2
	exit 1 ;;
restart)
	read -r c p <"$dir/etcd.ports" || exit 1
	for try in $(seq 50); do
		launch $c $p && exit 0
		sleep 0.2	# the old process's port may linger
	done
	echo "etcd did not restart (log: $dir/etcd.log)" >&2
	exit 1 ;;
stop) stop TERM ;;
kill) stop KILL ;;
*) echo "usage: etcd.sh start|stop|kill|restart DIR" >&2; exit 2 ;;
esac
