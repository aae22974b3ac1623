# helper.bash: shared by every bats file. Each test gets its own directory,
# socket and mountpoint under $BATS_TEST_TMPDIR; teardown stops the daemons
# it started (by pid) and unmounts anything mounted there.
#
#   start_daemon [vineyardd options...]   start on $SOCK, wait until it answers
#   stop_daemon                            SIGTERM and wait (checks exit code)
#   vyctl ARGS                             vineyardctl on $SOCK
#   kill_daemon                            SIGKILL, for crash tests

VY_BUILD=${VY_BUILD:-$(cd "$BATS_TEST_DIRNAME/../../build" && pwd)}
VINEYARDD=$VY_BUILD/vineyardd
VINEYARDCTL=$VY_BUILD/vineyardctl
PYTHON=${PYTHON:-/usr/bin/python3}

setup() {
	T=$BATS_TEST_TMPDIR
	SOCK=$T/v.sock
	MNT=$T/mnt
	DAEMON_PID=
	export VINEYARD_IPC_SOCKET=$SOCK
	cd "$T" || return 1
	type local_setup >/dev/null 2>&1 && local_setup
	return 0
}

teardown() {
	type local_teardown >/dev/null 2>&1 && local_teardown
	if [ -n "${DAEMON_PID:-}" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	unmount_all
	return 0
}

# Unmounts every FUSE mount under this test's directory.
unmount_all() {
	local m
	for m in $(awk -v t="$BATS_TEST_TMPDIR" '$2 ~ "^"t {print $2}' /proc/self/mounts); do
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
}

# Starts vineyardd in the foreground on $SOCK with extra options; waits
# until it answers. Its log is $T/daemon.log. Unless the options say
# otherwise, its data directory is $T/data (never the user's default), and
# its reserve pool 64M: by default a daemon faults in up to 1G ahead of puts,
# which hundreds of short-lived test daemons on a shared machine need not
# (the tests of that pool give their own --reserve or --size).
start_daemon() {
	local dd=(--data-dir "$T/data") res=(--reserve 64M) a
	# A second daemon on the same socket would fail while the first still
	# answers: the test would go on with the first one's pid lost, and the
	# orphan would hold bats' output open and hang the whole run.
	if [ -n "${DAEMON_PID:-}" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		echo "start_daemon: this test's daemon (pid $DAEMON_PID) is still running" >&2
		return 1
	fi
	for a in "$@"; do
		case "$a" in
		--data-dir|--data-dir=*|-d) dd=() ;;
		--reserve|--reserve=*|--size|--size=*|-m) res=() ;;
		esac
	done
	# 3>&-: bats waits for every holder of its fd 3; a daemon never needs it.
	"$VINEYARDD" --foreground --socket "$SOCK" "${dd[@]}" "${res[@]}" "$@" >>"$T/daemon.log" 2>&1 3>&- &
	DAEMON_PID=$!
	wait_daemon
}

wait_daemon() {
	local i
	for i in $(seq 100); do
		"$VINEYARDCTL" --socket "$SOCK" status >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$T/daemon.log" >&2; return 1; }
		sleep 0.05
	done
	echo "vineyardd did not answer on $SOCK" >&2
	cat "$T/daemon.log" >&2
	return 1
}

stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
	local rc=$?
	DAEMON_PID=
	return $rc
}

kill_daemon() {
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}

vyctl() {
	"$VINEYARDCTL" --socket "$SOCK" "$@"
}

# The version as the Makefile defines it (the one place it is written).
makefile_version() {
	make -s --no-print-directory -C "$BATS_TEST_DIRNAME/../.." version
}

# status_field KEY: one number from `vineyardctl --json status`.
status_field() {
	vyctl --json status | sed -n "s/^  \"$1\": \\([0-9]*\\).*/\\1/p"
}
