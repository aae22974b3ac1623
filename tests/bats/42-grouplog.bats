#!/usr/bin/env bats
# Group logs: a persist of many small objects is made durable as one file,
# objects/group-*.log, and the objects' own files are written from it only
# when a delete, unpersist or chmod touches one of them, or at start-up.
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
	kill_daemon
	start_daemon
	grep -q "applied 1 group log (40 files)" "$T/daemon.log"
	[ "$(status_field persisted_objects)" -eq 40 ]
	all_back 1 40
	# applied at start-up: plain files, no log left
	[ "$(nlogs)" -eq 0 ]
	[ "$(nblobs)" -eq 40 ]
}

@test "the log stays while the daemon runs; start-up applies it" {
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
	grep -q "applied 2 group logs (16 files)" "$T/daemon.log"
	[ "$(nlogs)" -eq 0 ]
	[ "$(nblobs)" -eq 16 ]
	all_back 1 16
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
	echo "not a log" >"$DATA/objects/group-0000000000000001.log"
	head -c 40 /dev/zero >"$DATA/objects/group-0000000000000002.log"
	start_daemon
	grep -q "not a group log" "$T/daemon.log"
	[ -f "$DATA/damaged/group-0000000000000001.log" ]
	[ -f "$DATA/damaged/group-0000000000000002.log" ]
	[ "$(nlogs)" -eq 0 ]
}
