#!/usr/bin/env bats
# 60-cluster: daemons forming a cluster on a real etcd that each test starts
# on free loopback ports in its own directory (tests/helpers/etcd.sh) and
# stops after. Three daemons (a, b, c) on one machine stand for three
# machines. Every wait is a bounded poll; nothing asserts a duration.

load helper
load cluster

local_setup() {
	cluster_setup
}

start_etcd() {
	ETCD_URL=$("$ETCD_SH" start "$T/etcd") || return 1
}

# start_node NAME [vineyardd options...]: a daemon on $T/NAME.sock with
# its own data dir, in the cluster at $ETCD_URL unless told otherwise.
start_node() {
	local n=$1 i
	shift
	"$VINEYARDD" --foreground --socket "$T/$n.sock" --data-dir "$T/$n-data" \
		--etcd-ttl 2 "$@" >>"$T/$n.log" 2>&1 3>&- &
	echo $! >"$T/$n.pid"
	NODES+=("$n")
	for i in $(seq 100); do
		"$VINEYARDCTL" --socket "$T/$n.sock" status >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$T/$n.pid")" 2>/dev/null || { cat "$T/$n.log" >&2; return 1; }
		sleep 0.05
	done
	cat "$T/$n.log" >&2
	return 1
}

not_joined() { ! joined "$1"; }
sees_instances() { [ "$(on "$1" --json cluster | grep -c '"alive": true')" -eq "$2" ]; }
name_is() { [ "$(on "$1" meta "$2" | sed -n 's/^ *"id": "\(o[0-9a-f]*\)".*/\1/p' | head -1)" = "$3" ]; }
no_name() { ! on "$1" meta "$2"; }

three_nodes() {
	start_etcd
	# a's TCP front, on a free loopback port (retried when taken)
	local try
	for try in $(seq 20); do
		RPC_PORT=$((20000 + RANDOM % 30000))
		ss -Htln 2>/dev/null | awk '{print $4}' | grep -q ":$RPC_PORT\$" || break
	done
	start_node a --etcd "$ETCD_URL" --rpc "127.0.0.1:$RPC_PORT"
	start_node b --etcd "$ETCD_URL"
	start_node c --etcd "$ETCD_URL"
	eventually joined a
	eventually joined b
	eventually joined c
	eventually sees_instances a 3
}

@test "three daemons join one etcd: distinct instance ids, each sees all three" {
	three_nodes
	ia=$(on a --json cluster | sed -n 's/^  "instance": \([0-9]*\),/\1/p')
	ib=$(on b --json cluster | sed -n 's/^  "instance": \([0-9]*\),/\1/p')
	ic=$(on c --json cluster | sed -n 's/^  "instance": \([0-9]*\),/\1/p')
	[ -n "$ia" ] && [ -n "$ib" ] && [ -n "$ic" ]
	[ "$ia" != "$ib" ] && [ "$ib" != "$ic" ] && [ "$ia" != "$ic" ]
	eventually sees_instances c 3
	run on b cluster
	[ "$status" -eq 0 ]
	[[ "$output" == *"127.0.0.1:$RPC_PORT"* ]]   # a's --rpc, in its record
	# and a TCP client of a sees the cluster too
	run "$VINEYARDCTL" --host "127.0.0.1:$RPC_PORT" cluster
	[ "$status" -eq 0 ]
	[[ "$output" == *"$T/c.sock"* ]]
	[[ "$output" == *"$T/c.sock"* ]]
	# status says so too
	run on b --json status
	[[ "$output" == *'"cluster": "joined"'* ]]
	[[ "$output" == *"\"cluster_instance\": $ib"* ]]
	# the instance id is kept in the data dir: a restart is the same one
	[ "$(cat "$T/a-data/cluster-instance")" = "$ia" ]
	# ids made after joining carry the instance id (bits 48..62)
	echo x >f
	id=$(on a put f)
	[ $(( (0x${id#o} >> 48) & 0x7fff )) -eq "$ia" ]
	# another prefix is another cluster in the same etcd
	start_node d --etcd "$ETCD_URL" --etcd-prefix other
	eventually joined d
	run on d --json cluster
	[[ "$output" == *'"prefix": "other"'* ]]
	[ "$(on d --json cluster | grep -c '"alive": true')" -eq 1 ]
}

@test "names across instances: put on a resolves on b and c, replace, delete drops it everywhere" {
	three_nodes
	head -c 5000 /dev/urandom >f
	id=$(on a put f --name shared --persist)
	eventually name_is b shared "$id"
	eventually name_is c shared "$id"
	run on b meta shared
	[ "$status" -eq 0 ]
	[[ "$output" == *'"typename": "vineyard::Blob"'* ]]
	[[ "$output" == *'"nbytes": 5000'* ]]
	[[ "$output" == *'"available": true'* ]]
	run on c ls --cluster
	[[ "$output" == *"$id"*shared* ]]
	# b's own object takes the name over: everywhere
	echo y >g
	id2=$(on b put g --persist)
	on b name "$id2" shared
	eventually name_is a shared "$id2"
	eventually name_is c shared "$id2"
	# a's local binding moved away with it
	run on a ls
	[[ "$output" != *"shared"* ]]
	# delete on b drops the name everywhere
	on b rm "$id2"
	eventually no_name a shared
	eventually no_name c shared
	run on c meta shared
	[ "$status" -eq 3 ]
}

@test "a group persist on a publishes every object of it: b lists them all" {
	start_etcd
	start_node a --etcd "$ETCD_URL"
	start_node b --etcd "$ETCD_URL"
	eventually joined a
	eventually joined b
	ids=()
	for i in $(seq 1 40); do
		ids+=("$(echo "object $i" | on a put -)")
	done
	on a persist "${ids[@]}"
	listed_on_b() { [ "$(on b --json ls --cluster | grep -c '"id"')" -ge 40 ]; }
	eventually listed_on_b
	run on b ls --cluster
	for id in "${ids[@]}"; do
		[[ "$output" == *"$id"* ]]
	done
	# status counts what ls --cluster lists, on both
	n=$(on b --json ls --cluster | grep -c '"id"')
	for x in a b; do
		[ "$(on "$x" --json status | sed -n 's/.*"cluster_objects": \([0-9]*\).*/\1/p')" -eq "$n" ]
	done
	on b status | grep -q "instance [0-9]*, $n objects published"
}

@test "two puts of one name race: exactly one wins, the same on every instance" {
	three_nodes
	echo 1 >f1
	echo 2 >f2
	ida=$(on a put f1 --persist)
	idb=$(on b put f2 --persist)
	on a name "$ida" race &
	p1=$!
	on b name "$idb" race &
	p2=$!
	wait $p1
	wait $p2
	# converged: all three resolve the name to one of the two
	converged() {
		local x y z
		x=$(on a meta race | sed -n 's/^ *"id": "\(o[0-9a-f]*\)".*/\1/p' | head -1)
		y=$(on b meta race | sed -n 's/^ *"id": "\(o[0-9a-f]*\)".*/\1/p' | head -1)
		z=$(on c meta race | sed -n 's/^ *"id": "\(o[0-9a-f]*\)".*/\1/p' | head -1)
		[ -n "$x" ] && [ "$x" = "$y" ] && [ "$y" = "$z" ] &&
			{ [ "$x" = "$ida" ] || [ "$x" = "$idb" ]; }
	}
	eventually converged
	# and the loser's instance no longer binds it locally
	w=$(on c meta race | sed -n 's/^ *"id": "\(o[0-9a-f]*\)".*/\1/p' | head -1)
	if [ "$w" = "$ida" ]; then loser=b; else loser=a; fi
	run on $loser ls
	[[ "$output" != *"race"* ]]
}

@test "a SIGKILLed daemon: the others see it gone within the TTL, its objects unavailable, its names clear" {
	three_nodes
	echo gone >f
	id=$(on c put f --name on-c --persist)
	eventually name_is a on-c "$id"
	kill -KILL "$(cat "$T/c.pid")"
	eventually sees_instances a 2
	eventually sees_instances b 2
	run on a ls --cluster
	[[ "$output" == *"$id"*"no (gone)"*on-c* ]]
	run on a meta on-c
	[ "$status" -eq 0 ]
	[[ "$output" == *'"available": false'* ]]
	# its bytes cannot be had: a clear error, not a hang or a stale copy
	run on a get on-c -o out
	[ "$status" -ne 0 ]
	[[ "$output" == *"instance"* ]]
	[ ! -e out ]
	# restarted on its data dir, it is the same instance again
	start_node c --etcd "$ETCD_URL"
	eventually sees_instances a 3
	avail() { on a ls --cluster | grep "$id" | grep -q " yes "; }
	eventually avail
}

@test "etcd unreachable at start: the daemon serves local objects, says so, and joins when etcd comes back" {
	start_etcd
	"$ETCD_SH" stop "$T/etcd"
	start_node a --etcd "$ETCD_URL"
	echo local >f
	id=$(on a put f --persist)
	on a get "$id" -o out
	cmp f out
	# a name is cluster-wide: binding one now is a clear error (exit 8),
	# never queued silently, and the put it came with leaves nothing
	run on a put f --name here
	[ "$status" -eq 8 ]
	[[ "$output" == *"cluster is unreachable"* ]]
	[ "$(on a ls | grep -c vineyard::Blob)" -eq 1 ]
	run on a name "$id" here
	[ "$status" -eq 8 ]
	[[ "$output" == *"names are cluster-wide"* ]]
	run on a wait here --timeout 0
	[ "$status" -ne 0 ]
	run on a cluster
	[ "$status" -eq 8 ]
	[[ "$output" == *"joining"* ]]
	[[ "$output" == *"127.0.0.1"* ]]
	run on a ls --cluster
	[ "$status" -eq 8 ]
	[[ "$output" == *"unreachable"* ]]
	grep -q "cannot join" "$T/a.log"
	"$ETCD_SH" restart "$T/etcd"
	eventually joined a
	# once joined, the name binds, and the object persisted meanwhile
	# was published
	on a name "$id" here
	start_node b --etcd "$ETCD_URL"
	eventually joined b
	eventually name_is b here "$id"
}

@test "etcd lost later: names fail with exit 8, unnamed puts go on, names work again after" {
	three_nodes
	echo x >f
	keep=$(on a put f --name kept --persist)
	eventually name_is b kept "$keep"
	"$ETCD_SH" stop "$T/etcd"
	eventually not_joined a
	id=$(on a put f --persist)
	run on a put f --name during
	[ "$status" -eq 8 ]
	[[ "$output" == *"cluster is unreachable (lost"* ]]
	run on a name "$id" during
	[ "$status" -eq 8 ]
	run on a name kept --drop
	[ "$status" -eq 8 ]
	# nothing was queued: the name is nowhere, the old one still resolves
	run on a wait during --timeout 0
	[ "$status" -ne 0 ]
	[ "$(on a wait kept --timeout 0)" = "$keep" ]
	"$ETCD_SH" restart "$T/etcd"
	eventually joined a
	eventually joined b
	on a name "$id" during
	eventually name_is b during "$id"
	no_during() { ! on c meta during >/dev/null 2>&1 || name_is c during "$id"; }
	eventually no_during
}

@test "etcd stopped and restarted under load: local puts and gets never fail, the view converges" {
	three_nodes
	head -c 100000 /dev/urandom >f
	"$ETCD_SH" stop "$T/etcd"
	eventually not_joined a
	for i in $(seq 20); do
		id=$(on a put f --persist) || { echo "put $i failed" >&2; false; }
		on a get "$id" -o out
		cmp f out
		rm out
	done
	run on a ls --cluster
	[ "$status" -eq 8 ]
	"$ETCD_SH" restart "$T/etcd"
	eventually joined a
	eventually joined b
	# the last object put while etcd was away is published after all
	seen() { on b ls --cluster | grep -q "$id"; }
	eventually seen
	eventually sees_instances b 3
}

@test "the mount: cluster.json, and the objects other instances published (bytes of an instance without --rpc are EREMOTE)" {
	start_etcd
	mkdir "$T/amnt"
	start_node a --etcd "$ETCD_URL" --mount "$T/amnt"
	start_node b --etcd "$ETCD_URL"
	eventually joined a
	eventually joined b
	eventually sees_instances a 2
	has2() { [ "$(grep -c '"socket"' "$T/amnt/cluster.json")" -eq 2 ]; }
	eventually has2
	run cat "$T/amnt/cluster.json"
	[[ "$output" == *'"state": "joined"'* ]]
	[[ "$output" == *"$T/b.sock"* ]]
	[[ "$(ls "$T/amnt")" == *cluster.json* ]]
	head -c 5000 /dev/urandom >f
	id=$(on b put f --persist --name on-b)
	local_id=$(on a put f)
	shown() { [ -d "$T/amnt/objects/$id" ]; }
	eventually shown
	ls "$T/amnt/objects" | grep -qx "$id"
	ls "$T/amnt/objects" | grep -qx "$local_id"
	[ "$(cat "$T/amnt/objects/$id/typename")" = "vineyard::Blob" ]
	run cat "$T/amnt/objects/$id/meta.json"
	[[ "$output" == *'"instance": '* ]]
	[[ "$output" == *'"available": true'* ]]
	[ "$(stat -c %s "$T/amnt/objects/$id/data")" -eq 5000 ]
	# the bytes live on b, which has no --rpc to fetch them from: a
	# clear error, never a hang or wrong bytes
	run timeout 30 cat "$T/amnt/objects/$id/data"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$output" == *"Object is remote"* ]]
	# local blobs read as ever
	cmp f "$T/amnt/objects/$local_id/data"
	# withdrawn on b: gone from a's mount too (no event reaches a's
	# kernel: it forgets within a second)
	on b rm on-b
	gone() { [ ! -e "$T/amnt/objects/$id" ] && ! ls "$T/amnt/objects" | grep -qx "$id"; }
	eventually gone
}

@test "without --etcd nothing changes: no cluster, a clear answer" {
	start_daemon
	run vyctl cluster
	[ "$status" -eq 1 ]
	[[ "$output" == *"not in a cluster"* ]]
	run vyctl ls --cluster
	[ "$status" -eq 1 ]
}

@test "bad cluster options: a clear error and exit 2" {
	run "$VINEYARDD" --foreground --data-dir none --socket "$T/x.sock" --etcd 127.0.0.1:2379
	[ "$status" -eq 2 ]
	[[ "$output" == *"http://"* ]]
	[ ! -e "$T/x.sock" ]
	run "$VINEYARDD" --foreground --data-dir none --socket "$T/x.sock" --etcd-ttl 0 --etcd http://127.0.0.1:1
	[ "$status" -eq 2 ]
	run "$VINEYARDD" --foreground --data-dir none --socket "$T/x.sock" --etcd-prefix x
	[ "$status" -eq 2 ]
	[[ "$output" == *"--etcd"* ]]
	run "$VINEYARDD" --foreground --data-dir none --socket "$T/x.sock" --etcd http://127.0.0.1:1 --etcd-prefix "a b"
	[ "$status" -eq 2 ]
}
