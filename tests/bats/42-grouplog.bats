#!/usr/bin/env bats
# Group logs: a persist of many small objects is made durable as one file,
# objects/group-*.log, which start-up reads in place; the objects' own files
# are written from it only when a delete, unpersist or chmod touches one of
# them.
# Whatever happens in between (a crash, a delete, a chmod, a damaged log)
# no persisted object is lost and no deleted one comes back.

load helper

DATA=

local_setup() {
	DATA=$T/data
}

nlogs() { find "$DATA/objects" -maxdepth 1 -name 'group-*.log' | wc -l; }
nblobs() { find "$DATA/objects" -maxdepth 1 -name '*.blob' | wc -l; }

# put_many N: N small objects, their ids in IDS, their texts "small N"
put_many() {
	local i
	IDS=()
	for i in $(seq 1 "$1"); do
		IDS+=("$(echo "small $i" | vyctl put -)")
	done
}

# all_back FROM TO: objects FROM..TO (1-based) read back as written
all_back() {
	local i
	for i in $(seq "$1" "$2"); do
		[ "$(vyctl get "${IDS[$((i - 1))]}")" = "small $i" ]
	done
}

@test "a group persist is one durable log; a crash before it is applied loses nothing" {
	start_daemon
	put_many 40
	vyctl persist "${IDS[@]}"
	[ "$(status_field persisted_objects)" -eq 40 ]
	# durable as one file, the objects' own files not written yet
	[ "$(nlogs)" -eq 1 ]
	[ "$(nblobs)" -eq 0 ]
	# format 3 from the first log on: a daemon that knows no logs
	# refuses the directory instead of missing their objects
	[ "$(tail -1 "$DATA/format")" = "format 3" ]
	kill_daemon
	start_daemon
	grep -q "40 objects read in place from 1 group log" "$T/daemon.log"
	[ "$(status_field persisted_objects)" -eq 40 ]
	all_back 1 40
	# read in place: still one file
	[ "$(nlogs)" -eq 1 ]
	[ "$(nblobs)" -eq 0 ]
	# and a delete after the restart still writes the others out first
	vyctl rm "${IDS[0]}"
	[ "$(nlogs)" -eq 0 ]
	[ "$(nblobs)" -eq 39 ]
	kill_daemon
	start_daemon
	[ "$(status_field persisted_objects)" -eq 39 ]
	all_back 2 40
}

@test "the logs stay while the daemon runs and across restarts" {
	start_daemon
	put_many 16
	vyctl persist "${IDS[@]:0:8}"
	vyctl persist "${IDS[@]:8:8}"
	all_back 1 16
	vyctl ls >/dev/null
	[ "$(nlogs)" -eq 2 ]
	[ "$(nblobs)" -eq 0 ]
	stop_daemon
	[ "$(nlogs)" -eq 2 ]
	start_daemon
	grep -q "16 objects read in place from 2 group logs" "$T/daemon.log"
	[ "$(nlogs)" -eq 2 ]
	all_back 1 16
}

@test "a log whose files a crash left written out too is read once" {
	start_daemon
	put_many 10
	vyctl persist "${IDS[@]}"
	stop_daemon
	local log
	log=$(find "$DATA/objects" -maxdepth 1 -name 'group-*.log')
	cp "$log" "$T/log.bak"
	# a chmod writes the log's files out and removes the log
	start_daemon
	vyctl chmod 0600 "${IDS[0]}"
	stop_daemon
	[ "$(nlogs)" -eq 0 ]
	[ "$(nblobs)" -eq 10 ]
	# as if a crash had come between the files' sync and the log's removal
	cp "$T/log.bak" "$log"
	start_daemon
	[ "$(status_field persisted_objects)" -eq 10 ]
	[ "$(status_field damaged_files)" -eq 0 ]
	all_back 1 10
}

@test "a delete applies only the log that holds the object" {
	start_daemon
	put_many 16
	vyctl persist "${IDS[@]:0:8}"
	vyctl persist "${IDS[@]:8:8}"
	[ "$(nlogs)" -eq 2 ]
	vyctl rm "${IDS[9]}"
	[ "$(nlogs)" -eq 1 ]
	[ "$(nblobs)" -eq 7 ]
	kill_daemon
	start_daemon
	[ "$(status_field persisted_objects)" -eq 15 ]
	run vyctl get "${IDS[9]}"
	[ "$status" -eq 3 ]
	all_back 1 9
	all_back 11 16
}

@test "a delete or unpersist after a group persist stays done after a crash" {
	start_daemon
	put_many 30
	vyctl persist "${IDS[@]}"
	[ "$(nlogs)" -eq 1 ]
	vyctl rm "${IDS[0]}" "${IDS[1]}"
	vyctl unpersist "${IDS[2]}"
	# the log was applied before the removals
	[ "$(nlogs)" -eq 0 ]
	[ "$(nblobs)" -eq 27 ]
	kill_daemon
	start_daemon
	[ "$(status_field persisted_objects)" -eq 27 ]
	run vyctl get "${IDS[0]}"
	[ "$status" -eq 3 ]
	run vyctl get "${IDS[2]}"
	[ "$status" -eq 3 ]
	all_back 4 30
}

@test "a chmod after a group persist survives a crash" {
	start_daemon
	put_many 10
	vyctl persist "${IDS[@]}"
	vyctl chmod 0600 "${IDS[4]}"
	kill_daemon
	start_daemon
	run vyctl ls
	[[ "$output" == *"${IDS[4]}"*"rw-------"* ]]
	[[ "$output" == *"${IDS[5]}"*"rw-r-----"* ]]
	all_back 1 10
}

@test "names and a composite object persisted as a group come back" {
	start_daemon
	put_many 12
	vyctl name "${IDS[0]}" first
	vyctl persist "${IDS[@]}"
	# a composite of 8 small members: 9 files, one group log
	local i files=()
	for i in $(seq 1 8); do
		seq 1 $((i * 40)) >"$T/m$i"
		files+=("$T/m$i")
	done
	"$VY_BUILD/tests/helpers/vy_objtool" put frame "${files[@]}"
	[ "$(nlogs)" -eq 2 ]
	[ "$(status_field persisted_objects)" -eq 21 ]
	kill_daemon
	start_daemon
	[ "$(status_field persisted_objects)" -eq 21 ]
	[ "$(vyctl get first)" = "small 1" ]
	"$VY_BUILD/tests/helpers/vy_objtool" check frame "${files[@]}"
	all_back 1 12
}

@test "a damaged group log is moved aside with a warning, and the daemon starts" {
	start_daemon
	put_many 10
	vyctl persist "${IDS[@]}"
	kill_daemon
	local log
	log=$(find "$DATA/objects" -maxdepth 1 -name 'group-*.log')
	[ -f "$log" ]
	# one byte of an item flipped: the log's checksum fails
	printf 'X' | dd of="$log" bs=1 seek=100 conv=notrunc status=none
	start_daemon
	grep -q "group log fails its checksum" "$T/daemon.log"
	[ -f "$DATA/damaged/$(basename "$log")" ]
	[ "$(nlogs)" -eq 0 ]
	run vyctl status
	[ "$status" -eq 0 ]
	run vyctl get "${IDS[0]}"
	[ "$status" -eq 3 ]
}

@test "a group log that is not a log, or cut short, is moved aside too" {
	mkdir -p "$DATA/objects"
	start_daemon
	stop_daemon
	# no log written: the directory stays format 2
	[ "$(tail -1 "$DATA/format")" = "format 2" ]
	echo "not a log" >"$DATA/objects/group-0000000000000001.log"
	head -c 40 /dev/zero >"$DATA/objects/group-0000000000000002.log"
	start_daemon
	grep -q "not a group log" "$T/daemon.log"
	[ -f "$DATA/damaged/group-0000000000000001.log" ]
	[ -f "$DATA/damaged/group-0000000000000002.log" ]
	[ "$(nlogs)" -eq 0 ]
}
