#!/usr/bin/env bats
# Clients that break the rules on purpose (tests/helpers/hostile.c): a
# writer that resizes its blob before the seal, small blobs that fill the
# store, unfinished frames that pile up, oversized batches, a no-reply
# status. The daemon must stay correct and usable for everybody else.

load helper

bats_require_minimum_version 1.5.0

H=$VY_BUILD/tests/helpers
SRC=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

local_teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -f "$T/daemon.log" ]; then
		echo "# daemon.log:" >&3
		sed 's/^/#   /' "$T/daemon.log" | tail -30 >&3
	fi
	return 0
}

# py CODE...: this tree's Python package over this build's library (with
# the sanitizer runtime first when the library was built with it).
py() {
	local pre=
	if ldd "$VY_BUILD/libvineyard.so.0" 2>/dev/null | grep -q libasan; then
		pre="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
	fi
	LD_PRELOAD=$pre ASAN_OPTIONS=detect_leaks=0 \
		PYTHONPATH="$SRC/client/python" \
		VINEYARD_LIBRARY="$VY_BUILD/libvineyard.so.0" "$PYTHON" "$@"
}

have_fuse() {
	[ -c /dev/fuse ] && command -v fusermount3 >/dev/null
}

@test "a writer that shrinks its blob before the seal is refused; every reader gets all of it" {
	mnt=()
	if have_fuse; then
		mkdir -p "$MNT"
		mnt=(--mount "$MNT")
	fi
	start_daemon --size 256M "${mnt[@]}"
	run "$H/hostile" shrink shrunk
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"shrink_refused=ok"* ]]
	[[ "$output" == *"sealed=ok"* ]]
	head -c 1048576 /dev/zero | tr '\0' v >want
	# vineyardctl: the size it lists is the size it reads.
	vyctl --json ls | grep -q "\"nbytes\": 1048576"
	vyctl get shrunk -o got
	cmp want got
	# A Python reader maps it and reads every byte (it died of SIGBUS).
	run py -c '
import sys, vineyard
c = vineyard.connect(sys.argv[1])
b = bytes(c.get(name="shrunk"))
print(len(b), b.count(b"v"))' "$SOCK"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "1048576 1048576" ]
	# The mount: st_size and the bytes read agree.
	if have_fuse; then
		[ "$(stat -c %s "$MNT/names/shrunk/data")" -eq 1048576 ]
		cmp want "$MNT/names/shrunk/data"
	fi
	# Persistence writes it whole, and it comes back whole.
	vyctl persist shrunk
	stop_daemon
	start_daemon --size 256M
	vyctl get shrunk -o back
	cmp want back
}

@test "a writer that grows its blob before the seal is refused; the limit holds" {
	start_daemon --size 64M
	run "$H/hostile" grow grown
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"grow_refused=ok"* ]]
	[[ "$output" == *"write_past_end_refused=ok"* ]]
	[[ "$output" == *"fallocate_refused=ok"* ]]
	[ "$(vyctl get grown | wc -c)" -eq 4096 ]
	vyctl get grown | cmp <(head -c 4096 /dev/zero | tr '\0' g) -
	[ "$(status_field used_bytes)" -eq 4096 ]
}

@test "an object of 70,400 blobs: put, got and released in batches the daemon accepts, no pin left" {
	start_daemon
	run "$H/hostile" bigtree
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"got_all_members=ok"* ]]
	[[ "$output" == *"in_step=ok"* ]]
	[[ "$output" == *"no_pins_left=ok"* ]]
}

@test "small-blob segments come back: fill with 4,000-byte blobs, delete, memory at the baseline" {
	start_daemon --size 64M
	run "$H/hostile" reclaim
	echo "$output" | grep -v '^id='
	[ "$status" -eq 0 ]
	[[ "$output" == *"used_back_to_baseline=ok"* ]]
	[[ "$output" == *"big_put_after_delete=ok"* ]]
	[[ "$output" == *"reused_segment_reads_right=ok"* ]]
	# And from the command line: nothing held, a 10 MiB put fits.
	[ "$(status_field used_bytes)" -eq 0 ]
	head -c 10485760 /dev/urandom >big
	vyctl put big --name big >/dev/null
	vyctl get big | cmp big -
}

@test "a status request flagged no-reply gets no reply" {
	start_daemon
	run "$H/hostile" noreply
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"noreply_status_silent=ok"* ]]
}

@test "a delete of more than 65,536 ids: EINVAL saying so, from the library and the daemon" {
	start_daemon
	run "$H/hostile" bigdelete
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"lib_einval=ok"* ]]
	[[ "$output" == *"raw_einval=ok"* ]]
	[[ "$output" == *"raw_still_usable=ok"* ]]
}

@test "unfinished frames: the bytes buffered across connections are capped and counted" {
	start_daemon --input-limit 16M
	# Four connections each hold 6 MB of an unfinished frame: two fit
	# in 16 MiB, the others are refused with ENOBUFS and closed.
	run "$H/hostile" buffers 4 6000000
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"accepted=2"* ]]
	[[ "$output" == *"refused=2"* ]]
	[[ "$output" == *"refused_msg="*"16.0 MiB"* ]]
	[[ "$output" == *"kept_served=ok"* ]]
	[[ "$output" == *"released=ok"* ]]
	grep -q "input limit" daemon.log
	# The daemon and the others go on.
	echo ok | vyctl put - --name after >/dev/null
	[ "$(vyctl get after)" = ok ]
	"$VINEYARDD" --help | grep -q -- --input-limit
}

@test "out of file descriptors: clients beyond get EMFILE and a sentence at once, the daemon goes on" {
	command -v prlimit >/dev/null || skip "no prlimit"
	start_daemon
	prlimit --pid "$DAEMON_PID" --nofile=64:64
	run "$H/hostile" connections 100
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"some_refused=ok"* ]]
	[[ "$output" == *"lib_emfile=ok"* ]]
	[[ "$output" == *"served_again=ok"* ]]
	# said once while refusing, not once per attempt
	[ "$(grep -c "no file descriptor left" daemon.log)" -le 3 ]
	echo ok | vyctl put - --name after >/dev/null
	[ "$(vyctl get after)" = ok ]
}
