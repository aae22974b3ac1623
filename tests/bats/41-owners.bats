#!/usr/bin/env bats
# Users: every object has an owner, a group and a mode, and every front
# applies them the same way. Clients run as other users (setpriv) against
# a daemon run as root (or as another user): the socket front refuses get,
# delete, names, persist and chmod by the mode; the FUSE view shows the
# owner and mode so the kernel refuses cat and mmap likewise; owners and
# modes survive a restart; a format-1 data directory still loads.
#
# Users: A = 65534 (nobody, group 65534), B = 65533 (group 65533), G = B
# with 65534 as a supplementary group (A's group), C = 65532. Everything the users
# run sits in $UD, a directory under /tmp they can enter: the build tree
# may be in a directory only root can (a CI clone in /root).

load helper

A=65534
B=65533
C=65532

local_setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run clients as other users"
	command -v setpriv >/dev/null || skip "no setpriv"
	UD=$(mktemp -d /tmp/vy-users.XXXXXX)
	chmod 0755 "$UD"
	cp "$VINEYARDCTL" "$UD/vineyardctl"
	chmod 0755 "$UD/vineyardctl"
	SOCK=$UD/v.sock
	export VINEYARD_IPC_SOCKET=$SOCK
	MNT=$UD/mnt
}

local_teardown() {
	[ -n "${UD:-}" ] || return 0
	if [ -n "${DAEMON_PID:-}" ]; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_PID=
	fi
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	rm -rf "$UD"
}

# as_a / as_b / as_g CMD...: CMD as that user.
as_a() { setpriv --reuid=$A --regid=$A --clear-groups "$@"; }
as_b() { setpriv --reuid=$B --regid=$B --clear-groups "$@"; }
as_g() { setpriv --reuid=$B --regid=$B --groups=$A "$@"; }
as_c() { setpriv --reuid=$C --regid=$C --clear-groups "$@"; }
# ctl_a / ctl_b / ctl_g ARGS: vineyardctl as that user.
ctl_a() { as_a "$UD/vineyardctl" --socket "$SOCK" "$@"; }
ctl_b() { as_b "$UD/vineyardctl" --socket "$SOCK" "$@"; }
ctl_g() { as_g "$UD/vineyardctl" --socket "$SOCK" "$@"; }
ctl_c() { as_c "$UD/vineyardctl" --socket "$SOCK" "$@"; }

# A daemon every user may connect to (socket 0666), with a data dir.
users_daemon() {
	start_daemon --socket-mode 0666 --data-dir "$UD/data" "$@"
}

# A file anyone can read, with known bytes.
datafile() {
	head -c "$2" /dev/urandom >"$UD/$1"
	chmod 0644 "$UD/$1"
}

@test "socket: another user cannot get, meta, delete or persist an object; its group may read" {
	users_daemon
	datafile d 100000
	ID=$(ctl_a put "$UD/d" --name d)
	# the owner
	ctl_a get d -o - | cmp - "$UD/d"
	# another user: refused, exit 8, a sentence naming the object
	run ctl_b get d
	[ "$status" -eq 9 ]
	[[ "$output" == *"ermission denied"* ]]
	[[ "$output" == *"$ID"* ]]
	run ctl_b get "$ID"
	[ "$status" -eq 9 ]
	run ctl_b meta d
	[ "$status" -eq 9 ]
	run ctl_b rm d
	[ "$status" -eq 9 ]
	run ctl_b persist d
	[ "$status" -eq 9 ]
	# nothing changed
	[ "$(vyctl get d | cmp - "$UD/d" && echo same)" = same ]
	[[ "$(vyctl ls)" != *persisted* ]]
	# the group (0640): reads, but neither deletes nor persists
	ctl_g get d -o - | cmp - "$UD/d"
	ctl_g meta d >/dev/null
	run ctl_g rm d
	[ "$status" -eq 9 ]
	run ctl_g persist d
	[ "$status" -eq 9 ]
	# root does everything
	vyctl get d | cmp - "$UD/d"
	# the owner deletes and persists
	ctl_a persist d
	ctl_a rm d
	run vyctl get d
	[ "$status" -eq 3 ]
}

@test "socket: a delete of several objects is all or nothing over permissions" {
	users_daemon
	datafile d 1000
	IA=$(ctl_a put "$UD/d")
	IB=$(ctl_b put "$UD/d")
	run ctl_b rm "$IB" "$IA"
	[ "$status" -eq 9 ]
	# B's own object is still there too
	[ "$(vyctl --json ls | grep -c '"id"')" -eq 2 ]
	ctl_b rm "$IB"
	[ "$(vyctl --json ls | grep -c '"id"')" -eq 1 ]
}

@test "socket: names are owned: another user cannot re-point, drop or bind them" {
	users_daemon
	datafile d 5000
	IA=$(ctl_a put "$UD/d" --name n)
	IB=$(ctl_b put "$UD/d")
	# re-pointing A's name at B's object: refused, the name unchanged
	run ctl_b name "$IB" n
	[ "$status" -eq 9 ]
	[ "$(vyctl wait n -t 0)" = "$IA" ]
	# a put that would re-point it is refused whole: no object is left
	run ctl_b put "$UD/d" --name n
	[ "$status" -eq 9 ]
	[ "$(vyctl --json ls | grep -c '"id"')" -eq 2 ]
	run ctl_b unname n
	[ "$status" -eq 9 ]
	[ "$(vyctl wait n -t 0)" = "$IA" ]
	# binding a new name to A's object needs write on it
	run ctl_b name "$IA" bname
	[ "$status" -eq 9 ]
	run vyctl wait bname -t 0
	[ "$status" -ne 0 ]
	# but anyone resolves a name, and B names its own objects
	[ "$(ctl_b wait n -t 0)" = "$IA" ]
	ctl_b name "$IB" bname
	# the owner re-points and drops its own names; root may too, and a
	# name it re-points stays its owner's
	ctl_a name "$IA" n2
	vyctl name "$IB" n
	[ "$(vyctl wait n -t 0)" = "$IB" ]
	# names lists who bound each name: n is still A's, bname B's
	run ctl_b names
	[ "$status" -eq 0 ]
	grep -E "^bname +$IB +65533 +65533$" <<<"$output"
	grep -E "^n +$IB +nobody +nogroup$" <<<"$output"
	grep -E "^n2 +$IA +nobody +nogroup$" <<<"$output"
	run ctl_b --json names 'n*'
	[[ "$output" == *"{\"name\": \"n\", \"id\": \"$IB\", \"uid\": $A, \"gid\": $A}"* ]]
	[[ "$output" != *bname* ]]
	run ctl_b unname n
	[ "$status" -eq 9 ]
	ctl_a unname n
	ctl_a unname n2
}

@test "put --mode and chmod: who may read and write follows the mode" {
	users_daemon
	datafile d 3000
	ID=$(ctl_a put "$UD/d" --name d --mode 0644)
	ctl_b get d -o - | cmp - "$UD/d"
	# only the owner changes the mode
	run ctl_b chmod 0666 d
	[ "$status" -eq 9 ]
	run ctl_g chmod 0666 d
	[ "$status" -eq 9 ]
	# symbolic: others lose read, the group gains write
	ctl_a chmod o-r,g+w d
	[[ "$(vyctl ls)" == *"rw-rw----"* ]]
	run ctl_b get d
	[ "$status" -eq 9 ]
	# the group may now delete... but first give it back to others
	ctl_a chmod 0604 "$ID"
	ctl_b get d -o - | cmp - "$UD/d"
	# 0604: the group class has nothing, even though others read
	run ctl_g get d
	[ "$status" -eq 9 ]
	ctl_a chmod 0660 d
	ctl_g rm d
	# bad modes: execute bits, garbage
	ID=$(ctl_a put "$UD/d")
	run ctl_a chmod 0755 "$ID"
	[ "$status" -eq 2 ]
	run ctl_a chmod u+x "$ID"
	[ "$status" -eq 2 ]
	run ctl_a chmod 'x=r' "$ID"
	[ "$status" -eq 2 ]
	run ctl_a put "$UD/d" --mode 9
	[ "$status" -eq 2 ]
	[ "$(vyctl --json ls | grep -c '"id"')" -eq 1 ]
}

@test "chmod -R shares a composite object with its members; a get needs read on every member" {
	users_daemon
	cp "$VY_BUILD/tests/helpers/mkobj" "$VY_BUILD/libvineyard.so.0" "$UD/"
	chmod 0755 "$UD/mkobj"
	run as_a env LD_LIBRARY_PATH="$UD" VINEYARD_IPC_SOCKET="$SOCK" "$UD/mkobj" frame
	[ "$status" -eq 0 ]
	[[ "$output" == *verified=yes* ]]
	ROOT=$(sed -n 's/^root=//p' <<<"$output")
	BUF=$(sed -n 's/^a.buffer=//p' <<<"$output")
	# the root alone readable is not enough: its members are not
	ctl_a chmod o+r frame
	run ctl_b meta frame
	[ "$status" -eq 0 ]
	run ctl_b get "$BUF"
	[ "$status" -eq 9 ]
	run as_b env LD_LIBRARY_PATH="$UD" VINEYARD_IPC_SOCKET="$SOCK" "$UD/mkobj" --check frame
	[ "$status" -ne 0 ]
	[[ "$output" == *"ermission denied"* ]]
	ctl_a chmod -R o+r frame
	ctl_b get "$BUF" >/dev/null
	run as_b env LD_LIBRARY_PATH="$UD" VINEYARD_IPC_SOCKET="$SOCK" "$UD/mkobj" --check frame
	[ "$status" -eq 0 ]
	[[ "$output" == *verified=yes* ]]
	# B cannot delete the tree, nor a member of it
	run ctl_b rm "$ROOT"
	[ "$status" -eq 9 ]
}

@test "ls shows the owner, group and mode" {
	users_daemon
	datafile d 10
	ctl_a put "$UD/d" --name a >/dev/null
	ctl_b put "$UD/d" --name b --mode 0600 >/dev/null
	run vyctl ls
	[ "$status" -eq 0 ]
	[[ "$output" == *MODE*OWNER*GROUP* ]]
	grep -E "rw-r----- +nobody +nogroup +a$" <<<"$output"
	grep -E "rw------- +$B +$B +b$" <<<"$output"
	run vyctl --json ls
	[[ "$output" == *"\"uid\": $A, \"gid\": $A, \"mode\": \"0640\""* ]]
	[[ "$output" == *"\"uid\": $B, \"gid\": $B, \"mode\": \"0600\""* ]]
}

@test "mount: with --allow-other the kernel applies the object's mode to cat and mmap" {
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "no fusermount3"
	mkdir -p "$MNT"
	users_daemon --mount "$MNT" --allow-other
	datafile d 200000
	ID=$(ctl_a put "$UD/d" --name d)
	[ "$(stat -c '%u %g %a' "$MNT/objects/$ID")" = "$A $A 750" ]
	[ "$(stat -c '%u %g %a' "$MNT/objects/$ID/data")" = "$A $A 440" ]
	# the owner and the group read and map it; another user cannot
	as_a cat "$MNT/names/d/data" | cmp - "$UD/d"
	as_g cat "$MNT/objects/$ID/data" | cmp - "$UD/d"
	run as_b cat "$MNT/objects/$ID/data"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run as_b cat "$MNT/names/d/meta.json"
	[ "$status" -ne 0 ]
	mmap='import mmap,sys; f=open(sys.argv[1],"rb"); m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); sys.stdout.buffer.write(m[:])'
	as_a "$PYTHON" -c "$mmap" "$MNT/objects/$ID/data" | cmp - "$UD/d"
	run as_b "$PYTHON" -c "$mmap" "$MNT/objects/$ID/data"
	[ "$status" -ne 0 ]
	[[ "$output" == *PermissionError* ]]
	# a chmod shows at once, and lets B in
	ctl_a chmod o+r d
	[ "$(stat -c %a "$MNT/objects/$ID/data")" = 444 ]
	as_b cat "$MNT/objects/$ID/data" | cmp - "$UD/d"
	as_b "$PYTHON" -c "$mmap" "$MNT/names/d/data" | cmp - "$UD/d"
	ctl_a chmod o-r d
	run as_b cat "$MNT/objects/$ID/data"
	[ "$status" -ne 0 ]
	# names show who bound them
	[ "$(stat -c %u "$MNT/names/d")" = "$A" ]
}

@test "mount: the root lets in only whom the socket does" {
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "no fusermount3"
	mkdir -p "$MNT"
	# socket 0660 in A's group: A connects and enters, B does neither
	start_daemon --socket-group $A --mount "$MNT" --allow-other
	[ "$(stat -c '%g %a' "$SOCK")" = "$A 660" ]
	[ "$(stat -c '%g %a' "$MNT")" = "$A 550" ]
	datafile d 10
	ctl_a put "$UD/d" --name d >/dev/null
	as_a ls "$MNT/names" | grep -qx d
	run ctl_b ls
	[ "$status" -eq 4 ]
	run as_b ls "$MNT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	stop_daemon
	run "$VINEYARDD" --foreground --socket "$SOCK" --socket-group no-such-group-here
	[ "$status" -eq 2 ]
	[[ "$output" == *"no such group"* ]]
}

@test "persisted objects keep their owner, group and mode across a restart" {
	users_daemon
	datafile d 70000
	datafile s 100
	ID=$(ctl_a put "$UD/d" --name d --persist --mode 0604)
	ctl_b put "$UD/s" --name s --persist >/dev/null
	run ctl_a chmod 0600 s
	[ "$status" -eq 9 ]
	# a chmod of a persisted object is on disk too
	ctl_b chmod 0640 s
	stop_daemon
	users_daemon
	run vyctl --json ls
	[[ "$output" == *"\"uid\": $A, \"gid\": $A, \"mode\": \"0604\""* ]]
	[[ "$output" == *"\"uid\": $B, \"gid\": $B, \"mode\": \"0640\""* ]]
	# others read A's d (lazily loaded from disk), the group class not
	ctl_b get d -o - | cmp - "$UD/d"
	run ctl_g get d
	[ "$status" -eq 9 ]
	run ctl_b rm d
	[ "$status" -eq 9 ]
	# names keep their owner
	run ctl_b name "$(ctl_b wait s -t 0)" d
	[ "$status" -eq 9 ]
	ctl_a rm d
	kill_daemon
	users_daemon
	run vyctl get d
	[ "$status" -eq 3 ]
	[ "$(ctl_b get s | cmp - "$UD/s" && echo same)" = same ]
}

@test "a refused get of a blob still on disk reads nothing back from it" {
	users_daemon
	datafile d 300000
	ctl_a put "$UD/d" --name d --persist >/dev/null
	stop_daemon
	users_daemon
	# restored lazily: on disk, not in memory
	[ "$(status_field payload_bytes)" -eq 0 ]
	run ctl_b get d -o /dev/null
	[ "$status" -eq 9 ]
	[[ "$output" == *"ermission denied"* ]]
	run ctl_b unpersist d
	[ "$status" -eq 9 ]
	# nothing was read back for them
	[ "$(status_field payload_bytes)" -eq 0 ]
	# the owner's get reads it
	ctl_a get d -o - | cmp - "$UD/d"
	[ "$(status_field payload_bytes)" -eq 300000 ]
}

@test "a data directory of format 1 still loads, owned by the daemon's user" {
	FIX=$BATS_TEST_DIRNAME/../fixtures/format1
	mkdir -p "$UD/data"
	cp -r "$FIX/format" "$FIX/objects" "$UD/data/"
	users_daemon
	vyctl get big | cmp - "$FIX/big.orig"
	vyctl get small | cmp - "$FIX/small.orig"
	vyctl meta frame | grep -q '"typename": "vineyard::DataFrame"'
	run vyctl --json ls
	[ "$(grep -c '"id"' <<<"$output")" -eq 7 ]
	[ "$(grep -c "\"uid\": $(id -u), \"gid\": $(id -g), \"mode\": \"0640\"" <<<"$output")" -eq 7 ]
	[ "$(grep -c '"persisted": true' <<<"$output")" -eq 7 ]
	# the directory is format 2 now, and nothing was set aside
	[ "$(tail -1 "$UD/data/format")" = "format 2" ]
	[ "$(ls "$UD/data/damaged" | wc -l)" -eq 0 ]
	# the daemon's user owns them: another user reads nothing
	run ctl_a get big
	[ "$status" -eq 9 ]
	# its names too: root re-points one, a user cannot
	run ctl_a unname small
	[ "$status" -eq 9 ]
	# old and new files side by side load again
	vyctl chmod 0644 small
	datafile n 10
	ctl_a put "$UD/n" --name new --persist >/dev/null
	stop_daemon
	users_daemon
	ctl_a get small -o - | cmp - "$FIX/small.orig"
	ctl_a get new -o - | cmp - "$UD/n"
	vyctl get big | cmp - "$FIX/big.orig"
	[ "$(ls "$UD/data/damaged" | wc -l)" -eq 0 ]
}

@test "the daemon's own user may do everything; a daemon run by a user serves it" {
	cp "$VINEYARDD" "$UD/vineyardd"
	chmod 0755 "$UD/vineyardd"
	chown $A "$UD"
	# setpriv itself, not the as_a function: a function in the background
	# is a subshell, and $! would be the subshell, not the daemon that
	# teardown must stop.
	setpriv --reuid=$A --regid=$A --clear-groups \
		"$UD/vineyardd" --foreground --socket "$SOCK" --socket-mode 0666 \
		--data-dir none >"$UD/daemon.log" 2>&1 3>&- &
	DAEMON_PID=$!
	wait_daemon
	datafile d 10
	ctl_b put "$UD/d" --name d --mode 0600 >/dev/null
	run ctl_c get d
	[ "$status" -eq 9 ]
	# A runs the daemon: A may
	ctl_a get d -o - | cmp - "$UD/d"
	ctl_a chmod 0644 d
	ctl_a rm d
	# and it stops as any daemon does, its socket gone
	stop_daemon
	[ ! -e "$SOCK" ]
}

@test "python: put(mode=) and PermissionDenied" {
	"$PYTHON" -c 'import numpy' 2>/dev/null || skip "no numpy"
	users_daemon
	cp -r "$BATS_TEST_DIRNAME/../../client/python/vineyard" "$UD/"
	cp "$VY_BUILD/libvineyard.so.0" "$UD/"
	chmod -R a+rX "$UD/vineyard" "$UD/libvineyard.so.0"
	# An ASan build of the library needs its runtime loaded first (as
	# scripts/run-tests.sh does for pytest).
	local pre= asan=${ASAN_OPTIONS:-}
	if ldd "$UD/libvineyard.so.0" 2>/dev/null | grep -q libasan; then
		pre="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
		asan=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
	fi
	py() {
		"$@" env PYTHONPATH="$UD" VINEYARD_LIBRARY="$UD/libvineyard.so.0" \
			PYTHONDONTWRITEBYTECODE=1 LD_PRELOAD="$pre" \
			ASAN_OPTIONS="$asan" "$PYTHON" -c "$PY" "$SOCK"
	}
	PY='
import sys, vineyard, numpy as np
c = vineyard.connect(sys.argv[1])
c.put(np.arange(1000.0), name="shared", mode=0o644)
c.put(np.arange(10.0), name="private")
'
	py as_a
	PY='
import sys, errno, vineyard, numpy as np
c = vineyard.connect(sys.argv[1])
assert (c.get(name="shared") == np.arange(1000.0)).all()
try:
    c.get(name="private")
except vineyard.PermissionDenied as e:
    assert e.errno == errno.EACCES and isinstance(e, PermissionError), e
else:
    raise SystemExit("private was readable")
try:
    c.delete(c.get_name("shared"))
except PermissionError:
    pass
else:
    raise SystemExit("shared was deleted")
try:
    c.put(np.arange(3.0), mode=0o755)
except vineyard.InvalidArgument:
    pass
else:
    raise SystemExit("mode 0755 taken")
print("ok")
'
	run py as_b
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "spilling: another user may not evict, load or unpin an object (exit 9), nothing moves" {
	users_daemon --size 64M
	datafile d 3000000
	ctl_a put "$UD/d" --name d >/dev/null
	run ctl_b evict d
	[ "$status" -eq 9 ]
	[[ "$output" == *"ermission denied"* ]]
	[[ "$(vyctl ls)" == *" memory "*d* ]]
	run ctl_b load --pin d
	[ "$status" -eq 9 ]
	run ctl_b unpin d
	[ "$status" -eq 9 ]
	# the group (0640) reads, so it may move the bytes too
	ctl_g evict d
	[[ "$(vyctl ls)" == *" disk "*d* ]]
	ctl_a load --pin d
	[[ "$(vyctl ls)" == *" memory "*d* ]]
	ctl_a unpin d
	ctl_a get d -o - | cmp - "$UD/d"
}

@test "streams: another user may not ask for a stream's state without read (stream-info)" {
	users_daemon
	# with the library beside it: the build dir may be closed to a and b
	# (a clone in a 0700 mktemp dir, as CI makes)
	cp "$VY_BUILD/tests/helpers/streamtool" "$VY_BUILD/libvineyard.so.0" "$UD/"
	chmod 0755 "$UD/streamtool" "$UD/libvineyard.so.0"
	datafile d 10000
	ctl_a put --stream "$UD/d" --name priv --mode 0600 >/dev/null
	ctl_a put --stream "$UD/d" --name open --mode 0644 >/dev/null
	run as_a env LD_LIBRARY_PATH="$UD" VINEYARD_IPC_SOCKET="$SOCK" "$UD/streamtool" info priv
	[ "$status" -eq 0 ]
	[[ "$output" == *"state=2"* ]]
	run as_b env LD_LIBRARY_PATH="$UD" VINEYARD_IPC_SOCKET="$SOCK" "$UD/streamtool" info priv
	[ "$status" -eq 9 ]
	[[ "$output" == *"ermission denied"* ]]
	[[ "$output" != *"state="* ]]
	run as_b env LD_LIBRARY_PATH="$UD" VINEYARD_IPC_SOCKET="$SOCK" "$UD/streamtool" info open
	[ "$status" -eq 0 ]
	[[ "$output" == *"state=2"* ]]
	# as the open for reading does
	run ctl_b get --follow priv
	[ "$status" -eq 9 ]
}
