#!/usr/bin/env bats
# vineyardd: start-up, the socket, signals, options.

load helper

@test "daemon starts, answers status, and stops cleanly on SIGTERM" {
	start_daemon --size 64M
	run vyctl --json status
	[ "$status" -eq 0 ]
	[[ "$output" == *'"limit_bytes": 67108864'* ]]
	[ -S "$SOCK" ]
	stop_daemon
	[ ! -e "$SOCK" ]
}

@test "status: every figure in --json, the same in the typed vy_status(), versions from the Makefile" {
	local v
	v=$(makefile_version)
	[[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]
	start_daemon --size 64M
	vyctl --json status >status.json
	# the keys, in order, and what this daemon must report
	proto=$(sed -n 's/^#define PROTO_VERSION \([0-9]*\).*/\1/p' \
		"$BATS_TEST_DIRNAME/../../src/wire/proto.h")
	"$PYTHON" - "$v" "$DAEMON_PID" "$SOCK" "$T/data" "$proto" <<'PY'
import json, os, sys
v, pid, sock, data, proto = sys.argv[1:]
s = json.load(open("status.json"))
assert list(s) == ["version", "protocol", "pid", "uptime_s", "socket",
    "clients", "input_bytes", "input_limit_bytes", "objects", "blobs",
    "unsealed_blobs", "deleted_in_use", "names", "payload_bytes",
    "used_bytes", "limit_bytes", "segment_bytes", "idle_segment_bytes",
    "huge_pages", "mount", "fs_mode", "data_dir", "persisted_objects",
    "disk_bytes", "disk_raw_bytes", "damaged_files", "cluster",
    "cluster_instance", "reserve_bytes", "spill_dir", "spilled_bytes",
    "spill_file_bytes", "spills", "streams", "streams_open", "stream_held_bytes",
    "stream_threshold_bytes", "transfers_active", "transfers_done",
    "transfers_failed", "transfer_bytes", "transfer_wire_bytes",
    "reserve_filled_bytes", "reserve_target_bytes", "cluster_objects"], list(s)
assert s["version"] == v and s["protocol"] == int(proto), s
assert s["input_limit_bytes"] == 256 << 20, s
assert s["pid"] == int(pid) and s["socket"] == sock, s
assert s["limit_bytes"] == 64 << 20 and s["clients"] == 1, s
assert s["mount"] is None and s["fs_mode"] is None, s
assert s["cluster"] is None and s["cluster_instance"] == 0, s
assert s["cluster_objects"] == 0, s
assert os.path.realpath(s["data_dir"]) == os.path.realpath(data), s
assert os.path.realpath(s["spill_dir"]) == os.path.realpath(data + "/spill"), s
for k, x in s.items():
    assert x is None or isinstance(x, (int, str)), (k, x)
PY
	# the typed struct through libvineyard: the same figures
	"$VY_BUILD/tests/helpers/status" >typed.txt
	"$PYTHON" - "$v" <<'PY'
import json, sys
s = json.load(open("status.json"))
t = dict(l.split("=", 1) for l in open("typed.txt").read().splitlines())
assert t.pop("lib_version") == sys.argv[1], t
assert list(t) == list(s), (list(t), list(s))
for k, x in s.items():
    if k == "uptime_s" or k.startswith("reserve_"):
        continue  # moving: the clock, the pool being filled
    assert t[k] == ("null" if x is None else str(x)), (k, t[k], x)
PY
	run "$VINEYARDD" --version
	[ "$status" -eq 0 ]
	[ "$output" = "vineyardd $v (protocol $proto)" ]
	run vyctl --version
	[ "$output" = "vineyardctl $v" ]
	# the people's form reads the same struct
	run vyctl status
	[ "$status" -eq 0 ]
	[[ "$output" == *"daemon:     pid $DAEMON_PID, "* ]]
	[[ "$output" == *"memory:     0 B used of 64.0 MiB"* ]]
	[[ "$output" == *"mount:      -"* ]]
}

@test "SIGINT also stops it cleanly and removes the socket" {
	start_daemon
	kill -INT "$DAEMON_PID"
	wait "$DAEMON_PID"
	DAEMON_PID=
	[ ! -e "$SOCK" ]
}

@test "a second daemon on the same socket is refused and the first goes on" {
	start_daemon
	run "$VINEYARDD" --foreground --socket "$SOCK" --data-dir none
	[ "$status" -eq 1 ]
	[[ "$output" == *"another vineyardd (pid $DAEMON_PID) is already serving $SOCK"* ]]
	run vyctl status
	[ "$status" -eq 0 ]
}

@test "a stale socket file left by a killed daemon is taken over" {
	start_daemon
	kill_daemon
	[ -S "$SOCK" ]
	run vyctl status
	[ "$status" -eq 4 ]
	start_daemon
	run vyctl status
	[ "$status" -eq 0 ]
}

@test "a socket path that cannot be created names the path, the reason and --socket" {
	run "$VINEYARDD" --foreground --socket /nonexistent-dir/v.sock
	[ "$status" -eq 1 ]
	[[ "$output" == *"/nonexistent-dir/v.sock"* ]]
	[[ "$output" == *"No such file or directory"* ]]
	[[ "$output" == *"--socket PATH"* ]]
}

@test "the default socket path gives the permission message to an unprivileged user" {
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch user"
	command -v setpriv >/dev/null || skip "no setpriv"
	# The build tree may sit in a directory nobody cannot enter.
	local bin
	bin=$(mktemp -d /tmp/vy-perm.XXXXXX)
	chmod 755 "$bin"
	cp "$VINEYARDD" "$bin/"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups env -u VINEYARD_IPC_SOCKET "$bin/vineyardd" --foreground
	rm -rf "$bin"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot create socket /var/run/vineyard.sock"* ]]
	[[ "$output" == *"Permission denied"* ]]
	[[ "$output" == *"--socket PATH"* ]]
}

@test "without --foreground it detaches once ready and writes its pid file" {
	run "$VINEYARDD" --socket "$SOCK" --pidfile "$T/pid" --log-file "$T/daemon.log" --data-dir "$T/data"
	[ "$status" -eq 0 ]
	DAEMON_PID=$(cat "$T/pid")
	kill -0 "$DAEMON_PID"
	run vyctl status
	[ "$status" -eq 0 ]
	kill -TERM "$DAEMON_PID"
	for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$DAEMON_PID" 2>/dev/null || false
	[ ! -e "$T/pid" ]
	DAEMON_PID=
}

@test "bad options get a clear message and exit 2" {
	run "$VINEYARDD" --size banana
	[ "$status" -eq 2 ]
	[[ "$output" == *"--size banana"* ]]
	run "$VINEYARDD" --size 0
	[ "$status" -eq 2 ]
	run "$VINEYARDD" --no-such-option
	[ "$status" -eq 2 ]
	run "$VINEYARDD" stray
	[ "$status" -eq 2 ]
	run "$VINEYARDD" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--socket PATH"* ]]
	[[ "$output" == *"--size SIZE"* ]]
}

@test "--size accepts suffixes" {
	start_daemon --size 1.5G
	[ "$(status_field limit_bytes)" -eq 1610612736 ]
}

@test "the socket file gets --socket-mode" {
	start_daemon --socket-mode 0600
	[ "$(stat -c %a "$SOCK")" = 600 ]
}
