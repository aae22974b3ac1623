#!/usr/bin/env bats
# 63-migrate: objects move between instances. Daemons a and b (and more)
# on one private etcd (tests/helpers/etcd.sh, free loopback ports) stand for
# machines; b fetches what a persisted over a's --rpc port. Faults come from
# a's test hooks (VINEYARD_TEST_CORRUPT_CHUNK, VINEYARD_TEST_CHUNK_DELAY_MS,
# src/req_transfer.c). Every wait is bounded; nothing asserts a duration.

load helper
load cluster

SRC=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

local_setup() {
	cluster_setup
	# one token for the cluster: instances fetch from each other with
	# their daemon's rights (without it, as nobody: test "no token")
	echo "migrate-test-token-$RANDOM$RANDOM" >"$T/token"
	TOKEN_OPT=(--rpc-token-file "$T/token")
	export VINEYARD_RPC_TOKEN=$(cat "$T/token")
}

# start_node NAME [vineyardd options...]: a daemon on $T/NAME.sock with its
# own data dir and --rpc port (in $T/NAME.port), in the cluster.
start_node() {
	local n=$1 i port try fresh=
	shift
	# a fresh port may be taken between free_port and the bind: then
	# another (a restart keeps the port its clients know)
	for try in $(seq 10); do
		port=$(cat "$T/$n.port" 2>/dev/null) ||
			{ port=$(free_port) && fresh=1; } || return 1
		echo "$port" >"$T/$n.port"
		"$VINEYARDD" --foreground --socket "$T/$n.sock" --data-dir "$T/$n-data" \
			--etcd "$ETCD_URL" --etcd-ttl 2 --rpc "127.0.0.1:$port" \
			"${TOKEN_OPT[@]}" "$@" \
			>>"$T/$n.log" 2>&1 3>&- &
		echo $! >"$T/$n.pid"
		NODES+=("$n")
		for i in $(seq 100); do
			"$VINEYARDCTL" --socket "$T/$n.sock" status >/dev/null 2>&1 &&
				{ eventually joined "$n"; return; }
			kill -0 "$(cat "$T/$n.pid")" 2>/dev/null || break
			sleep 0.05
		done
		if [ -n "$fresh" ] && ! kill -0 "$(cat "$T/$n.pid")" 2>/dev/null &&
		   grep -q "127.0.0.1:$port: cannot listen" "$T/$n.log"; then
			rm -f "$T/$n.port"
			continue
		fi
		kill -0 "$(cat "$T/$n.pid")" 2>/dev/null || { cat "$T/$n.log" >&2; return 1; }
		eventually joined "$n"
		return
	done
	cat "$T/$n.log" >&2
	return 1
}

# published NODE ID: NODE's view of the cluster lists ID, its instance alive
published() { on "$1" ls --cluster | grep "$2" | grep -qv "(gone)"; }
# on_instance NODE ID IID: NODE's view lists ID as IID's, available
on_instance() { on "$1" ls --cluster | grep "^$2 " | grep -Eq " $3 +yes( |\$)"; }
figure() { on "$1" --json status | sed -n "s/^ *\"$2\": \([0-9]*\).*/\1/p"; }
figure_is() { [ "$(figure "$1" "$2")" = "$3" ]; }
figure_over() { [ "$(figure "$1" "$2")" -gt "$3" ]; }

# pyrun ARGS...: this tree's Python package over this build's library
# (the sanitizer runtime first when the library was built with it)
pyrun() {
	local pre=
	if ldd "$VY_BUILD/libvineyard.so.0" 2>/dev/null | grep -q libasan; then
		pre="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
	fi
	LD_PRELOAD=$pre ASAN_OPTIONS=detect_leaks=0 \
		PYTHONPATH="$SRC/client/python" \
		VINEYARD_LIBRARY="$VY_BUILD/libvineyard.so.0" timeout 120 "$PYTHON" "$@"
}

two_nodes() {
	ETCD_URL=$("$ETCD_SH" start "$T/etcd") || return 1
	start_node a
	start_node b "$@"
}

@test "fetch on demand: 0 B, 1 B and 4097 B blobs byte-identical; the copy keeps its id and a second get is local" {
	two_nodes
	: >f0
	head -c 1 /dev/urandom >f1
	head -c 4097 /dev/urandom >f4097
	for s in 0 1 4097; do
		ids[$s]=$(on a put "f$s" --name "n$s" --persist)
	done
	eventually published b "${ids[4097]}"
	for s in 0 1 4097; do
		eventually published b "${ids[$s]}"
		on b get "n$s" -o "g$s"
		cmp "f$s" "g$s"
	done
	[ "$(figure b transfers_done)" -eq 3 ]
	[ "$(figure b transfers_failed)" -eq 0 ]
	[ "$(figure b transfer_bytes)" -ge 4098 ]
	# the copies are local objects under the same ids
	run on b ls
	for s in 0 1 4097; do
		[[ "$output" == *"${ids[$s]}"* ]]
	done
	# a second get and a migrate of what is here move nothing
	on b get "${ids[4097]}" -o again
	cmp f4097 again
	run on b migrate n4097
	[ "$status" -eq 0 ]
	[ "$output" = "${ids[4097]}" ]
	[ "$(figure b transfers_done)" -eq 3 ]
	# persisting the copy keeps it on b's disk but does not publish it as
	# b's: the cluster's record still names a's instance
	ia=$(on a --json cluster | sed -n 's/^  "instance": \([0-9]*\),/\1/p')
	on b persist "${ids[1]}"
	on b name "${ids[4097]}" mark	# a later write, to wait for
	eventually on a meta mark
	run on a --json ls --cluster
	echo "$output" | grep "\"${ids[1]}\"" | grep -q "\"instance\": $ia,"
	# an object nobody published is still not found
	run on b migrate o0000000000000abc
	[ "$status" -eq 3 ]
}

@test "a copy keeps its owner and mode: the owner gets it on b, another user is refused there too" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run clients as other users"
	command -v setpriv >/dev/null || skip "no setpriv"
	two_nodes --socket-mode 0666
	chmod 0666 "$T/a.sock"
	# users 65533 and 65532 reach the sockets and a copy of the tools
	# (the build tree may sit where only root can go)
	local d=$T
	while [ "$d" != / ] && [ "$d" != /tmp ]; do chmod o+x "$d"; d=$(dirname "$d"); done
	mkdir -m 0755 "$T/u"
	cp "$VINEYARDCTL" "$VY_BUILD/libvineyard.so.0" "$T/u/"
	head -c 300000 /dev/urandom >"$T/u/f"
	chmod 0644 "$T/u/f"
	as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups \
		env LD_LIBRARY_PATH="$T/u" "$T/u/vineyardctl" "$@"; }
	big=$(as 65533 --socket "$T/a.sock" put "$T/u/f" --persist)
	small=$(echo "a few bytes" | as 65533 --socket "$T/a.sock" put - --persist --mode 0600)
	eventually published b "$big"
	eventually published b "$small"
	# its owner fetches both on b and reads them
	as 65533 --socket "$T/b.sock" get "$big" -o - >"$T/g"
	cmp "$T/u/f" "$T/g"
	[ "$(as 65533 --socket "$T/b.sock" get "$small" -o -)" = "a few bytes" ]
	# the copies are 65533's on b, with a's modes
	run on b ls
	echo "$output" | grep "^$big " | grep -q ' rw-r-----  *65533 '
	echo "$output" | grep "^$small " | grep -q ' rw-------  *65533 '
	# another user may not read them on b either
	run as 65532 --socket "$T/b.sock" get "$small" -o /dev/null
	[ "$status" -eq 9 ]
	[[ "$output" == *"may not read it"* ]]
	run as 65532 --socket "$T/b.sock" get "$big" -o /dev/null
	[ "$status" -eq 9 ]
	[ "$(figure b transfers_done)" -eq 2 ]
}

@test "256 MiB fetched byte-identical; a copy that does not fit b's --size is refused before any byte moves" {
	ETCD_URL=$("$ETCD_SH" start "$T/etcd")
	start_node a
	start_node b
	start_node small --size 64M
	head -c $((256 << 20)) /dev/urandom >big
	id=$(on a put big --name big --persist)
	eventually published b "$id"
	eventually published small "$id"
	run on small migrate big
	[ "$status" -eq 5 ]
	[[ "$output" == *"no space for a copy"* ]]
	[ "$(figure small used_bytes)" -eq 0 ]
	[ "$(figure small transfer_bytes)" -eq 0 ]
	run on b migrate big
	[ "$status" -eq 0 ]
	[ "$output" = "$id" ]
	on b get big | cmp - big
	rm -f big
	[ "$(figure b transfers_done)" -eq 1 ]
	[ "$(figure b payload_bytes)" -eq $((256 << 20)) ]
}

@test "a DataFrame tree moves whole through Python: fetch=False refuses, get fetches every member, migrate gives the id" {
	two_nodes
	run pyrun - "$T/a.sock" "$T/b.sock" <<'EOF'
import sys, time
import numpy as np, pandas as pd
import vineyard

a = vineyard.connect(sys.argv[1])
b = vineyard.connect(sys.argv[2])
df = pd.DataFrame({'u': np.arange(50000, dtype='int64'),
                   'v': np.random.rand(50000),
                   'w': np.arange(50000, dtype='int32') % 7})
oid = a.put(df, name='frame', persist=True)
for _ in range(300):
    try:
        b.get_meta(oid)
        break
    except vineyard.Error:
        time.sleep(0.1)
try:
    b.get(name='frame', fetch=False)
    print('fetch=False did not refuse')
    sys.exit(1)
except vineyard.ObjectNotLocal as e:
    print('refused:', e)
got = b.get(name='frame')
assert got.equals(df), 'the frame differs'
assert b.migrate(oid) == oid
again = b.get(oid, fetch=False)      # local now
assert again.equals(df)
print('members', len(b.list_objects()))
EOF
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"refused: "*"lives on instance"* ]]
	[ "$(figure b transfers_done)" -eq 1 ]
	[ "$(figure b blobs)" -ge 3 ]
}

@test "TCP clients of b (vineyardctl --host, Python RPCClient) get what b must fetch from a" {
	two_nodes
	head -c $((5 << 20)) /dev/urandom >f
	id=$(on a put f --name big --persist)
	eventually published b "$id"
	port=$(cat "$T/b.port")
	timeout 120 "$VINEYARDCTL" --host "127.0.0.1:$port" get big -o g
	cmp f g
	[ "$(figure b transfers_done)" -eq 1 ]
	run pyrun - "$T/a.sock" "$port" <<'EOF'
import sys, time
import numpy as np, pandas as pd
import vineyard

a = vineyard.connect(sys.argv[1])
b = vineyard.RPCClient('127.0.0.1', int(sys.argv[2]))
df = pd.DataFrame({'u': np.arange(30000, dtype='int64'),
                   'v': np.random.rand(30000)})
oid = a.put(df, name='frame', persist=True)
other = a.put(np.arange(1000, dtype='int64'), name='arr', persist=True)
for _ in range(300):
    try:
        b.get_meta(oid)
        b.get_meta(other)
        break
    except vineyard.Error:
        time.sleep(0.1)
try:
    b.get(name='arr', fetch=False)
    print('fetch=False did not refuse')
    sys.exit(1)
except vineyard.ObjectNotLocal as e:
    print('refused:', e)
got = b.get(name='frame')
assert got.equals(df), 'the frame differs'
assert (b.get(other) == np.arange(1000)).all()
again = b.get(oid, fetch=False)      # local to b now
assert again.equals(df)
print('ok')
EOF
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"refused: "*"lives on instance"* ]]
	[[ "$output" == *ok ]]
	[ "$(figure b transfers_done)" -eq 3 ]
	[ "$(figure b transfers_failed)" -eq 0 ]
}

@test "no token: an instance fetches as nobody, so only what others may read; the rest is refused clearly and nothing is kept" {
	TOKEN_OPT=()
	two_nodes
	head -c 100000 /dev/urandom >f
	priv=$(on a put f --name priv --persist)
	open=$(on a put f --name open --persist --mode 0644)
	eventually published b "$priv"
	eventually published b "$open"
	run on b get priv -o g
	[ "$status" -ne 0 ]
	[[ "$output" == *"may not read it"* ]]
	[ ! -e g ]
	[ "$(figure b objects)" -eq 0 ]
	[ "$(figure b transfers_failed)" -eq 1 ]
	on b get open -o g
	cmp f g
}

@test "a chunk damaged on the way is refused: nothing kept, memory back, the retry is byte-identical" {
	ETCD_URL=$("$ETCD_SH" start "$T/etcd")
	VINEYARD_TEST_CORRUPT_CHUNK=2 start_node a
	start_node b
	head -c $((10 << 20)) /dev/urandom >f
	id=$(on a put f --name f --persist)
	eventually published b "$id"
	run on b get f -o g
	[ "$status" -ne 0 ]
	[[ "$output" == *"failed its checksum"* ]]
	[ ! -e g ]
	[ "$(figure b objects)" -eq 0 ]
	[ "$(figure b used_bytes)" -eq 0 ]
	[ "$(figure b transfers_failed)" -eq 1 ]
	grep -q "damaged after its checksum" "$T/a.log"
	on b get f -o g
	cmp f g
}

@test "the source SIGKILLed mid-transfer: clear error, no partial object, memory back; after a restarts with its data the retry works" {
	ETCD_URL=$("$ETCD_SH" start "$T/etcd")
	VINEYARD_TEST_CHUNK_DELAY_MS=300 start_node a
	start_node b
	head -c $((40 << 20)) /dev/urandom >f
	id=$(on a put f --name f --persist)
	eventually published b "$id"
	on b get f -o g >out 2>&1 3>&- &
	getter=$!
	eventually figure_over b transfer_bytes 0
	[ "$(figure b transfers_active)" -eq 1 ]
	kill -KILL "$(cat "$T/a.pid")"
	if wait "$getter"; then
		echo "the get succeeded" >&2
		false
	fi
	cat out
	grep -q "closed the connection mid-transfer\|connection to instance" out
	[ ! -e g ]
	eventually figure_is b transfers_active 0
	[ "$(figure b objects)" -eq 0 ]
	[ "$(figure b used_bytes)" -eq 0 ]
	[ "$(figure b unsealed_blobs)" -eq 0 ]
	[ "$(figure b transfers_failed)" -eq 1 ]
	# a comes back (no delay now) with its persisted copy
	start_node a
	eventually published b "$id"
	on b get f -o g
	cmp f g
	[ "$(figure b transfers_done)" -eq 1 ]
}

@test "a restarted before its lease expires joins under a new id, and what it persisted is published under that id" {
	ETCD_URL=$("$ETCD_SH" start "$T/etcd")
	# a long TTL keeps the killed daemon's lease (and its id) alive
	# across the restart, whatever the load on the machine
	start_node a --etcd-ttl 30
	start_node b
	head -c $((1 << 20)) /dev/urandom >f
	id=$(on a put f --name f --persist)
	eventually published b "$id"
	kill -KILL "$(cat "$T/a.pid")"
	wait "$(cat "$T/a.pid")" 2>/dev/null || true
	start_node a
	grep -q "is held by a live daemon; taking a new one" "$T/a.log"
	new=$(on a cluster | sed -n 's/.*this daemon is instance \([0-9]*\).*/\1/p')
	[ -n "$new" ]
	# b sees the object under a's new id, not under the old one
	eventually on_instance b "$id" "$new"
	on b get f -o g
	cmp f g
}

@test "16 concurrent getters of one remote object cause one transfer" {
	ETCD_URL=$("$ETCD_SH" start "$T/etcd")
	VINEYARD_TEST_CHUNK_DELAY_MS=100 start_node a
	start_node b
	head -c $((20 << 20)) /dev/urandom >f
	id=$(on a put f --name f --persist)
	eventually published b "$id"
	pids=()
	for i in $(seq 16); do
		on b get f -o "g$i" 3>&- &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	for i in $(seq 16); do
		cmp f "g$i"
	done
	[ "$(figure b transfers_done)" -eq 1 ]
	[ "$(figure b transfers_failed)" -eq 0 ]
	[ "$(figure b transfer_bytes)" -lt $((21 << 20)) ]
}

@test "the mount: opening a remote blob's data fetches it once for every concurrent reader, then it reads as a local blob" {
	ETCD_URL=$("$ETCD_SH" start "$T/etcd")
	VINEYARD_TEST_CHUNK_DELAY_MS=50 start_node a
	mkdir "$T/bmnt"
	start_node b --mount "$T/bmnt"
	head -c $((20 << 20)) /dev/urandom >f
	head -c 4097 /dev/urandom >small
	id=$(on a put f --name big --persist)
	sid=$(on a put small --name small --persist)
	eventually published b "$id"
	eventually published b "$sid"
	# through its name too: names/ resolves the cluster's names
	eventually test -e "$T/bmnt/names/big/data"
	[ "$(stat -c %s "$T/bmnt/objects/$id/data")" -eq $((20 << 20)) ]
	pids=()
	for i in $(seq 6); do
		timeout 60 cat "$T/bmnt/objects/$id/data" >"m$i" 2>"e$i" 3>&- &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	for i in $(seq 6); do
		cmp f "m$i"
	done
	[ "$(figure b transfers_done)" -eq 1 ]
	[ "$(figure b transfers_failed)" -eq 0 ]
	# a local object of b's now: a get moves nothing more
	on b ls | grep -q "$id"
	on b get big -o g
	cmp f g
	timeout 60 cat "$T/bmnt/names/big/data" | cmp f -
	timeout 60 cat "$T/bmnt/names/small/data" | cmp small -
	[ "$(figure b transfers_done)" -eq 2 ]
	[ "$(figure b transfer_bytes)" -eq $(((20 << 20) + 4097)) ]
	# a killed while an open waits for its transfer: the open fails (no
	# hang), nothing of the blob is kept
	head -c $((40 << 20)) /dev/urandom >lost
	lid=$(on a put lost --persist)
	eventually published b "$lid"
	timeout 60 cat "$T/bmnt/objects/$lid/data" >l 2>le 3>&- &
	catpid=$!
	eventually figure_over b transfer_bytes $(((20 << 20) + 4097))
	kill -KILL "$(cat "$T/a.pid")"
	if wait "$catpid"; then
		echo "the open succeeded" >&2
		false
	else
		st=$?
	fi
	cat le
	[ "$st" -ne 124 ]
	grep -q "fs: open of objects/$lid/data: " "$T/b.log"
	eventually figure_is b transfers_active 0
	[ "$(figure b objects)" -eq 2 ]
	[ "$(figure b unsealed_blobs)" -eq 0 ]
	[ "$(figure b used_bytes)" -lt $((30 << 20)) ]
	# a's gone: an open of what is still only there fails at once
	gone() { on b ls --cluster | grep "$lid" | grep -q "(gone)"; }
	eventually gone
	run timeout 30 cat "$T/bmnt/objects/$lid/data"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$output" == *"Object is remote"* ]]
	grep -q "fs: open of objects/$lid/data: .*gone" "$T/b.log"
	# what was fetched stays readable
	timeout 60 cat "$T/bmnt/objects/$id/data" | cmp f -
}

@test "--transfer-compression lz4: text crosses the wire smaller, random data as it is, both byte-identical; a damaged block is refused" {
	run "$VINEYARDD" --foreground --socket "$T/x.sock" --transfer-compression zstd
	[ "$status" -eq 2 ]
	[[ "$output" == *"expected none or lz4"* ]]
	ETCD_URL=$("$ETCD_SH" start "$T/etcd")
	VINEYARD_TEST_CORRUPT_CHUNK=1 start_node a
	start_node b --transfer-compression lz4
	# text that repeats within lz4's 64 KiB window whatever the README's
	# length (the whole README stopped compressing when it passed 64 KiB)
	for i in $(seq 800); do head -c 32768 "$SRC/README.md"; done | head -c $((12 << 20)) >text
	head -c $((6 << 20)) /dev/urandom >rand
	it=$(on a put text --name text --persist)
	ir=$(on a put rand --name rand --persist)
	eventually published b "$ir"
	eventually published b "$it"
	# the first chunk a serves is damaged inside its lz4 block
	run on b get text -o t2
	[ "$status" -ne 0 ]
	[[ "$output" == *"damaged on the way"* ]]
	[ "$(figure b objects)" -eq 0 ]
	on b get text -o t2
	cmp text t2
	[ "$(figure b transfer_bytes)" -eq "$(stat -c %s text)" ]
	[ "$(figure b transfer_wire_bytes)" -lt $((2 << 20)) ]
	on b get rand -o r2
	cmp rand r2
	[ "$(figure b transfer_wire_bytes)" -gt $((6 << 20)) ]
}

# pool_full NODE: NODE's --reserve pool is filled to its target (at most
# 60 s: it fills only while a CPU is idle)
pool_full() {
	local i f t
	for i in $(seq 600); do
		f=$(figure "$1" reserve_filled_bytes)
		t=$(figure "$1" reserve_target_bytes)
		[ -n "$t" ] && [ "$t" -gt 0 ] && [ "$f" = "$t" ] && return 0
		sleep 0.1
	done
	echo "$1's pool not full: $f of $t" >&2
	return 1
}
adoptions() { grep -c "adopts the pool" "$T/$1.log" || true; }

@test "a copy lands in b's --reserve pool when one is ready (migrate, the mount): byte-identical, memory exact; a damaged copy gives its memory back and the pool refills; a copy while the pool refills" {
	ETCD_URL=$("$ETCD_SH" start "$T/etcd")
	start_node a
	VINEYARD_TEST_CORRUPT_CHUNK=2 start_node bad
	mkdir "$T/bmnt"
	# a pool of 64 MiB (a quarter of --size); -v logs each adoption
	start_node b --size 256M --spill-dir none --mount "$T/bmnt" -v
	head -c $((48 << 20)) /dev/urandom >f1
	head -c $((40 << 20)) /dev/urandom >f2
	head -c $((56 << 20)) /dev/urandom >f3
	i1=$(on a put f1 --persist)
	i2=$(on a put f2 --persist)
	i3=$(on bad put f3 --persist)
	eventually published b "$i1"
	eventually published b "$i2"
	eventually published b "$i3"
	[ "$(figure b reserve_target_bytes)" -eq $((64 << 20)) ]
	# migrate: the copy is the pool (trimmed to 48 MiB), counted exactly
	pool_full b
	[ "$(figure b used_bytes)" -eq 0 ]
	run on b migrate "$i1"
	[ "$status" -eq 0 ] && [ "$output" = "$i1" ]
	[ "$(adoptions b)" -eq 1 ]
	grep -q "a blob of $((48 << 20)) bytes adopts the pool of $((64 << 20)) bytes" "$T/b.log"
	on b get "$i1" | cmp - f1
	[ "$(figure b used_bytes)" -eq $((48 << 20)) ]
	# the mount's open fetches through the same path: the next pool (it
	# follows the latest copy's size, 48 MiB) trimmed to 40 MiB
	pool_full b
	[ "$(figure b reserve_target_bytes)" -eq $((48 << 20)) ]
	timeout 60 cat "$T/bmnt/objects/$i2/data" | cmp - f2
	[ "$(adoptions b)" -eq 2 ]
	[ "$(figure b used_bytes)" -eq $((88 << 20)) ]
	# a chunk damaged on the way into a pool-made copy (56 MiB, the pool
	# extended): refused, nothing kept, used back where it was; the pool
	# refills
	pool_full b
	run on b migrate "$i3"
	[ "$status" -ne 0 ]
	[[ "$output" == *"failed its checksum"* ]]
	[ "$(adoptions b)" -eq 3 ]
	[ "$(figure b used_bytes)" -eq $((88 << 20)) ]
	[ "$(figure b unsealed_blobs)" -eq 0 ]
	[ "$(figure b objects)" -eq 2 ]
	pool_full b
	u=$(figure b used_bytes) r=$(figure b reserve_bytes)
	[ "$r" -gt 0 ] && [ $((u + r)) -le $((256 << 20)) ]
	# the retry right away, while the pool may still be refilling after
	# it: from the pool, from a fresh memfd or after a wait, byte-identical
	run on b migrate "$i3"
	[ "$status" -eq 0 ]
	timeout 60 cat "$T/bmnt/objects/$i3/data" | cmp - f3
	[ "$(figure b used_bytes)" -eq $((144 << 20)) ]
	# two copies at once: one may take the pool, the other makes its own
	head -c $((24 << 20)) /dev/urandom >f4
	head -c $((24 << 20)) /dev/urandom >f5
	i4=$(on a put f4 --persist)
	i5=$(on a put f5 --persist)
	eventually published b "$i4"
	eventually published b "$i5"
	on b migrate "$i4" >m4 3>&- &
	p4=$!
	on b migrate "$i5" >m5 3>&- &
	p5=$!
	wait "$p4"
	wait "$p5"
	on b get "$i4" | cmp - f4
	on b get "$i5" | cmp - f5
	[ "$(figure b used_bytes)" -eq $((192 << 20)) ]
	[ "$(figure b transfers_failed)" -eq 1 ]
	u=$(figure b used_bytes) r=$(figure b reserve_bytes)
	[ $((u + r)) -le $((256 << 20)) ]
}
