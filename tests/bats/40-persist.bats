#!/usr/bin/env bats
# Persistence: objects persisted in --data-dir survive restarts and crashes
# byte for byte; damaged files are skipped and reported, never served; a
# full disk is a clean error; unpersist and delete remove files.

load helper

OBJTOOL=$VY_BUILD/tests/helpers/vy_objtool
DATA=

local_setup() {
	DATA=$T/data
	TINY=
	XD=
	IMMUTABLE=
}

local_teardown() {
	# An immutable directory a test left would stop the cleanup.
	if [ -n "${IMMUTABLE:-}" ]; then
		chattr -i "$IMMUTABLE" 2>/dev/null
	fi
	if [ -n "${XD:-}" ]; then
		if [ -n "${DAEMON_PID:-}" ]; then
			kill -TERM "$DAEMON_PID" 2>/dev/null
			wait "$DAEMON_PID" 2>/dev/null
			DAEMON_PID=
		fi
		rm -rf "$XD"
	fi
	if [ -n "${TINY:-}" ] && mountpoint -q "$TINY"; then
		# The daemon goes first: it holds files there.
		if [ -n "${DAEMON_PID:-}" ]; then
			kill -KILL "$DAEMON_PID" 2>/dev/null
			wait "$DAEMON_PID" 2>/dev/null
			DAEMON_PID=
		fi
		umount "$TINY" || umount -l "$TINY"
	fi
}

# Random bytes; compressible text.
random_file() { head -c "$2" /dev/urandom >"$1"; }
text_file() { seq 1 "$2" | sed 's/$/ vineyard persisted line/' >"$1"; }

# The one file of id with an extension, in the data dir.
datafile() { echo "$DATA/objects/$1.$2"; }

@test "persist, kill -9, restart: the object reads back byte-identical" {
	start_daemon
	random_file "$T/model.bin" 3000000
	text_file "$T/text.txt" 100000
	echo tiny >"$T/tiny.txt"
	run vyctl put "$T/model.bin" --name model --persist
	[ "$status" -eq 0 ]
	id=$output
	run vyctl put "$T/text.txt" --name text
	[ "$status" -eq 0 ]
	vyctl persist text
	vyctl put "$T/tiny.txt" --name tiny --persist
	vyctl put "$T/tiny.txt" --name not-persisted
	run vyctl ls
	[[ "$output" == *"$id"*persisted*model* ]]
	[[ "$output" == *"-"*not-persisted* ]]
	[ "$(status_field persisted_objects)" -eq 3 ]
	disk=$(status_field disk_bytes)
	raw=$(status_field disk_raw_bytes)
	[ "$raw" -eq $((3000000 + $(stat -c %s "$T/text.txt") + 5)) ]
	[ "$disk" -lt "$raw" ]
	run vyctl status
	[[ "$output" == *"persisted:  3 objects"*"ratio"* ]]
	[[ "$output" == *"data dir:   $DATA"* ]]

	kill_daemon
	start_daemon
	vyctl get model -o "$T/back.bin"
	cmp "$T/model.bin" "$T/back.bin"
	vyctl get text -o "$T/back.txt"
	cmp "$T/text.txt" "$T/back.txt"
	[ "$(vyctl get tiny)" = tiny ]
	run vyctl get not-persisted
	[ "$status" -eq 3 ]
	[ "$(status_field persisted_objects)" -eq 3 ]
	[ "$(status_field disk_bytes)" -eq "$disk" ]
	[ "$(status_field damaged_files)" -eq 0 ]
	grep -q "restored 3 objects" "$T/daemon.log"
}

@test "persist of many ids is one group: all come back; an unknown id persists none of them" {
	start_daemon
	ids=()
	for i in $(seq 1 30); do
		echo "small object $i" >"$T/s$i"
		ids+=("$(vyctl put "$T/s$i")")
	done
	lone=$(echo lone | vyctl put -)
	run vyctl persist "$lone" o00000000000000ab
	[ "$status" -eq 3 ]
	[[ "$output" == *"no object o00000000000000ab"* ]]
	[ "$(status_field persisted_objects)" -eq 0 ]
	vyctl persist "${ids[@]}"
	[ "$(status_field persisted_objects)" -eq 30 ]
	# the group went to disk as one group log (42-grouplog.bats)
	[ "$(ls "$DATA/objects" | grep -c '^group-.*\.log$')" -eq 1 ]
	kill_daemon
	start_daemon
	for i in $(seq 1 30); do
		[ "$(vyctl get "${ids[$((i - 1))]}")" = "small object $i" ]
	done
	run vyctl get "$lone"
	[ "$status" -eq 3 ]
}

@test "a composite object and its members come back whole after SIGTERM" {
	start_daemon
	random_file "$T/a" 100000
	text_file "$T/b" 20000
	echo small >"$T/c"
	run "$OBJTOOL" put frame "$T/a" "$T/b" "$T/c"
	[ "$status" -eq 0 ]
	[ "$(status_field persisted_objects)" -eq 4 ]
	stop_daemon
	start_daemon
	"$OBJTOOL" check frame "$T/a" "$T/b" "$T/c"
	run vyctl meta frame
	[[ "$output" == *'"persisted": true'* ]]
}

@test "blob files are LZ4 frames: lz4 -dc reads them back" {
	command -v lz4 >/dev/null || skip "no lz4 command"
	start_daemon
	text_file "$T/t" 50000
	id=$(vyctl put "$T/t" --persist)
	lz4 -dc "$(datafile "$id" blob)" | cmp - "$T/t"
}

@test "kill -9 in a loop while clients persist: acknowledged objects survive whole" {
	start_daemon
	mkdir -p "$T/src"
	# (a round may end before any client got as far as writing a line)
	: >"$T/acked"
	: >"$T/src/attempted"
	round=0
	# At least 6 crashes, and on until 20 persists were acknowledged
	# (slow builds such as ASan need more rounds).
	while [ $round -lt 6 ] || [ "$(wc -l <"$T/acked")" -lt 20 ]; do
		round=$((round + 1))
		[ $round -le 40 ] || break
		pids=()
		for client in 1 2 3 4; do
			(
				j=0
				while :; do
					j=$((j + 1))
					n=r${round}c${client}j$j
					random_file "$T/src/$n.a" $(( (RANDOM % 64) * 4096 + RANDOM ))
					yes "$n text" | head -c $((RANDOM * 4 + 1)) >"$T/src/$n.b"
					echo "$n" >>"$T/src/attempted"
					if [ $((j % 2)) -eq 0 ]; then
						"$OBJTOOL" put "$n" "$T/src/$n.a" "$T/src/$n.b" >/dev/null 2>&1 &&
							echo "$n obj" >>"$T/acked"
					else
						"$VINEYARDCTL" --socket "$SOCK" put "$T/src/$n.a" --name "$n" --persist >/dev/null 2>&1 &&
							echo "$n blob" >>"$T/acked"
					fi
				done
			) &
			pids+=($!)
		done
		sleep "$((RANDOM % 2)).$((RANDOM % 10))"
		kill_daemon
		for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
		start_daemon
		# Every acknowledged object is there and identical.
		while read -r n kind; do
			if [ "$kind" = obj ]; then
				"$OBJTOOL" check "$n" "$T/src/$n.a" "$T/src/$n.b" ||
					{ echo "acked $n is wrong" >&2; return 1; }
			else
				vyctl get "$n" -o "$T/back" || { echo "acked $n missing" >&2; return 1; }
				cmp "$T/src/$n.a" "$T/back"
			fi
		done <"$T/acked"
		# Nothing unacknowledged is half there: a name that came back
		# is whole.
		while read -r n; do
			grep -q "^$n " "$T/acked" && continue
			vyctl get "$n" -o /dev/null 2>/dev/null || continue
			[ "$((${n##*j} % 2))" -eq 0 ] &&
				"$OBJTOOL" check "$n" "$T/src/$n.a" "$T/src/$n.b" ||
				{ vyctl get "$n" -o "$T/back" && cmp "$T/src/$n.a" "$T/back"; }
		done <"$T/src/attempted"
		[ "$(status_field damaged_files)" -eq 0 ]
	done
	# Enough happened for the test to mean something.
	[ "$(wc -l <"$T/acked")" -ge 20 ]
	# Nothing but whole files in the data dir.
	[ -z "$(ls -A "$DATA/damaged")" ]
	! ls -A "$DATA/objects" | grep -q '^\.tmp' || false
}

@test "a damaged file among good ones is skipped and reported, never served" {
	start_daemon
	ids=()
	for i in 1 2 3 4; do
		random_file "$T/f$i" 300000
		ids+=("$(vyctl put "$T/f$i" --name "f$i" --persist)")
	done
	echo small >"$T/s"
	sid=$(vyctl put "$T/s" --name small --persist)
	stop_daemon
	# Truncate f1's file, flip a byte deep inside f2's data, scribble on
	# the small blob's header.
	truncate -s 1000 "$(datafile "${ids[0]}" blob)"
	printf 'X' | dd of="$(datafile "${ids[1]}" blob)" bs=1 seek=150000 conv=notrunc 2>/dev/null
	printf 'XXXX' | dd of="$(datafile "$sid" blob)" bs=1 seek=20 conv=notrunc 2>/dev/null
	start_daemon
	# Caught at start-up: the truncated and the scribbled file (and the
	# anchors that named them); both objects are skipped.
	[ "$(status_field damaged_files)" -eq 4 ]
	grep -q "truncated" "$T/daemon.log"
	grep -q "header checksum mismatch" "$T/daemon.log"
	run vyctl get f1 -o /dev/null
	[ "$status" -eq 3 ]
	run vyctl get small
	[ "$status" -eq 3 ]
	# Caught when first read: a clear error, then the object is gone.
	run vyctl get f2 -o "$T/bad"
	[ "$status" -ne 0 ]
	[[ "$output" == *"damaged"* ]]
	[[ "$output" == *"content checksum mismatch"* || "$output" == *"corrupt LZ4 data"* ]]
	[ "$(status_field damaged_files)" -eq 6 ]
	run vyctl get f2 -o "$T/bad"
	[ "$status" -eq 3 ]
	# The others are served, identical; the daemon is fine.
	vyctl get f3 -o "$T/b3"
	cmp "$T/f3" "$T/b3"
	vyctl get f4 -o "$T/b4"
	cmp "$T/f4" "$T/b4"
	kill -0 "$DAEMON_PID"
	# Damaged files were moved aside for inspection (the blob and its
	# anchor each time), and the next start is clean.
	stop_daemon
	[ "$(ls "$DATA/damaged" | wc -l)" -eq 6 ]
	start_daemon
	[ "$(status_field damaged_files)" -eq 0 ]
	[ "$(status_field persisted_objects)" -eq 2 ]
}

@test "a full disk: clear ENOSPC, no partial file, still served, next persist works" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs"
	TINY=$T/tiny
	mkdir -p "$TINY"
	mount -t tmpfs -o size=2m tmpfs "$TINY" || skip "cannot mount a tmpfs"
	DATA=$TINY/data
	start_daemon --data-dir "$DATA"
	random_file "$T/big" 3000000
	# Persisting an object in memory: a clear error, it stays served.
	vyctl put "$T/big" --name big >/dev/null
	run vyctl persist big
	[ "$status" -eq 5 ]
	[[ "$output" == *"cannot persist"*"No space left on device"* ]]
	[ -z "$(ls -A "$DATA/objects")" ]
	run vyctl ls
	[[ "$output" != *persisted* ]]
	vyctl get big -o "$T/back"
	cmp "$T/big" "$T/back"
	[ "$(status_field persisted_objects)" -eq 0 ]
	# A put --persist fails as a whole: nothing left in memory or on disk,
	# from the CLI and for an object put with persist in one request.
	run vyctl put "$T/big" --name big2 --persist
	[ "$status" -eq 5 ]
	[[ "$output" == *"No space left on device"* ]]
	run vyctl get big2 -o /dev/null
	[ "$status" -eq 3 ]
	run "$OBJTOOL" put frame "$T/big"
	[ "$status" -ne 0 ]
	[[ "$output" == *"No space left on device"*"the put was undone"* ]]
	run vyctl get frame -o /dev/null
	[ "$status" -eq 3 ]
	[ "$(status_field objects)" -eq 1 ]
	[ -z "$(ls -A "$DATA/objects")" ]
	# Space comes back: the same persist now works.
	mount -o remount,size=16m "$TINY"
	vyctl persist big
	[ "$(status_field persisted_objects)" -eq 1 ]
	kill_daemon
	start_daemon --data-dir "$DATA"
	vyctl get big -o "$T/back2"
	cmp "$T/big" "$T/back2"
}

@test "temp files a crash left are removed at start-up" {
	start_daemon
	echo keep >"$T/k"
	vyctl put "$T/k" --name keep --persist >/dev/null
	stop_daemon
	echo partial >"$DATA/objects/.tmp-1-o8000000000000001.blob"
	echo partial >"$DATA/objects/.tmp-2-o0000000000000002.obj"
	start_daemon
	[ ! -e "$DATA/objects/.tmp-1-o8000000000000001.blob" ]
	[ ! -e "$DATA/objects/.tmp-2-o0000000000000002.obj" ]
	grep -q "removed 2 temp files" "$T/daemon.log"
	[ "$(vyctl get keep)" = keep ]
}

@test "unpersist and delete remove the files" {
	start_daemon
	text_file "$T/t" 1000
	id=$(vyctl put "$T/t" --name t --persist)
	[ -f "$(datafile "$id" blob)" ]
	[ -f "$(datafile "$id" anchor)" ]
	vyctl unpersist t
	[ ! -e "$(datafile "$id" blob)" ]
	[ ! -e "$(datafile "$id" anchor)" ]
	run vyctl ls
	[[ "$output" != *persisted* ]]
	[ "$(status_field persisted_objects)" -eq 0 ]
	[ "$(status_field disk_bytes)" -eq 0 ]
	vyctl persist t
	[ -f "$(datafile "$id" blob)" ]
	vyctl rm t
	[ -z "$(ls -A "$DATA/objects")" ]
	stop_daemon
	start_daemon
	run vyctl get t
	[ "$status" -eq 3 ]
	# A member of a persisted object is refused alone.
	echo m >"$T/m"
	"$OBJTOOL" put pair "$T/m" "$T/m" >/dev/null
	member=$(vyctl ls --type vineyard::Blob | awk 'NR == 2 {print $1}')
	run vyctl unpersist "$member"
	[ "$status" -eq 7 ]
	[[ "$output" == *"member of"*"persisted"* ]]
}

# objects/ made immutable (chattr +i: even root cannot unlink there), so
# every file removal fails. A delete then happens nowhere: the reply says
# so, memory and disk keep the object, and a restart shows it.
immutable_objects() {
	command -v chattr >/dev/null || skip "no chattr (e2fsprogs)"
	chattr +i "$DATA/objects" 2>/dev/null ||
		skip "chattr +i refused here (needs root on ext4/xfs/btrfs)"
	IMMUTABLE=$DATA/objects
	# really refused, as it is for the daemon
	! rm -f "$DATA/objects/"*.anchor 2>/dev/null || false
}

@test "a delete the data dir refuses leaves the object whole, in memory and on disk" {
	start_daemon
	random_file "$T/big" 3000000
	text_file "$T/t" 1000
	id=$(vyctl put "$T/big" --name big --persist)
	echo m >"$T/m"
	"$OBJTOOL" put frame "$T/t" "$T/m" "$T/big" >/dev/null
	[ "$(status_field persisted_objects)" -eq 5 ]
	files=$(ls "$DATA/objects" | sort)
	immutable_objects
	run vyctl rm big
	[ "$status" -eq 1 ]
	[[ "$output" == *"Operation not permitted"* ]]
	[[ "$output" == *"nothing was deleted"* ]]
	run vyctl rm frame
	[ "$status" -eq 1 ]
	[[ "$output" == *"nothing was deleted"* ]]
	# memory: all there, still persisted
	[ "$(status_field objects)" -eq 5 ]
	[ "$(status_field persisted_objects)" -eq 5 ]
	vyctl get big -o "$T/big.out"
	cmp "$T/big" "$T/big.out"
	"$OBJTOOL" check frame "$T/t" "$T/m" "$T/big"
	# disk: the same files
	[ "$(ls "$DATA/objects" | sort)" = "$files" ]
	chattr -i "$DATA/objects"
	IMMUTABLE=
	# Only the composite's content file refused: its anchor was already
	# set aside when that fails, and must be put back.
	obj=$(ls "$DATA/objects/"*.obj)
	[ "$(echo "$obj" | wc -l)" -eq 1 ]
	chattr +i "$obj"
	IMMUTABLE=$obj
	run vyctl rm frame
	chattr -i "$obj"
	IMMUTABLE=
	[ "$status" -eq 1 ]
	[[ "$output" == *"nothing was deleted"* ]]
	[ "$(ls "$DATA/objects" | sort)" = "$files" ]
	[ "$(status_field objects)" -eq 5 ]
	# a restart shows the same
	kill_daemon
	start_daemon
	[ "$(status_field objects)" -eq 5 ]
	vyctl get big -o "$T/big.out2"
	cmp "$T/big" "$T/big.out2"
	"$OBJTOOL" check frame "$T/t" "$T/m" "$T/big"
	# and once the directory is writable again, the delete happens whole
	vyctl rm big
	vyctl rm frame
	[ "$(status_field objects)" -eq 0 ]
	[ -z "$(ls -A "$DATA/objects")" ]
	kill_daemon
	start_daemon
	[ "$(status_field objects)" -eq 0 ]
}

@test "names of persisted objects persist, re-pointed and dropped" {
	start_daemon
	echo a >"$T/a"
	echo b >"$T/b"
	vyctl put "$T/a" --name x --persist >/dev/null
	vyctl put "$T/b" --name y --persist >/dev/null
	vyctl name y alias
	vyctl name y x
	vyctl unname y
	stop_daemon
	start_daemon
	[ "$(vyctl get x)" = b ]
	[ "$(vyctl get alias)" = b ]
	run vyctl get y
	[ "$status" -eq 3 ]
	[ "$(status_field names)" -eq 2 ]
}

@test "restored blobs are read back when first used, and deleting one works before that" {
	start_daemon
	random_file "$T/r" 500000
	vyctl put "$T/r" --name r --persist >/dev/null
	vyctl put "$T/r" --name r2 --persist >/dev/null
	kill_daemon
	start_daemon
	used=$(status_field used_bytes)
	[ "$used" -lt 500000 ]
	vyctl rm r2
	vyctl get r -o "$T/back"
	cmp "$T/r" "$T/back"
	[ "$(status_field used_bytes)" -ge 500000 ]
	stop_daemon
	start_daemon
	run vyctl get r2
	[ "$status" -eq 3 ]
	[ "$(status_field persisted_objects)" -eq 1 ]
}

@test "--data-dir: created when missing, refused when unusable, locked, or off" {
	start_daemon --data-dir "$T/new/deeper/data"
	[ -d "$T/new/deeper/data/objects" ]
	[ -f "$T/new/deeper/data/format" ]
	# One daemon per data dir.
	run "$VINEYARDD" --foreground --socket "$T/other.sock" --data-dir "$T/new/deeper/data"
	[ "$status" -eq 1 ]
	[[ "$output" == *"in use by another vineyardd (pid $DAEMON_PID)"* ]]
	[[ "$output" == *"--data-dir"* ]]
	stop_daemon
	# A file where the directory should be.
	echo x >"$T/afile"
	run "$VINEYARDD" --foreground --socket "$T/s2" --data-dir "$T/afile"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/afile"*"not a directory"* ]]
	# Not writable.
	if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
		mkdir -p "$T/ro" && chmod 0755 "$T/ro" && chmod 0755 "$T"
		run setpriv --reuid=nobody --regid=nogroup --clear-groups "$VINEYARDD" --foreground --socket /tmp/vy-nobody-$$.sock --data-dir "$T/ro/data"
		[ "$status" -eq 1 ]
		[[ "$output" == *"$T/ro/data"*"Permission denied"* ]]
		[[ "$output" == *"--data-dir"* ]]
	fi
	# Off: persisting is refused with a reason, the rest works.
	start_daemon --data-dir none
	echo z >"$T/z"
	vyctl put "$T/z" --name z >/dev/null
	run vyctl persist z
	[ "$status" -ne 0 ]
	[[ "$output" == *"no data directory"* ]]
	[ "$(vyctl get z)" = z ]
	[[ "$(vyctl --json status)" == *'"data_dir": null'* ]]
}

@test "the default data dir of an unprivileged user is under XDG_STATE_HOME" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch user"
	command -v setpriv >/dev/null || skip "no setpriv"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	# Somewhere nobody can reach: the test's own directory may not be.
	XD=$(mktemp -d /tmp/vy-xdg.XXXXXX)
	chmod 0777 "$XD"
	# A copy of the daemon nobody can execute: the build tree may sit
	# under a directory only root can enter (a CI clone in /root).
	cp "$VINEYARDD" "$XD/vineyardd"
	chmod 0755 "$XD/vineyardd"
	setpriv --reuid=nobody --regid=nogroup --clear-groups env XDG_STATE_HOME="$XD" \
		"$XD/vineyardd" --foreground --socket "$XD/v.sock" >"$T/daemon.log" 2>&1 3>&- &
	DAEMON_PID=$!
	for _ in $(seq 100); do [ -S "$XD/v.sock" ] && break; sleep 0.05; done
	run "$VINEYARDCTL" --socket "$XD/v.sock" --json status
	cat "$T/daemon.log"
	[[ "$output" == *"\"data_dir\": \"$XD/vineyard\""* ]]
	[ -d "$XD/vineyard/objects" ]
	[ "$(stat -c %U "$XD/vineyard")" = nobody ]
}

@test "a restored blob reads back through the filesystem view too" {
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "no fusermount3"
	mkdir -p "$MNT"
	start_daemon --mount "$MNT"
	random_file "$T/big" 2000000
	echo small >"$T/small"
	vyctl put "$T/big" --name big --persist >/dev/null
	vyctl put "$T/small" --name small --persist >/dev/null
	kill_daemon
	# The killed daemon left a stale mount; the next takes it over.
	start_daemon --mount "$MNT"
	[ "$(cat "$MNT/names/big/meta.json" | grep -c '"persisted": true')" -eq 1 ]
	cmp "$T/big" "$MNT/names/big/data"
	cmp "$T/small" "$MNT/names/small/data"
	[ "$(stat -c %s "$MNT/names/big/data")" -eq 2000000 ]
}
