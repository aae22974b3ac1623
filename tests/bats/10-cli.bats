#!/usr/bin/env bats
# vineyardctl against a real daemon: every command, --help, --json, exit
# codes, stdin/stdout, round trips compared with cmp, names, waits, globs,
# the progress bar.

load helper

bats_require_minimum_version 1.5.0

H=$VY_BUILD/tests/helpers

local_setup() {
	start_daemon --size 1G -v
}

# A failed test shows the daemon's log (why it refused or went away).
local_teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -f "$T/daemon.log" ]; then
		echo "# daemon.log:" >&3
		sed 's/^/#   /' "$T/daemon.log" | tail -30 >&3
	fi
}

# mkfile NAME BYTES: a file of random bytes.
mkfile() {
	head -c "$2" /dev/urandom >"$1"
}

# The id printed by put is exactly o + 16 hex digits.
is_id() {
	[[ "$1" =~ ^o[0-9a-f]{16}$ ]]
}

@test "put prints the id; ls, meta, get -o and rm do what the tour says" {
	mkfile big.bin 100000
	run vyctl put big.bin --name dataset
	[ "$status" -eq 0 ]
	is_id "$output"
	id=$output
	run vyctl ls
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *ID*TYPENAME*SIZE*PERSISTED*WHERE*MODE*OWNER*GROUP*NAMES* ]]
	[[ "${lines[1]}" =~ ^$id\ +vineyard::Blob\ +97\.7\ KiB\ +-\ +memory\ +rw-r-----\ +$(id -un)\ +$(id -gn)\ +dataset$ ]]
	run vyctl meta dataset
	[ "$status" -eq 0 ]
	[[ "$output" == *"\"id\": \"$id\""* ]]
	[[ "$output" == *'"typename": "vineyard::Blob"'* ]]
	[[ "$output" == *'"nbytes": 100000'* ]]
	[[ "$output" == *'"names": ["dataset"]'* ]]
	[[ "$output" == *'"persisted": false'* ]]
	"$PYTHON" -c 'import json,sys; json.loads(sys.argv[1])' "$output"
	vyctl get dataset -o copy.bin
	cmp big.bin copy.bin
	run vyctl rm dataset
	[ "$status" -eq 0 ]
	run vyctl get dataset -o copy2.bin
	[ "$status" -eq 3 ]
	[[ "$output" == *"no name 'dataset'"* ]]
	[ ! -e copy2.bin ]
	run vyctl get "$id"
	[ "$status" -eq 3 ]
	[[ "$output" == *"no object $id"* ]]
	[ "$(status_field objects)" -eq 0 ]
	[ "$(status_field used_bytes)" -eq 0 ]
}

@test "round trips of 0 B, 1 B, 4 KiB+1 through files and through stdin/stdout" {
	for n in 0 1 4095 4096 4097; do
		mkfile "in.$n" "$n"
		id=$(vyctl put "in.$n")
		is_id "$id"
		vyctl get "$id" -o "out.$n"
		cmp "in.$n" "out.$n"
		vyctl get "$id" >"stdout.$n"
		cmp "in.$n" "stdout.$n"
		vyctl get "$id" -o - >"dash.$n"
		cmp "in.$n" "dash.$n"
		# stdin as a pipe (unknown length) and as a redirected file
		id2=$(cat "in.$n" | vyctl put -)
		vyctl get "$id2" | cmp "in.$n" -
		id3=$(vyctl put - <"in.$n")
		vyctl get "$id3" | cmp "in.$n" -
		[ "$(vyctl --json meta "$id3" | sed -n 's/.*"nbytes": \([0-9]*\).*/\1/p')" -eq "$n" ]
	done
	[ "$(status_field objects)" -eq 15 ]
	[ "$(status_field payload_bytes)" -eq $(( 3 * (0 + 1 + 4095 + 4096 + 4097) )) ]
}

@test "a 256 MiB file round-trips byte for byte, by file and by pipe" {
	mkfile big 268435456
	id=$(vyctl put big)
	vyctl get "$id" -o copy
	cmp big copy
	rm -f copy
	vyctl get "$id" | cmp big -
	id2=$(cat big | vyctl put -)
	vyctl get "$id2" -o copy
	cmp big copy
	[ "$(status_field payload_bytes)" -eq $(( 2 * 268435456 )) ]
	vyctl rm "$id" "$id2"
	[ "$(status_field used_bytes)" -eq 0 ]
}

@test "get -o writes beside the target and renames: no half file, old file kept on error" {
	mkfile a 5000
	echo old >target
	id=$(vyctl put a)
	vyctl get "$id" -o target
	cmp a target
	[ "$(stat -c %a target)" = 644 ]
	echo old >target
	run vyctl get o0000000000000001 -o target
	[ "$status" -eq 3 ]
	[ "$(cat target)" = old ]
	run vyctl get "$id" -o "$T/no/such/dir/file"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/no/such/dir/file"* ]]
	[ -z "$(ls "$T" | grep vineyardctl- || true)" ]
}

@test "--help for every command, and for the tool" {
	for cmd in put get ls names meta name unname rm persist wait status evict load unpin; do
		run vyctl "$cmd" --help
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "usage: vineyardctl $cmd"* ]]
		[ "${#lines[@]}" -ge 2 ]
		run vyctl "$cmd" -h
		[ "$status" -eq 0 ]
	done
	run vyctl --help
	[ "$status" -eq 0 ]
	for cmd in put get ls names meta name unname rm persist wait status evict load unpin; do
		[[ "$output" == *"  $cmd "* ]]
	done
	[[ "$output" == *"--socket PATH"* ]]
	[[ "$output" == *"0 ok, 1 error, 2 usage, 3 not found, 4 daemon unreachable"* ]]
	[[ "$output" == *"5 no space, 6 timed out, 7 in use"* ]]
	run vyctl --version
	[ "$status" -eq 0 ]
	[[ "$output" == "vineyardctl $(makefile_version)" ]]
}

@test "usage errors exit 2 with a message" {
	run vyctl
	[ "$status" -eq 2 ]
	[[ "$output" == *usage:* ]]
	run vyctl frobnicate
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown command 'frobnicate'"* ]]
	run vyctl --no-such-option status
	[ "$status" -eq 2 ]
	run vyctl put
	[ "$status" -eq 2 ]
	[[ "$output" == *"usage: vineyardctl put"* ]]
	run vyctl put a b
	[ "$status" -eq 2 ]
	run vyctl get
	[ "$status" -eq 2 ]
	run vyctl get x --bogus
	[ "$status" -eq 2 ]
	run vyctl meta
	[ "$status" -eq 2 ]
	run vyctl name onlyone
	[ "$status" -eq 2 ]
	run vyctl unname
	[ "$status" -eq 2 ]
	run vyctl rm
	[ "$status" -eq 2 ]
	run vyctl wait
	[ "$status" -eq 2 ]
	run vyctl wait x --timeout -1
	[ "$status" -eq 2 ]
	run vyctl status extra
	[ "$status" -eq 2 ]
	run vyctl ls extra
	[ "$status" -eq 2 ]
	run vyctl names a b
	[ "$status" -eq 2 ]
	run vyctl persist
	[ "$status" -eq 2 ]
}

@test "--json output of put, ls, meta, status and rm is valid JSON" {
	echo hello >f
	run vyctl --json put f --name j
	[ "$status" -eq 0 ]
	"$PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["id"].startswith("o")' "$output"
	id=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$output")
	run vyctl --json ls
	[ "$status" -eq 0 ]
	"$PYTHON" - "$output" "$id" "$(id -u)" "$(id -g)" <<-'EOF'
	import json, sys
	v = json.loads(sys.argv[1])
	assert len(v) == 1, v
	e = v[0]
	assert e == {"id": sys.argv[2], "typename": "vineyard::Blob", "nbytes": 6,
	             "names": ["j"], "persisted": False, "where": "memory",
	             "uid": int(sys.argv[3]), "gid": int(sys.argv[4]),
	             "mode": "0640"}, e
	EOF
	run vyctl --json status
	[ "$status" -eq 0 ]
	"$PYTHON" - "$output" <<-'EOF'
	import json, sys
	s = json.loads(sys.argv[1])
	for k in ("objects", "blobs", "used_bytes", "limit_bytes", "clients",
	          "unsealed_blobs", "deleted_in_use", "names", "payload_bytes"):
	    assert isinstance(s[k], int), k
	assert s["objects"] == 1 and s["blobs"] == 1 and s["names"] == 1, s
	assert s["limit_bytes"] == 1 << 30, s
	assert s["clients"] == 1, s
	EOF
	run vyctl --json meta j
	"$PYTHON" -c 'import json,sys; assert json.loads(sys.argv[1])["nbytes"] == 6' "$output"
	run vyctl --json rm j
	[ "$status" -eq 0 ]
	[ "$output" = '{"deleted": 1}' ]
	run vyctl --json ls
	[ "$output" = "[]" ]
}

@test "ls --type filters by typename glob; -q drops the header" {
	echo a | vyctl put - >/dev/null
	run "$H/mkobj" frame
	[ "$status" -eq 0 ]
	run vyctl ls --type 'vineyard::Tensor*'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[1]}" == *"vineyard::Tensor<double>"* ]] || [[ "${lines[1]}" == *"vineyard::Tensor<int32>"* ]]
	run vyctl ls --type 'vineyard::DataFrame'
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *frame ]]
	run vyctl -q ls --type 'vineyard::Blob'
	[ "${#lines[@]}" -eq 3 ]
	run vyctl -q ls --type 'nothing*'
	[ -z "$output" ]
	run vyctl -q ls
	[ "${#lines[@]}" -eq 6 ]
	run vyctl --json ls --type '*Frame'
	"$PYTHON" -c 'import json,sys; v=json.loads(sys.argv[1]); assert [e["typename"] for e in v] == ["vineyard::DataFrame"]' "$output"
}

@test "status shows objects, blobs, bytes used and limit, clients" {
	mkfile f 10000
	vyctl put f >/dev/null
	run vyctl status
	[ "$status" -eq 0 ]
	[[ "$output" == *"daemon:     pid $DAEMON_PID"* ]]
	[[ "$output" == *"objects:    1 (1 blobs, 0 names)"* ]]
	[[ "$output" == *"memory:     12.0 KiB used of 1.0 GiB (9.8 KiB of data)"* ]]
	[[ "$output" == *"in flight:  0 unsealed blobs, 0 deleted blobs still mapped"* ]]
	[[ "$output" == *"clients:    1"* ]]
	[[ "$output" == *"socket $SOCK"* ]]
}

@test "names: put replaces, name re-points, unname drops, rm drops the object's names" {
	echo one >1
	echo two >2
	id1=$(vyctl put 1 --name n)
	id2=$(vyctl put 2 --name n)
	[ "$(vyctl get n)" = two ]
	[ "$(status_field names)" -eq 1 ]
	vyctl name "$id1" n
	[ "$(vyctl get n)" = one ]
	vyctl name n alias
	[ "$(vyctl get alias)" = one ]
	vyctl name "$id2" other
	run vyctl unname alias
	[ "$status" -eq 0 ]
	run vyctl get alias
	[ "$status" -eq 3 ]
	run vyctl unname alias
	[ "$status" -eq 3 ]
	[[ "$output" == *"no name 'alias'"* ]]
	# names lists each name, its object and who bound it, sorted
	run vyctl -q names
	[ "${lines[0]}" = "$(printf '%-24s %s  %-8s %s' n "$id1" "$(id -un)" "$(id -gn)")" ]
	[[ "${lines[1]}" == "other "*"$id2"* ]]
	[ "${#lines[@]}" -eq 2 ]
	run vyctl --json names 'o*'
	[ "$output" = "[
  {\"name\": \"other\", \"id\": \"$id2\", \"uid\": $(id -u), \"gid\": $(id -g)}
]" ]
	vyctl rm n
	run vyctl get n
	[ "$status" -eq 3 ]
	[ "$(vyctl get other)" = two ]
	run vyctl name o0000000000000001 x
	[ "$status" -eq 3 ]
	run vyctl name nosuchname x
	[ "$status" -eq 3 ]
	[ "$(status_field names)" -eq 1 ]
}

@test "invalid names get a clear error, exit 2, and leave nothing behind" {
	echo data >f
	long=$(head -c 4096 /dev/zero | tr '\0' n)
	for bad in 'a/b' '/' '..' '.' '' "$long" $'a\nb' $'tab\there' $'bell\a' $'esc\e[31m' $'\x7f' 'o0123456789abcdef'; do
		run vyctl put f --name "$bad"
		[ "$status" -eq 2 ]
		[[ "$output" == *"invalid name"* ]]
		run vyctl -q ls
		[ -z "$output" ]
	done
	id=$(vyctl put f)
	run vyctl name "$id" 'a/b'
	[ "$status" -eq 2 ]
	[[ "$output" == *"a name cannot contain '/'"* ]]
	run vyctl name "$id" '..'
	[[ "$output" == *"'.' or '..'"* ]]
	run vyctl name "$id" ''
	[[ "$output" == *"empty"* ]]
	run vyctl name "$id" "$long"
	[ "$status" -eq 2 ]
	[[ "$output" == *"255 bytes"* ]]
	run vyctl name "$id" $'a\nb'
	[[ "$output" == *"control characters"* ]]
	run vyctl name "$id" $'\xff\xfe'
	[ "$status" -eq 2 ]
	[[ "$output" == *"UTF-8"* ]]
	# valid unusual names work
	for good in 'with space' '...' '.hidden' 'caf€' "$(head -c 255 /dev/zero | tr '\0' n)"; do
		vyctl name "$id" "$good"
		[ "$(vyctl get "$good")" = data ]
	done
	[ "$(status_field names)" -eq 5 ]
}

@test "wait: times out with exit 6, or returns once a producer binds the name" {
	run vyctl wait nothing --timeout 0.2
	[ "$status" -eq 6 ]
	[[ "$output" == *"name 'nothing' did not appear within 200 ms"* ]]
	run vyctl get nothing --wait 0.2
	[ "$status" -eq 6 ]
	# a consumer that starts first
	vyctl wait late --timeout 60 >wait.out 2>&1 &
	w=$!
	vyctl get late --wait 60 >get.out 2>&1 &
	g=$!
	sleep 0.3
	kill -0 "$w"
	echo produced >p
	id=$(vyctl put p --name late)
	wait "$w"
	wait "$g"
	[ "$(cat wait.out)" = "$id" ]
	[ "$(cat get.out)" = produced ]
	# an existing name returns at once
	run vyctl wait late --timeout 0
	[ "$status" -eq 0 ]
	[ "$output" = "$id" ]
}

@test "wait and get --wait with huge timeouts still wait (no overflow to 'no wait')" {
	vyctl wait big --timeout 1e7 >wait.out 2>&1 &
	w=$!
	vyctl get big --wait 1e12 >get.out 2>&1 &
	g=$!
	sleep 0.3
	kill -0 "$w"
	kill -0 "$g"
	echo late >p
	id=$(vyctl put p --name big)
	wait "$w"
	wait "$g"
	[ "$(cat wait.out)" = "$id" ]
	[ "$(cat get.out)" = late ]
}

@test "exit 3: no such object, name or file" {
	run vyctl get o0123456789abcdef
	[ "$status" -eq 3 ]
	run vyctl meta nope
	[ "$status" -eq 3 ]
	[[ "$output" == *"no name 'nope'"* ]]
	run vyctl rm nope
	[ "$status" -eq 3 ]
	run vyctl rm o0123456789abcdef
	[ "$status" -eq 3 ]
	run vyctl put /no/such/file
	[ "$status" -eq 3 ]
	[[ "$output" == *"/no/such/file: No such file or directory"* ]]
}

@test "exit 4: no daemon, with --socket, VINEYARD_IPC_SOCKET and a stale socket" {
	run "$VINEYARDCTL" --socket "$T/nothing.sock" status
	[ "$status" -eq 4 ]
	[[ "$output" == *"no vineyardd socket at $T/nothing.sock"* ]]
	[[ "$output" == *"--socket or VINEYARD_IPC_SOCKET"* ]]
	VINEYARD_IPC_SOCKET=$T/nothing.sock run "$VINEYARDCTL" status
	[ "$status" -eq 4 ]
	kill_daemon
	run vyctl put /etc/hostname
	[ "$status" -eq 4 ]
	[[ "$output" == *"stale socket file"* ]]
}

@test "--socket before the command and VINEYARD_IPC_SOCKET both select the daemon" {
	echo x >f
	id=$(env -u VINEYARD_IPC_SOCKET "$VINEYARDCTL" --socket "$SOCK" put f)
	is_id "$id"
	[ "$(env VINEYARD_IPC_SOCKET="$SOCK" "$VINEYARDCTL" get "$id")" = x ]
	[ "$(env VINEYARD_IPC_SOCKET="$SOCK" "$VINEYARDCTL" -s "$SOCK" get "$id")" = x ]
	# --socket wins over the environment
	[ "$(env VINEYARD_IPC_SOCKET=/nonexistent "$VINEYARDCTL" --socket "$SOCK" get "$id")" = x ]
	# after the command it is not a global option
	run env -u VINEYARD_IPC_SOCKET "$VINEYARDCTL" status --socket "$SOCK"
	[ "$status" -eq 2 ]
}

@test "exit 5: the memory limit is reached; the daemon and earlier objects go on" {
	stop_daemon
	start_daemon --size 8M
	mkfile small 3000000
	mkfile big 9000000
	id=$(vyctl put small --name keep)
	run vyctl put big --name never
	[ "$status" -eq 5 ]
	[[ "$output" == *"no space for"* ]]
	[[ "$output" == *"--size"* ]]
	run bash -c "cat big | '$VINEYARDCTL' --socket '$SOCK' put -"
	[ "$status" -eq 5 ]
	run vyctl get never
	[ "$status" -eq 3 ]
	vyctl get keep -o copy
	cmp small copy
	[ "$(status_field unsealed_blobs)" -eq 0 ]
	[ "$(status_field objects)" -eq 1 ]
	# memory comes back after a delete: 7 MB fits once keep is gone
	vyctl rm keep
	head -c 7000000 big >seven
	id3=$(vyctl put seven)
	vyctl get "$id3" | cmp seven -
}

@test "exit 6 and 7: timeouts, and deleting a member of another object" {
	run "$H/mkobj" df
	[ "$status" -eq 0 ]
	a=$(sed -n 's/^a=//p' <<<"$output")
	abuf=$(sed -n 's/^a.buffer=//p' <<<"$output")
	run vyctl rm "$a"
	[ "$status" -eq 7 ]
	[[ "$output" == *"object $a is a member of 1 other object; delete that first"* ]]
	run vyctl rm "$abuf"
	[ "$status" -eq 7 ]
	run vyctl wait nope --timeout 0.1
	[ "$status" -eq 6 ]
}

@test "rm of a composite is deep by default, --shallow keeps the members" {
	run "$H/mkobj" df
	[ "$status" -eq 0 ]
	[ "$(status_field objects)" -eq 5 ]
	run vyctl --json rm --shallow df
	[ "$output" = '{"deleted": 1}' ]
	[ "$(status_field objects)" -eq 4 ]
	a=$(vyctl -q ls --type 'vineyard::Tensor<double>' | cut -d' ' -f1)
	b=$(vyctl -q ls --type 'vineyard::Tensor<int32>' | cut -d' ' -f1)
	run vyctl rm "$a" "$b"
	[ "$status" -eq 0 ]
	[[ "$output" == *"deleted 4 objects (members included)"* ]]
	[ "$(status_field objects)" -eq 0 ]
	run "$H/mkobj" df2
	run vyctl --json rm df2
	[ "$output" = '{"deleted": 5}' ]
	[ "$(status_field used_bytes)" -le 2097152 ]
}

@test "get of a composite object says it is not a blob (exit 1); meta shows its members" {
	run "$H/mkobj" df
	run vyctl get df
	[ "$status" -eq 1 ]
	[[ "$output" == *"df is a vineyard::DataFrame, not a blob; see 'vineyardctl meta df'"* ]]
	run vyctl meta df
	[ "$status" -eq 0 ]
	"$PYTHON" - "$output" <<-'EOF'
	import json, sys
	m = json.loads(sys.argv[1])
	assert m["typename"] == "vineyard::DataFrame", m
	assert m["fields"]["nrows"] == 1000 and m["fields"]["ratio"] == 0.5, m
	assert m["fields"]["columns_"] == ["a", "b"], m
	assert m["fields"]["note"] is None and m["fields"]["ok"] is True, m
	assert m["fields"]["quote"] == 'say "hi"\n', m
	assert sorted(m["members"]) == ["a", "b"], m
	assert m["names"] == ["df"], m
	assert m["nbytes"] == 12000, m
	EOF
}

@test "put of a directory and of an unreadable input fail with exit 1" {
	mkdir d
	run vyctl put d
	[ "$status" -eq 1 ]
	[[ "$output" == *"d: is a directory"* ]]
	run vyctl put - <d
	[ "$status" -eq 1 ]
	[ "$(status_field objects)" -eq 0 ]
}

@test "persist without a data directory is refused with a clear error" {
	stop_daemon
	start_daemon --size 1G --data-dir none
	echo x >f
	id=$(vyctl put f)
	run vyctl persist "$id"
	[ "$status" -ne 0 ]
	[[ "$output" == *"no data directory"* ]]
	run vyctl persist nope
	[ "$status" -eq 3 ]
}

@test "the progress bar shows on a terminal for large puts and gets, never otherwise" {
	command -v script >/dev/null || skip "no script(1)"
	mkfile big 70000000
	# not a terminal: nothing on stderr
	vyctl put big --name b 2>err.txt >/dev/null
	[ ! -s err.txt ]
	vyctl get b -o copy 2>err.txt
	[ ! -s err.txt ]
	# a terminal: script(1) gives the command a pty
	script -qec "$VINEYARDCTL --socket $SOCK put big" /dev/null >tty.txt
	grep -q '#####' tty.txt
	grep -q '100%' tty.txt
	grep -q 'B/s' tty.txt
	script -qec "$VINEYARDCTL --socket $SOCK get b -o copy2" /dev/null >tty2.txt
	grep -q '100%' tty2.txt
	cmp big copy2
	# -q silences it; small files never show one
	script -qec "$VINEYARDCTL --socket $SOCK -q put big" /dev/null >tty3.txt
	! grep -q '%' tty3.txt || false
	mkfile small 100000
	script -qec "$VINEYARDCTL --socket $SOCK put small" /dev/null >tty4.txt
	! grep -q '%' tty4.txt || false
}

@test "names with spaces, unicode and dots round-trip through ls and --json ls" {
	echo x >f
	id=$(vyctl put f --name 'my data €')
	run vyctl ls
	[[ "$output" == *"my data €"* ]]
	run vyctl --json ls
	"$PYTHON" -c 'import json,sys; assert json.loads(sys.argv[1])[0]["names"] == ["my data €"]' "$output"
	[ "$(vyctl get 'my data €')" = x ]
}

@test "get -o of a device writes to it and never replaces it (/dev/null stays a device)" {
	echo hi >f
	vyctl put f --name f >/dev/null
	vyctl get f -o /dev/null
	[ "$(stat -c %F /dev/null)" = "character special file" ]
	[ "$(stat -c %t,%T /dev/null)" = "1,3" ]
}
