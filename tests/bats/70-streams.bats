#!/usr/bin/env bats
# Streams (issue 14): byte streams through the CLI (put --stream, get
# --follow) and libvineyard (tests/helpers/streamtool), readers before and
# after the writer, readers at different speeds, backpressure at
# --stream-threshold, a writer killed mid-stream, ls and status. Every
# reader runs under `timeout`; background processes are killed at teardown.

load helper

bats_require_minimum_version 1.5.0

ST=$VY_BUILD/tests/helpers/streamtool
SRC=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

local_setup() {
	BG_PIDS=
}

local_teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -f "$T/daemon.log" ]; then
		echo "# daemon.log:" >&3
		sed 's/^/#   /' "$T/daemon.log" | tail -30 >&3
	fi
	# (TERM first: timeout passes it on to the command it runs)
	local p
	for p in ${BG_PIDS:-}; do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.1
	for p in ${BG_PIDS:-}; do
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

# vypy SECONDS ARGS...: Python with this tree's package over this build's
# library, at most SECONDS; an ASan build's runtime is preloaded (Python
# never frees everything: no leak check for the interpreter).
vypy() {
	local t=$1 pre=
	shift
	if ldd "$VY_BUILD/libvineyard.so.0" 2>/dev/null | grep -q libasan; then
		pre="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
	fi
	PYTHONPATH="$SRC/client/python" \
	VINEYARD_LIBRARY="$VY_BUILD/libvineyard.so.0" LD_PRELOAD=$pre \
	ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
		timeout "$t" "$PYTHON" "$@"
}

# bg CMD...: in the background, killed at teardown; $LAST_BG is its pid.
bg() {
	"$@" &
	LAST_BG=$!
	BG_PIDS="$BG_PIDS $LAST_BG"
}

# until_cmd CMD...: runs CMD every 0.1 s until it succeeds (at most 30 s).
until_cmd() {
	local i
	for i in $(seq 300); do
		"$@" && return 0
		sleep 0.1
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

# field_ge KEY N: the status figure KEY is at least N.
field_ge() {
	[ "$(status_field "$1")" -ge "$2" ]
}

# field_is KEY V: the status figure KEY is V.
field_is() {
	[ "$(status_field "$1")" = "$2" ]
}

# state_is NAME STATE: stream NAME is in STATE.
state_is() {
	[ "$(stream_state "$1")" = "$2" ]
}

# stream_state NAME: from `vineyardctl --json ls`, the stream's KEY.
stream_state() {
	vyctl --json ls | grep "\"$1\"" | sed -n 's/.*"stream": "\([a-z]*\)".*/\1/p'
}

@test "put --stream and get --follow: 0 B, 1 B and 3 MiB byte-identical, reader before the writer" {
	start_daemon --size 64M
	: >in0
	printf x >in1
	head -c $((3 << 20)) /dev/urandom >in3
	for n in 0 1 3; do
		bg timeout 30 "$VINEYARDCTL" get --follow s$n -o out$n
		local r=$LAST_BG
		run -0 timeout 30 "$VINEYARDCTL" -q put --stream in$n --name s$n --chunk-size 1M
		[[ "$output" =~ ^o[0-9a-f]{16}$ ]]
		wait "$r"
		cmp in$n out$n
	done
	[ "$(stream_state s3)" = finished ]
}

@test "a reader opened after the writer finished gets every chunk still held" {
	start_daemon --size 64M
	head -c $((5 << 20 | 77)) /dev/urandom >in
	run -0 timeout 30 "$VINEYARDCTL" -q put --stream - --name late --chunk-size 1M <in
	run -0 timeout 30 "$VINEYARDCTL" get --follow late -o out
	cmp in out
	# that reader moved past every chunk: they are freed, the stream stays
	[ "$(status_field stream_held_bytes)" = 0 ]
	[ "$(stream_state late)" = finished ]
	run -0 timeout 30 "$VINEYARDCTL" get --follow late -o out2
	[ ! -s out2 ]
}

@test "libvineyard: 0 B, 1 B and odd sizes, by vy_stream_write and by the mapped chunk" {
	start_daemon --size 64M
	head -c 100000 /dev/urandom >odd
	: >in0
	printf y >in1
	local f m
	for f in in0 in1 odd; do
		for m in "" --mmap; do
			bg timeout 30 "$ST" read "c$f$m" --wait 20000
			local r=$LAST_BG
			timeout 30 "$ST" read "c$f$m" --wait 20000 >"out$f$m" &
			local r2=$!
			# (both readers open before the first chunk: one
			# passing a chunk frees it once every open reader has)
			run -0 timeout 30 "$ST" write "c$f$m" 4096 $m --readers 2 <$f
			wait "$r2"
			cmp $f "out$f$m"
			wait "$r" || true
		done
	done
	# (each append brought the next chunk; the one the short last
	# chunk replaced and the one left at the finish are freed)
	[ "$(status_field unsealed_blobs)" = 0 ]
	[ "$(status_field stream_held_bytes)" = 0 ]
}

@test "256 MiB: put --stream to a C, a Python and a get --follow reader at once, byte-identical" {
	start_daemon --size 1G
	head -c $((256 << 20)) /dev/urandom >big
	timeout 120 "$ST" read big --wait 60000 >outc 2>errc &
	local rc_=$!
	BG_PIDS="$BG_PIDS $rc_"
	vypy 120 -c '
import sys, vineyard
from vineyard.io import ByteStream
c = vineyard.connect(sys.argv[1])
s = ByteStream.get(c, "big", timeout=30)
with open(sys.argv[2], "wb") as f:
    for chunk in s.open_reader():
        f.write(chunk)
' "$SOCK" outpy &
	local rp=$!
	BG_PIDS="$BG_PIDS $rp"
	timeout 120 "$VINEYARDCTL" get --follow big -o outcli &
	local rl=$!
	BG_PIDS="$BG_PIDS $rl"
	run -0 timeout 120 "$VINEYARDCTL" -q put --stream big --name big --readers 3
	wait "$rc_"
	wait "$rp"
	wait "$rl"
	cmp big outc
	cmp big outpy
	cmp big outcli
	[ "$(status_field stream_held_bytes)" = 0 ]
}

@test "three readers at different speeds each get every byte" {
	start_daemon --size 64M
	head -c $((3 << 20)) /dev/urandom >in
	local pids=() d
	for d in 0 5 20; do
		timeout 30 "$ST" read three --delay-ms $d --wait 20000 >out$d &
		pids+=($!)
		BG_PIDS="$BG_PIDS $!"
	done
	run -0 timeout 30 "$ST" write three 65536 --readers 3 <in
	for p in "${pids[@]}"; do
		wait "$p"
	done
	cmp in out0
	cmp in out5
	cmp in out20
	[ "$(status_field stream_held_bytes)" = 0 ]
}

@test "backpressure: a stalled reader blocks the writer under --stream-threshold, then it goes on" {
	start_daemon --size 64M --stream-threshold 25%
	[ "$(status_field stream_threshold_bytes)" = $((16 << 20)) ]
	head -c $((48 << 20)) /dev/urandom >in
	timeout 60 "$ST" read bp --go "$T/go" --wait 30000 >out 2>err &
	local r=$!
	BG_PIDS="$BG_PIDS $r"
	# (the reader may open before or after the writer starts: with no
	# reader yet, every chunk is held for it)
	timeout 60 "$VINEYARDCTL" -q put --stream in --name bp --chunk-size 1M --timeout 50 >id &
	local w=$!
	BG_PIDS="$BG_PIDS $w"
	# the writer fills up to the threshold and waits there
	until_cmd field_ge stream_held_bytes $((15 << 20))
	sleep 0.5
	kill -0 "$w"
	local held used
	held=$(status_field stream_held_bytes)
	used=$(status_field used_bytes)
	[ "$held" -le $((16 << 20)) ]
	[ "$used" -le $((18 << 20)) ]
	touch "$T/go"
	wait "$w"
	wait "$r"
	cmp in out
}

@test "backpressure: a writer that waits past --timeout fails with a clear error" {
	start_daemon --size 64M --stream-threshold 0.25
	timeout 30 "$ST" read bt --go "$T/never" --wait 30000 >/dev/null 2>err &
	BG_PIDS="$BG_PIDS $!"
	run -6 timeout 30 bash -c "head -c $((40 << 20)) /dev/zero | '$VINEYARDCTL' put --stream - --name bt --chunk-size 1M --timeout 1"
	[[ "$output" == *"stream-threshold"* ]]
	[[ "$output" == *"1000 ms"* ]]
	# the stream failed; its chunks stay for the stalled reader
	[ "$(stream_state bt)" = failed ]
}

@test "a writer SIGKILLed mid-stream: readers get the sealed chunks, then a clear error; memory comes back" {
	start_daemon --size 64M
	local base
	base=$(status_field used_bytes)
	head -c $((8 << 16)) /dev/urandom >in
	timeout 30 "$ST" read kill --wait 20000 >out 2>err &
	local r=$!
	BG_PIDS="$BG_PIDS $r"
	# (not bg: an asynchronous command in a function reads /dev/null)
	# (no timeout wrapper: the kill must reach the writer itself; it
	# sleeps at most 600 s and teardown kills it)
	"$ST" write kill 65536 --hang-after 5 <in >wout &
	local w=$!
	BG_PIDS="$BG_PIDS $w"
	until_cmd grep -q hanging wout
	kill -KILL "$w"
	local rc=0
	wait "$r" || rc=$?
	[ "$rc" = 5 ]
	grep -q "failed: its writer" err
	[ "$(stat -c %s out)" = $((5 << 16)) ]
	cmp -n $((5 << 16)) in out
	[ "$(stream_state kill)" = failed ]
	run -0 vyctl rm kill
	until_cmd field_is used_bytes "$base"
	[ "$(status_field unsealed_blobs)" = 0 ]
	[ "$(status_field streams)" = 0 ]
}

@test "ls and status show streams and their state; a second writer and bad uses are refused" {
	start_daemon --size 64M
	head -c 8192 /dev/zero >zero
	"$ST" write open 4096 --hang-after 1 <zero >/dev/null &
	BG_PIDS="$BG_PIDS $!"
	until_cmd state_is open open
	run -0 vyctl ls
	[[ "$output" == *"vineyard::ByteStream"*"open"*"open"* ]]
	run -0 vyctl status
	[[ "$output" == *"streams:    1 (1 open)"* ]]
	run -0 vyctl --json status
	[[ "$output" == *'"streams_open": 1'* ]]
	# a blob is no stream
	id=$(printf abc | vyctl put - --name plain)
	run -2 timeout 10 "$VINEYARDCTL" get --follow plain -o -
	[[ "$output" == *"not a stream"* ]]
	run -2 vyctl put --stream --persist - </dev/null
	run -7 vyctl persist open
	[[ "$output" == *"still open"* ]]
	# a chunk held by a stream cannot be deleted from under it
	chunk=$(vyctl ls | awk '$2 == "vineyard::Blob" && $NF == "-" {print $1; exit}')
	[ -n "$chunk" ]
	run -7 vyctl rm "$chunk"
	# no name appears: the wait ends
	run -6 timeout 10 "$VINEYARDCTL" get --follow nosuch --wait 0.3 -o -
}

# ---- the mount (vineyard-fs(7)): a byte stream's data file grows ----

# size_is FILE N: FILE is N bytes (a function, so that until_cmd looks
# again each time).
size_is() {
	[ "$(stat -c %s "$1")" = "$2" ]
}

# until_grep PATTERN FILE: waits (bounded) until FILE has PATTERN.
until_grep() {
	until_cmd grep -q "$1" "$2"
}

@test "the mount: cat, dd and tail -f of a stream's data file see appended data; EOF at the end" {
	mkdir -p "$MNT"
	start_daemon --size 64M --mount "$MNT"
	mkfifo fifo
	"$VINEYARDCTL" -q put --stream fifo --name tl --chunk-size 4K >id &
	local w=$!
	BG_PIDS="$BG_PIDS $w"
	exec 5>fifo
	echo first >&5
	until_cmd test -e "$MNT/names/tl/data"
	until_cmd size_is "$MNT/names/tl/data" 6
	# (5>&-: the readers must not hold the writer's end of the fifo)
	timeout 30 cat "$MNT/names/tl/data" >catout 5>&- &
	local c=$!
	timeout 30 dd if="$MNT/names/tl/data" of=ddout bs=3 status=none 5>&- &
	local d=$!
	timeout 30 tail -f "$MNT/names/tl/data" >tailout 5>&- &
	local t=$!
	BG_PIDS="$BG_PIDS $c $d $t"
	until_grep first tailout
	echo second >&5
	until_grep second tailout
	# the size grows as chunks seal
	[ "$(stat -c %s "$MNT/names/tl/data")" = 13 ]
	printf 'first\nsecond\n' >want
	exec 5>&-
	wait "$w"
	wait "$c"
	wait "$d"
	cmp want catout
	cmp want ddout
	kill "$t" 2>/dev/null || true
	grep -qx first tailout
	grep -qx second tailout
	[ "$(stream_state tl)" = finished ]
}

@test "the mount: a read past the sealed end waits, EIO once the writer dies, and a killed reader is let go" {
	mkdir -p "$MNT"
	start_daemon --size 64M --mount "$MNT"
	head -c 8192 /dev/urandom >in
	"$ST" write dies 4096 --hang-after 1 <in >wout &
	local w=$!
	BG_PIDS="$BG_PIDS $w"
	until_grep hanging wout
	# a reader interrupted while it waits for data returns at once
	run -124 timeout 1 cat "$MNT/names/dies/data"
	timeout 30 cat "$MNT/names/dies/data" >out 2>err &
	local c=$!
	BG_PIDS="$BG_PIDS $c"
	until_cmd test -s out
	kill -KILL "$w"
	local rc=0
	wait "$c" || rc=$?
	[ "$rc" = 1 ]
	grep -q "Input/output error" err
	cmp -n 4096 in out
	[ "$(stat -c %s out)" = 4096 ]
}

@test "the mount: a reader through the mount lets a writer held by backpressure go on" {
	mkdir -p "$MNT"
	start_daemon --size 64M --stream-threshold 0.25 --mount "$MNT"
	head -c $((40 << 20)) /dev/urandom >in
	timeout 60 "$ST" write mb 1048576 --readers 1 --timeout 30000 <in &
	local w=$!
	BG_PIDS="$BG_PIDS $w"
	until_cmd test -e "$MNT/names/mb/data"
	timeout 60 cat "$MNT/names/mb/data" >out &
	local c=$!
	BG_PIDS="$BG_PIDS $c"
	wait "$w"
	wait "$c"
	cmp in out
}

@test "the mount: an object stream lists the chunks it holds as numbered member links" {
	mkdir -p "$MNT"
	start_daemon --size 64M --mount "$MNT"
	# a DataFrame stream of 3 frames, finished, no reader yet: all held
	vypy 60 -c '
import sys, vineyard, pandas as pd
from vineyard.io import DataframeStream
c = vineyard.connect(sys.argv[1])
s = DataframeStream.new(c, name="frames")
with s.open_writer() as w:
    for i in range(3):
        w.write(pd.DataFrame({"a": [i, i + 1]}))
' "$SOCK"
	until_cmd test -e "$MNT/names/frames/2"
	run -0 ls "$MNT/names/frames/"
	[[ "$output" == *"0"*"1"*"2"*"meta.json"*"typename"* ]]
	[[ "$output" != *"data"* ]]
	# each a link to the frame's own directory, in order
	local t0 t2
	t0=$(readlink "$MNT/names/frames/0")
	t2=$(readlink "$MNT/names/frames/2")
	[[ "$t0" == ../o* ]]
	[ "$t0" != "$t2" ]
	grep -q DataFrame "$MNT/names/frames/0/typename"
	[ ! -e "$MNT/names/frames/3" ]
	# a reader that passes the first two frees them: they leave the list
	vypy 60 -c '
import sys, vineyard
from vineyard.io import DataframeStream
c = vineyard.connect(sys.argv[1])
r = DataframeStream.get(c, "frames", timeout=10).open_reader()
r.next(); r.next(); r.next()
r.close()
' "$SOCK"
	run -0 ls "$MNT/names/frames/"
	[[ "$output" != *"0"* ]]
	[ ! -e "$MNT/names/frames/0" ]
}

@test "persist a finished stream: its chunks become members, kept past readers and a restart; open, failed and freed ones refused" {
	start_daemon --size 64M
	head -c 10000 /dev/urandom >in
	# no reader yet: every chunk held
	run -0 timeout 30 "$VINEYARDCTL" -q put --stream in --name logs --chunk-size 4K
	run -0 vyctl persist logs
	run -0 vyctl meta logs
	[[ "$output" == *'"stream": "finished"'* ]]
	[[ "$output" == *'"2": '* ]]
	# a reader gets every byte and frees nothing: a second one too
	run -0 timeout 30 "$VINEYARDCTL" get --follow logs -o out1
	cmp in out1
	run -0 timeout 30 "$VINEYARDCTL" get --follow logs -o out2
	cmp in out2
	stop_daemon
	mkdir -p "$MNT"
	start_daemon --size 64M --mount "$MNT"
	# after the restart: a finished stream again, read from the start,
	# its chunks read back from disk on first use, in the mount too
	[ "$(stream_state logs)" = finished ]
	timeout 30 cat "$MNT/names/logs/data" >out4
	cmp in out4
	run -0 ls "$MNT/names/logs/"
	[[ "$output" == *"0"*"1"*"2"*"data"* ]]
	run -0 timeout 30 "$VINEYARDCTL" get --follow logs -o out3
	cmp in out3
	# refused: a stream whose first chunks a reader freed already
	timeout 30 "$ST" read read1 --wait 20000 >rout &
	local r=$!
	BG_PIDS="$BG_PIDS $r"
	run -0 timeout 30 "$VINEYARDCTL" -q put --stream in --name read1 --chunk-size 4K --readers 1
	wait "$r"
	cmp in rout
	run -1 vyctl persist read1
	[[ "$output" == *"chunks were freed"* ]]
	# refused: a failed stream
	"$ST" write dead 4096 --hang-after 1 <in >wout &
	local w=$!
	BG_PIDS="$BG_PIDS $w"
	until_cmd grep -q hanging wout
	kill -KILL "$w"
	until_cmd state_is dead failed
	run -1 vyctl persist dead
	[[ "$output" == *"only a finished stream"* ]]
	# a group with a refused stream keeps none of its streams: the
	# finished one's chunks do not become members
	run -0 timeout 30 "$VINEYARDCTL" -q put --stream in --name fine --chunk-size 4K
	run -1 vyctl persist fine dead
	[[ "$output" == *"only a finished stream"* ]]
	run -0 vyctl meta fine
	[[ "$output" != *'"0": '* ]]
	run -0 vyctl persist fine
	run -0 vyctl meta fine
	[[ "$output" == *'"0": '* ]]
	run -0 vyctl rm fine
	# deleting the persisted stream takes its chunks (memory and disk)
	run -0 vyctl rm logs read1 dead
	[ "$(status_field streams)" = 0 ]
	until_cmd field_is objects 0
	[ "$(status_field persisted_objects)" = 0 ]
}
