#!/usr/bin/env bats
# Spilling (issue 15): when memory runs short, cold blobs go to the spill
# directory (lz4 files with checksums) and come back on use; a blob a
# reader maps never goes; faults (full disk, damaged file, restart) are
# clean. Small stores (8 MiB) keep it quick.

load helper

SPILL=
HOLD_PID=

local_setup() {
	SPILL=$T/data/spill/objects
	for i in $(seq 16); do
		head -c $((2 << 20)) /dev/urandom >"$T/p$i.bin"
	done
}

local_teardown() {
	[ -n "${HOLD_PID:-}" ] && kill "$HOLD_PID" 2>/dev/null
	if mountpoint -q "$T/tiny" 2>/dev/null; then
		[ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "${DAEMON_PID:-0}" 2>/dev/null || break
			sleep 0.1
		done
		umount "$T/tiny" 2>/dev/null || umount -l "$T/tiny"
	fi
}

# held_at_gate: waits (at most 30 s) until the spill writer is held by
# VINEYARD_TEST_SPILL_GATE (it says so with $T/gate.waiting)
held_at_gate() {
	for _ in $(seq 600); do
		[ -e "$T/gate.waiting" ] && return 0
		sleep 0.05
	done
	[ -e "$T/gate.waiting" ]
}
figure() { # figure NAME: a number from --json status
	vyctl --json status | sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p"
}

@test "4 x the memory limit put and read back byte for byte; ls says where" {
	start_daemon --size 8M
	for i in $(seq 16); do
		timeout 30 "$VINEYARDCTL" put "$T/p$i.bin" --name "p$i" >/dev/null
	done
	[ "$(figure used_bytes)" -le $((8 << 20)) ]
	[ "$(figure spilled_bytes)" -ge $((16 << 20)) ]
	[ "$(figure spill_file_bytes)" -gt 0 ]
	[ "$(ls "$SPILL" | wc -l)" -ge 8 ]
	run vyctl ls
	[[ "${lines[0]}" == *PERSISTED*WHERE*NAMES* ]]
	[[ "$output" == *" disk "*p1* ]]
	[[ "$output" == *" memory "* ]]
	# every one back, in an order that makes each reload spill others
	for i in 1 9 2 10 3 11 4 12 5 13 6 14 7 15 8 16; do
		timeout 30 "$VINEYARDCTL" get "p$i" -o "$T/b$i.bin"
		cmp "$T/p$i.bin" "$T/b$i.bin"
	done
	vyctl --json ls | grep -q '"where": "disk"'
	grep -q "spill" "$T/daemon.log" || true
}

@test "a mapped blob is never spilled: its bytes stay intact while others spill" {
	start_daemon --size 8M
	id=$(vyctl put "$T/p1.bin" --name held)
	# a reader maps it and keeps it while 12 MiB more go in
	timeout 60 "$VY_BUILD/tests/helpers/hold" "$id" "$T/go" >"$T/h.out" &
	HOLD_PID=$!
	for _ in $(seq 600); do
		grep -qx ready "$T/h.out" 2>/dev/null && break
		sleep 0.05
	done
	grep -qx ready "$T/h.out"
	for i in $(seq 2 7); do vyctl put "$T/p$i.bin" --name "p$i" >/dev/null; done
	[ "$(figure spilled_bytes)" -gt 0 ]
	run vyctl ls
	[[ "$output" == *"$id"*" memory "*held* ]]
	[ ! -e "$SPILL/$id.blob" ]
	touch "$T/go"
	wait "$HOLD_PID"
	HOLD_PID=
	grep -qx "intact=yes" "$T/h.out"
	vyctl get held -o "$T/b1.bin"
	cmp "$T/p1.bin" "$T/b1.bin"
}

@test "a spilled blob reads back through the mount (cmp)" {
	mkdir "$MNT"
	start_daemon --size 8M --mount "$MNT"
	for i in 1 2 3 4 5 6; do vyctl put "$T/p$i.bin" --name "p$i" >/dev/null; done
	id=$(vyctl meta p1 | sed -n 's/.*"id": "\(o[0-9a-f]*\)".*/\1/p' | head -1)
	[ -e "$SPILL/$id.blob" ]
	run vyctl ls
	[[ "$output" == *"$id"*" disk "* ]]
	for i in 1 2 3 4 5 6; do
		timeout 30 cmp "$T/p$i.bin" "$MNT/names/p$i/data"
	done
}

@test "spill directory on a full disk: a clear error, nothing already stored lost" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
	mkdir "$T/tiny"
	mount -t tmpfs -o size=3M tmpfs "$T/tiny"
	start_daemon --size 8M --spill-dir "$T/tiny/spill"
	ok=0
	for i in $(seq 10); do
		run timeout 30 "$VINEYARDCTL" put "$T/p$i.bin" --name "p$i"
		if [ "$status" -ne 0 ]; then
			[ "$status" -eq 5 ]
			[[ "$output" == *"cannot spill"* ]]
			[[ "$output" == *"No space left"* ]]
			break
		fi
		ok=$i
	done
	[ "$ok" -ge 3 ] && [ "$ok" -lt 10 ]
	# No temp file stays (the spiller may be writing one right now, and
	# retries while the disk is full: wait, bounded, for a moment without)
	for _ in $(seq 100); do
		ls -a "$T/tiny/spill/objects" | grep -q '^\.tmp-' || break
		sleep 0.1
	done
	! ls -a "$T/tiny/spill/objects" | grep -q '^\.tmp-' || false
	# nothing stored is lost: while the disk is full a read back that
	# needs another spill is the same clean error...
	for i in $(seq "$ok"); do
		run timeout 30 "$VINEYARDCTL" get "p$i" -o "$T/b$i.bin"
		if [ "$status" -eq 0 ]; then
			cmp "$T/p$i.bin" "$T/b$i.bin"
		else
			[ "$status" -eq 5 ]
			[[ "$output" == *"No space left"* ]]
			[[ "$output" != *"back into memory: no space to read"* ]]
		fi
	done
	# ...and with memory freed every one reads back byte for byte
	vyctl rm "p$ok" >/dev/null
	for i in $(seq $((ok - 1))); do
		timeout 30 "$VINEYARDCTL" get "p$i" -o "$T/b$i.bin"
		cmp "$T/p$i.bin" "$T/b$i.bin"
	done
}

@test "a damaged spill file is never served: a clear error, set aside" {
	start_daemon --size 8M
	for i in 1 2 3 4 5 6; do vyctl put "$T/p$i.bin" --name "p$i" >/dev/null; done
	id=$(vyctl meta p1 | sed -n 's/.*"id": "\(o[0-9a-f]*\)".*/\1/p' | head -1)
	[ -f "$SPILL/$id.blob" ]
	# flip bytes in the middle of the frame
	printf 'XXXXXXXXXXXXXXXX' | dd of="$SPILL/$id.blob" bs=1 seek=1000000 conv=notrunc status=none
	run timeout 30 "$VINEYARDCTL" get p1 -o "$T/b1.bin"
	[ "$status" -ne 0 ]
	[[ "$output" == *"damaged"* ]]
	[ ! -e "$T/b1.bin" ]
	[ -e "$T/data/spill/damaged/$id.blob" ]
	run vyctl get p1 -o "$T/b1.bin"
	[ "$status" -eq 3 ]
	# the rest is fine
	for i in 2 3 4 5 6; do
		timeout 30 "$VINEYARDCTL" get "p$i" -o "$T/b$i.bin"
		cmp "$T/p$i.bin" "$T/b$i.bin"
	done
}

@test "a restart removes stale spill files; persisted blobs spill with no second copy" {
	start_daemon --size 8M
	pid=$(vyctl put "$T/p1.bin" --name kept --persist)
	for i in 2 3 4 5 6; do vyctl put "$T/p$i.bin" --name "p$i" >/dev/null; done
	# the persisted blob left memory without a spill file: its own serves
	[ ! -e "$SPILL/$pid.blob" ]
	[ -e "$T/data/objects/$pid.blob" ]
	[ "$(ls "$SPILL" | wc -l)" -ge 1 ]
	timeout 30 "$VINEYARDCTL" get kept -o "$T/b1.bin"
	cmp "$T/p1.bin" "$T/b1.bin"
	kill_daemon
	[ "$(ls "$SPILL" | wc -l)" -ge 1 ]
	start_daemon --size 8M
	[ "$(ls "$SPILL" | wc -l)" -eq 0 ]
	grep -q "removed .* spill file" "$T/daemon.log"
	timeout 30 "$VINEYARDCTL" get kept -o "$T/b1.bin"
	cmp "$T/p1.bin" "$T/b1.bin"
	run vyctl get p2
	[ "$status" -eq 3 ]
}

@test "deleting everything brings the accounting back to the baseline" {
	start_daemon --size 8M
	base=$(figure used_bytes)
	for i in $(seq 8); do vyctl put "$T/p$i.bin" --name "p$i" >/dev/null; done
	[ "$(figure spilled_bytes)" -gt 0 ]
	vyctl get p1 -o /dev/null
	vyctl rm $(for i in $(seq 8); do echo "p$i"; done) >/dev/null
	[ "$(figure objects)" -eq 0 ]
	[ "$(figure used_bytes)" -eq "$base" ]
	[ "$(figure spilled_bytes)" -eq 0 ]
	[ "$(figure spill_file_bytes)" -eq 0 ]
	[ "$(ls "$SPILL" | wc -l)" -eq 0 ]
}

@test "--spill-dir none: a full store is ENOSPC as before; bad fractions are refused" {
	start_daemon --size 8M --spill-dir none
	vyctl put "$T/p1.bin" >/dev/null
	vyctl put "$T/p2.bin" >/dev/null
	vyctl put "$T/p3.bin" >/dev/null
	vyctl put "$T/p4.bin" >/dev/null
	run vyctl put "$T/p5.bin"
	[ "$status" -eq 5 ]
	[[ "$output" == *"no space for"* ]]
	run "$VINEYARDD" --spill-upper 1.5
	[ "$status" -eq 2 ]
	[[ "$output" == *"--spill-upper 1.5"* ]]
	run "$VINEYARDD" --spill-lower 0.9 --spill-upper 0.5
	[ "$status" -eq 2 ]
	[[ "$output" == *"above"* ]]
	run "$VINEYARDD" --reserve lots
	[ "$status" -eq 2 ]
}

@test "vineyardctl evict, load --pin and unpin: where objects are, and the exit codes" {
	start_daemon --size 8M
	vyctl put "$T/p1.bin" --name p1 >/dev/null
	vyctl put "$T/p2.bin" --name p2 >/dev/null
	printf 'tiny' >"$T/tiny.bin"
	vyctl put "$T/tiny.bin" --name tiny >/dev/null
	id1=$(vyctl meta p1 | sed -n 's/.*"id": "\(o[0-9a-f]*\)".*/\1/p' | head -1)
	[[ "$(vyctl ls)" == *"$id1"*" memory "* ]]
	# evict: the file is written before it returns; ls says disk
	run vyctl --json evict p1
	[ "$status" -eq 0 ]
	[ "$output" = "[{\"id\": \"$id1\", \"where\": \"disk\"}]" ]
	[ -f "$SPILL/$id1.blob" ]
	[[ "$(vyctl ls)" == *"$id1"*" disk "*p1* ]]
	# a small blob stays, with a note and no error (-q: no note)
	run vyctl evict tiny
	[ "$status" -eq 0 ]
	[[ "$output" == *"tiny: stays in memory: small blobs are never spilled"* ]]
	run vyctl -q evict tiny
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# load --pin: back in memory, and kept there while 10 MiB more go in
	vyctl load --pin p1
	[[ "$(vyctl ls)" == *"$id1"*" memory "* ]]
	for i in 3 4 5 6 7; do vyctl put "$T/p$i.bin" --name "p$i" >/dev/null; done
	[ "$(figure spilled_bytes)" -gt 0 ]
	[[ "$(vyctl ls)" == *"$id1"*" memory "* ]]
	# unpin: it may spill again (evict says so at once)
	vyctl unpin p1
	vyctl evict p1
	[[ "$(vyctl ls)" == *"$id1"*" disk "* ]]
	# room again (p1 and p2 are half the limit, under --spill-upper), so
	# the spiller has no reason to move them while the rest is checked
	vyctl rm p3 p4 p5 p6 p7
	# load without --pin; the bytes are the put's
	run vyctl --json load p1 p2
	[ "$status" -eq 0 ]
	[[ "$output" == "[{\"id\": \"$id1\", \"where\": \"memory\"}, {\"id\": "*"\"where\": \"memory\"}]" ]]
	vyctl get p1 -o "$T/b1.bin"
	cmp "$T/p1.bin" "$T/b1.bin"
	# bad input: unknown (nothing moves), no ids, --pin where it means nothing
	run vyctl evict p2 nosuch
	[ "$status" -eq 3 ]
	[[ "$output" == *"nosuch"* ]]
	[[ "$(vyctl ls)" == *" memory "*p2* ]]
	run vyctl evict
	[ "$status" -eq 2 ]
	[[ "$output" == *"usage: vineyardctl evict"* ]]
	run vyctl unpin --pin p1
	[ "$status" -eq 2 ]
	run vyctl load --bogus p1
	[ "$status" -eq 2 ]
}

@test "vineyardctl evict: a blob a client maps stays (exit 7), the others go" {
	start_daemon --size 8M
	id=$(vyctl put "$T/p1.bin" --name held)
	vyctl put "$T/p2.bin" --name other >/dev/null
	timeout 60 "$VY_BUILD/tests/helpers/hold" "$id" "$T/go" >"$T/h.out" &
	HOLD_PID=$!
	for _ in $(seq 600); do
		grep -qx ready "$T/h.out" 2>/dev/null && break
		sleep 0.05
	done
	grep -qx ready "$T/h.out"
	run vyctl evict held other
	[ "$status" -eq 7 ]
	[[ "$output" == *"held: stays in memory: a client maps it"* ]]
	[[ "$output" != *"other"* ]]
	[[ "$(vyctl ls)" == *"$id"*" memory "*held* ]]
	[[ "$(vyctl ls)" == *" disk "*other* ]]
	touch "$T/go"
	wait "$HOLD_PID"
	HOLD_PID=
	grep -qx "intact=yes" "$T/h.out"
	# released: now it goes
	vyctl evict held
	[[ "$(vyctl ls)" == *"$id"*" disk "*held* ]]
	vyctl get held -o "$T/b1.bin"
	cmp "$T/p1.bin" "$T/b1.bin"
}

@test "vineyardctl evict, then read back through the mount (cmp); an open file holds a blob" {
	mkdir "$MNT"
	start_daemon --size 64M --mount "$MNT"
	for i in 1 2 3; do vyctl put "$T/p$i.bin" --name "p$i" >/dev/null; done
	id=$(vyctl meta p1 | sed -n 's/.*"id": "\(o[0-9a-f]*\)".*/\1/p' | head -1)
	vyctl evict p1 p2 p3
	[ -f "$SPILL/$id.blob" ]
	[ "$(figure spilled_bytes)" -ge $((6 << 20)) ]
	[[ "$(vyctl ls)" == *"$id"*" disk "*p1* ]]
	for i in 1 2 3; do
		timeout 30 cmp "$T/p$i.bin" "$MNT/names/p$i/data"
	done
	# an open file of the mount holds its blob in memory
	exec 8<"$MNT/names/p2/data"
	run vyctl evict p2
	exec 8<&-
	[ "$status" -eq 7 ]
	[[ "$output" == *"p2: stays in memory"* ]]
	# closed: it goes, and reads back again
	ok=0
	for _ in $(seq 100); do
		vyctl evict p2 2>/dev/null && { ok=1; break; }
		sleep 0.1
	done
	[ "$ok" -eq 1 ]
	timeout 30 cmp "$T/p2.bin" "$MNT/names/p2/data"
}

@test "vineyardctl evict on a daemon without a spill directory: a clear error" {
	start_daemon --size 8M --spill-dir none
	vyctl put "$T/p1.bin" --name p1 >/dev/null
	run vyctl evict p1
	[ "$status" -eq 1 ]
	[[ "$output" == *"no spill directory (vineyardd --spill-dir)"* ]]
	[[ "$(vyctl ls)" == *" memory "*p1* ]]
	# load and unpin have nothing to do, and say nothing
	vyctl load --pin p1
	vyctl unpin p1
	vyctl get p1 -o "$T/b1.bin"
	cmp "$T/p1.bin" "$T/b1.bin"
}

@test "a put that must spill waits on its own: other clients are served meanwhile" {
	# The test hook holds every spill file's write until $T/gate exists
	# (and says it waits with $T/gate.waiting); the spiller thread is off
	# (--spill-upper 1), so only the put's own need spills.
	VINEYARD_TEST_SPILL_GATE=$T/gate start_daemon --size 8M --spill-upper 1
	printf 'small and never spilled' >"$T/small.bin"
	vyctl put "$T/small.bin" --name small >/dev/null
	for i in 1 2 3; do
		timeout 30 "$VINEYARDCTL" put "$T/p$i.bin" --name "p$i" >/dev/null
	done
	[ "$(figure spilled_bytes)" -eq 0 ]
	# (the next put does not fit)
	[ $(($(figure used_bytes) + (2 << 20))) -gt $((8 << 20)) ]
	timeout 60 "$VINEYARDCTL" put "$T/p4.bin" --name p4 >"$T/put.out" 2>&1 3>&- &
	put=$!
	HOLD_PID=$put
	held_at_gate
	# the put waits for its spill; a get, ls and status are answered
	timeout 20 "$VINEYARDCTL" get small -o "$T/small.out"
	cmp "$T/small.bin" "$T/small.out"
	timeout 20 "$VINEYARDCTL" ls >/dev/null
	timeout 20 "$VINEYARDCTL" status >/dev/null
	kill -0 "$put"
	[ ! -s "$T/put.out" ]
	touch "$T/gate"
	wait "$put"
	HOLD_PID=
	[ -n "$(cat "$T/put.out")" ]
	[ "$(figure spilled_bytes)" -gt 0 ]
	for i in 4 1 2 3; do
		timeout 30 "$VINEYARDCTL" get "p$i" -o "$T/b$i.bin"
		cmp "$T/p$i.bin" "$T/b$i.bin"
	done
}

@test "vineyardctl evict writes off the request loop: other clients are served meanwhile" {
	VINEYARD_TEST_SPILL_GATE=$T/gate start_daemon --size 8M --spill-upper 1
	printf 'small and never spilled' >"$T/small.bin"
	vyctl put "$T/small.bin" --name small >/dev/null
	vyctl put "$T/p1.bin" --name p1 >/dev/null
	timeout 60 "$VINEYARDCTL" evict p1 >"$T/ev.out" 2>&1 3>&- &
	ev=$!
	HOLD_PID=$ev
	held_at_gate
	timeout 20 "$VINEYARDCTL" get small -o "$T/small.out"
	cmp "$T/small.bin" "$T/small.out"
	kill -0 "$ev"
	touch "$T/gate"
	wait "$ev"
	HOLD_PID=
	[[ "$(vyctl ls)" == *" disk "*p1* ]]
	timeout 30 "$VINEYARDCTL" get p1 -o "$T/b1.bin"
	cmp "$T/p1.bin" "$T/b1.bin"
}

@test "over the TCP front (as another instance's fetch): a spilled blob reads back, a put by copy spills for room" {
	local ok=0
	for _ in $(seq 20); do
		PORT=$((20000 + RANDOM % 30000))
		ss -Htln 2>/dev/null | awk '{print $4}' | grep -q ":$PORT\$" && continue
		if start_daemon --size 8M --rpc "127.0.0.1:$PORT" 2>/dev/null; then
			ok=1
			break
		fi
		grep -q "cannot listen" "$T/daemon.log" || break
		DAEMON_PID=
	done
	[ "$ok" -eq 1 ]
	tcp() { timeout 30 "$VINEYARDCTL" --host "127.0.0.1:$PORT" "$@"; }
	vyctl put "$T/p1.bin" --name p1 --mode 0644 >/dev/null
	vyctl evict p1
	[[ "$(vyctl ls)" == *" disk "*p1* ]]
	tcp get p1 -o "$T/b1.bin"
	cmp "$T/p1.bin" "$T/b1.bin"
	# puts by copy past the limit spill others (on the loader thread)
	for i in 2 3 4 5 6; do tcp put "$T/p$i.bin" --name "p$i" >/dev/null; done
	[ "$(figure spilled_bytes)" -gt 0 ]
	for i in 6 2 1; do
		tcp get "p$i" -o "$T/b$i.bin"
		cmp "$T/p$i.bin" "$T/b$i.bin"
	done
}
