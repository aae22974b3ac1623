# cluster.bash: what the cluster bats files (60-cluster, 63-migrate) share,
# loaded after helper. Daemons are named (a, b, c...) and stand for
# machines: each has $T/NAME.sock, NAME.pid, NAME.log and NAME-data, and is
# started by the file's own start_node, which adds it to NODES; the test's
# etcd runs from $T/etcd (tests/helpers/etcd.sh, free loopback ports).
#
#   cluster_setup       NODES=(); skips the test without etcd
#   local_teardown      SIGTERM to every node, SIGKILL after 5 s; etcd stopped
#   on NAME ARGS...     vineyardctl on NAME's socket (bounded: 120 s)
#   eventually CMD...   retries CMD, at most 300 times 0.1 s apart; when it
#                       gives up, prints every node's view and log
#   joined NAME         NAME's cluster view says it joined
#   free_port           a loopback TCP port nobody listens on now

ETCD_SH=$BATS_TEST_DIRNAME/../helpers/etcd.sh

cluster_setup() {
	NODES=()
	command -v etcd >/dev/null || skip "etcd not installed (make deps)"
}

local_teardown() {
	local n pid
	for n in "${NODES[@]}"; do
		pid=$(cat "$T/$n.pid" 2>/dev/null) || continue
		kill -TERM "$pid" 2>/dev/null
	done
	for n in "${NODES[@]}"; do
		pid=$(cat "$T/$n.pid" 2>/dev/null) || continue
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null
	done
	"$ETCD_SH" stop "$T/etcd" 2>/dev/null
	return 0
}

on() {
	local n=$1
	shift
	timeout 120 "$VINEYARDCTL" --socket "$T/$n.sock" "$@"
}

eventually() {
	local i n
	for i in $(seq 300); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "never true: $*" >&2
	"$@" >&2 || true
	for n in "${NODES[@]}"; do
		echo "--- $n: cluster, ls --cluster, log" >&2
		on "$n" cluster >&2 2>&1 || true
		on "$n" ls --cluster >&2 2>&1 || true
		tail -n 20 "$T/$n.log" >&2 || true
	done
	return 1
}

joined() { on "$1" cluster | grep -q ": joined,"; }

free_port() {
	local p try
	for try in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		ss -Htln 2>/dev/null | awk '{print $4}' | grep -q ":$p\$" || { echo $p; return 0; }
	done
	return 1
}
