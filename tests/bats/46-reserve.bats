#!/usr/bin/env bats
# The reserve pool (issue 15, fast puts on default settings): memory faulted
# in ahead of puts, filled from the start while a CPU is idle; status shows
# it; a put of about its size takes it over as its blob; a put that needs
# its room takes it back; --reserve 0 turns it off. Stores of 256 MiB keep
# the pool at 64 MiB (a quarter of --size).

load helper

figure() { # figure NAME: a number from --json status
	vyctl --json status | sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p"
}

# Waits (at most 60 s: the pool fills only while a CPU is idle) until the
# pool is full.
wait_full() {
	local i f t
	for i in $(seq 600); do
		f=$(figure reserve_filled_bytes)
		t=$(figure reserve_target_bytes)
		[ "$t" -gt 0 ] && [ "$f" = "$t" ] && return 0
		sleep 0.1
	done
	echo "reserve not full: $f of $t" >&2
	return 1
}

@test "the pool fills from the start up to a quarter of --size; status shows it" {
	start_daemon --size 256M --spill-dir none
	[ "$(figure reserve_target_bytes)" -eq $((64 << 20)) ]
	wait_full
	[ "$(figure reserve_bytes)" -eq $((64 << 20)) ]
	[ "$(figure used_bytes)" -eq 0 ]
	run vyctl status
	[ "$status" -eq 0 ]
	[[ "$output" == *"reserve:    64.0 MiB faulted in ahead of puts, of 64.0 MiB (ready)"* ]] ||
	[[ "$output" == *"reserve:    64 MiB faulted in ahead of puts, of 64 MiB (ready)"* ]]
	[[ "$output" == *"64"*"reserved for puts"* ]]
}

@test "a put of about the pool's size takes it over; its bytes are the put's" {
	start_daemon --size 256M --spill-dir none -v
	wait_full
	head -c $((64 << 20)) /dev/urandom >"$T/a.bin"
	head -c $((40 << 20)) /dev/urandom >"$T/b.bin"
	timeout 30 "$VINEYARDCTL" put "$T/a.bin" --name a >/dev/null
	grep -q "adopts the pool of 67108864 bytes" "$T/daemon.log"
	timeout 30 "$VINEYARDCTL" get a -o "$T/a.out"
	cmp "$T/a.bin" "$T/a.out"
	# the next pool, then a smaller put (more than half of it): trimmed to
	# its exact size, counted as such
	wait_full
	timeout 30 "$VINEYARDCTL" put "$T/b.bin" --name b >/dev/null
	[ "$(grep -c "adopts the pool" "$T/daemon.log")" -eq 2 ]
	timeout 30 "$VINEYARDCTL" get b -o "$T/b.out"
	cmp "$T/b.bin" "$T/b.out"
	[ "$(figure used_bytes)" -eq $(((64 + 40) << 20)) ]
	vyctl rm a b
	[ "$(figure used_bytes)" -eq 0 ]
}

@test "a put that needs the pool's room takes it back" {
	start_daemon --size 256M --spill-dir none
	wait_full
	# 200 MiB + the 64 MiB pool would pass the limit: the pool goes
	head -c $((200 << 20)) /dev/urandom >"$T/big.bin"
	timeout 30 "$VINEYARDCTL" put "$T/big.bin" --name big >/dev/null
	[ "$(figure used_bytes)" -eq $((200 << 20)) ]
	u=$(figure used_bytes) r=$(figure reserve_bytes)
	[ $((u + r)) -le $((256 << 20)) ]
	timeout 30 "$VINEYARDCTL" get big -o "$T/big.out"
	cmp "$T/big.bin" "$T/big.out"
	# and with the blob gone the pool may grow again, within the limit
	vyctl rm big
	wait_full
	[ "$(figure reserve_bytes)" -le $((64 << 20)) ]
}

@test "--reserve 0: no pool, puts as before" {
	start_daemon --size 256M --reserve 0
	[ "$(figure reserve_target_bytes)" -eq 0 ]
	[ "$(figure reserve_bytes)" -eq 0 ]
	head -c $((8 << 20)) /dev/urandom >"$T/c.bin"
	timeout 30 "$VINEYARDCTL" put "$T/c.bin" --name c >/dev/null
	timeout 30 "$VINEYARDCTL" get c -o "$T/c.out"
	cmp "$T/c.bin" "$T/c.out"
	[ "$(figure reserve_bytes)" -eq 0 ]
	run vyctl status
	[[ "$output" != *"reserve: "* ]]
}
