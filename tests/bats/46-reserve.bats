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

# --- writers of huge-page pools (client/lib/blob.c) ---
# VINEYARD_TEST_HUGE_POOL makes the pool of huge pages whatever the
# machine's shmem policy is just now (another daemon with --huge-pages
# enable changes it while it runs); the helper says how many kB of its
# writable mapping of the blob the kernel maps with 2 MiB entries.

HUGEPUT=$VY_BUILD/tests/helpers/hugeput

# put_huge MODE FILE: puts FILE through the helper; sets PMD (bytes mapped
# with 2 MiB entries), ID, and HUGE (the daemon's count of 2 MiB-page bytes
# in the pool it adopted, from its log).
put_huge() {
	local out n
	n=$(grep -c "adopts the pool" "$T/daemon.log" || true)
	out=$(timeout 30 "$HUGEPUT" "$1" "$2") || return 1
	PMD=$(($(sed -n 's/^pmd_kb=//p' <<<"$out") * 1024))
	ID=$(sed -n 's/^id=//p' <<<"$out")
	[ "$(grep -c "adopts the pool" "$T/daemon.log")" -eq $((n + 1)) ]
	HUGE=$(grep "adopts the pool" "$T/daemon.log" | tail -1 |
	       sed -n 's/.*(\([0-9]*\) of them in 2 MiB pages).*/\1/p')
}

@test "a put into a pool of huge pages is written through 2 MiB entries; get (2 MiB entries too) and the mount read it back" {
	mkdir "$MNT"
	VINEYARD_TEST_HUGE_POOL=1 start_daemon --size 256M --spill-dir none -v --mount "$MNT"
	[ "$(vyctl --json status | sed -n 's/.*"huge_pages": "\(.*\)".*/\1/p')" = pool ] ||
		skip "MADV_COLLAPSE is refused here (kernel before 6.1?)"
	wait_full
	head -c $((64 << 20)) /dev/urandom >"$T/a.bin"
	put_huge write "$T/a.bin"
	[ "$HUGE" -gt 0 ] || skip "no free huge pages just now"
	# all of the huge prefix, and nothing else, mapped with 2 MiB entries
	[ "$PMD" -eq "$HUGE" ]
	timeout 30 "$VINEYARDCTL" get "$ID" -o "$T/a.out"
	cmp "$T/a.bin" "$T/a.out"
	timeout 30 cmp "$T/a.bin" "$MNT/objects/$ID/data"
	# a get maps it aligned as well: a reader's faults take 2 MiB each
	out=$(timeout 30 "$HUGEPUT" get "$ID")
	[ $(($(sed -n 's/^pmd_kb=//p' <<<"$out") * 1024)) -eq "$HUGE" ]
	# vy_writer_data maps the blob aligned too: its huge pages fault whole
	wait_full
	put_huge data "$T/a.bin"
	[ "$HUGE" -gt 0 ] || skip "no free huge pages just now"
	[ "$PMD" -eq "$HUGE" ]
	timeout 30 cmp "$T/a.bin" "$MNT/objects/$ID/data"
}

@test "huge-page pools trimmed or extended to a put's size: the huge prefix mapped, the rest by pwrite, bytes intact" {
	VINEYARD_TEST_HUGE_POOL=1 start_daemon --size 256M --spill-dir none -v
	[ "$(vyctl --json status | sed -n 's/.*"huge_pages": "\(.*\)".*/\1/p')" = pool ] ||
		skip "MADV_COLLAPSE is refused here (kernel before 6.1?)"
	# extended past the pool: the tail is 4 KiB pages, written by pwrite
	wait_full
	head -c $(((64 << 20) + 12345)) /dev/urandom >"$T/x.bin"
	put_huge write "$T/x.bin"
	# (less only if MADV_COLLAPSE found no free huge page at some step)
	[ $((HUGE % (2 << 20))) -eq 0 ] && [ "$HUGE" -le $((64 << 20)) ]
	[ "$PMD" -eq "$HUGE" ]
	timeout 30 "$VINEYARDCTL" get "$ID" -o "$T/x.out"
	cmp "$T/x.bin" "$T/x.out"
	# then trimmed inside a huge page (that one splits: 40 MiB stay
	# huge), from a file (vy_writer_write_fd reads into the mapping)
	wait_full
	head -c $(((40 << 20) + 4097)) /dev/urandom >"$T/t.bin"
	put_huge fd "$T/t.bin"
	[ $((HUGE % (2 << 20))) -eq 0 ] && [ "$HUGE" -le $((40 << 20)) ]
	[ "$PMD" -eq "$HUGE" ]
	timeout 30 "$VINEYARDCTL" get "$ID" -o "$T/t.out"
	cmp "$T/t.bin" "$T/t.out"
	vyctl rm "$ID"
}

@test "pools of 4 KiB pages, or none: every byte by pwrite, as before" {
	head -c $((64 << 20)) /dev/urandom >"$T/a.bin"
	# --huge-pages off: the pool is made of 4 KiB pages
	VINEYARD_TEST_HUGE_POOL=1 start_daemon --size 256M --spill-dir none -v --huge-pages off
	wait_full
	put_huge write "$T/a.bin"
	[ "$HUGE" -eq 0 ] && [ "$PMD" -eq 0 ]
	timeout 30 "$VINEYARDCTL" get "$ID" -o "$T/a.out"
	cmp "$T/a.bin" "$T/a.out"
	stop_daemon
	# --reserve 0: no pool to adopt
	VINEYARD_TEST_HUGE_POOL=1 start_daemon --size 256M --reserve 0
	for m in write fd; do
		out=$(timeout 30 "$HUGEPUT" $m "$T/a.bin")
		[[ "$out" == *"pmd_kb=0"* ]]
		id=$(sed -n 's/^id=//p' <<<"$out")
		timeout 30 "$VINEYARDCTL" get "$id" -o "$T/a.out"
		cmp "$T/a.bin" "$T/a.out"
	done
}
