#!/usr/bin/env bats
# 64-cluster-owners: a published object's owner, group and mode travel with
# its record in etcd, so another instance's mount shows them and refuses or
# lets in exactly as the owning instance does. Daemons a and b (b with a
# mount, --allow-other) on one private etcd (tests/helpers/etcd.sh, free
# loopback ports); clients run as other users with setpriv, as in
# 41-owners and 63-migrate. Every wait is bounded; nothing asserts a
# duration.
#
# Users: U = 65533 owns the objects, V = 65532 is someone else.

load helper
load cluster

U=65533
V=65532

local_setup() {
	cluster_setup
	[ "$(id -u)" -eq 0 ] || skip "needs root to run clients as other users"
	command -v setpriv >/dev/null || skip "no setpriv"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "no fusermount3"
	echo "owners-test-token-$RANDOM$RANDOM" >"$T/token"
	export VINEYARD_RPC_TOKEN=$(cat "$T/token")
	# the users reach the sockets, the mount and a copy of the tools
	# (the build tree may sit where only root can go)
	local d=$T
	while [ "$d" != / ] && [ "$d" != /tmp ]; do chmod o+x "$d"; d=$(dirname "$d"); done
	mkdir -m 0755 "$T/u" "$T/bmnt"
	cp "$VINEYARDCTL" "$VY_BUILD/libvineyard.so.0" "$T/u/"
	ETCD_URL=$("$ETCD_SH" start "$T/etcd") || return 1
	start_node a
	start_node b --mount "$T/bmnt" --allow-other
}

# start_node NAME [options]: a daemon every user may connect to, with its
# own data dir and --rpc port, in the cluster (the shared token lets the
# instances fetch from each other with their daemon's rights).
start_node() {
	local n=$1 i port
	shift
	port=$(free_port) || return 1
	"$VINEYARDD" --foreground --socket "$T/$n.sock" --socket-mode 0666 \
		--data-dir "$T/$n-data" --reserve 64M --etcd "$ETCD_URL" \
		--etcd-ttl 2 --rpc "127.0.0.1:$port" --rpc-token-file "$T/token" \
		"$@" >>"$T/$n.log" 2>&1 3>&- &
	echo $! >"$T/$n.pid"
	NODES+=("$n")
	for i in $(seq 100); do
		"$VINEYARDCTL" --socket "$T/$n.sock" status >/dev/null 2>&1 &&
			{ eventually joined "$n"; return; }
		kill -0 "$(cat "$T/$n.pid")" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/$n.log" >&2
	return 1
}

# as UID CMD...: CMD as that user (and group), no other groups.
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
# ctl_as UID NODE ARGS...: vineyardctl on NODE's socket as UID
ctl_as() {
	local u=$1 n=$2
	shift 2
	as "$u" env LD_LIBRARY_PATH="$T/u" timeout 120 "$T/u/vineyardctl" \
		--socket "$T/$n.sock" "$@"
}
published() { on "$1" ls --cluster | grep "$2" | grep -qv "(gone)"; }
figure() { on "$1" --json status | sed -n "s/^ *\"$2\": \([0-9]*\).*/\1/p"; }
# attrs PATH: "uid gid mode" as B's mount shows them
attrs() { stat -c '%u %g %a' "$1"; }
attrs_are() { [ "$(attrs "$1")" = "$2" ]; }

# etcd_get KEY / etcd_put KEY VALUE: the raw key, as an old daemon (or
# anyone) would write it, through etcd's JSON gateway
etcd_get() {
	curl -s -m 5 -X POST "$ETCD_URL/v3/kv/range" \
		-d "{\"key\":\"$(printf %s "$1" | base64 -w0)\"}" |
		"$PYTHON" -c 'import json,sys,base64; print(base64.b64decode(json.load(sys.stdin)["kvs"][0]["value"]).decode())'
}
etcd_put() {
	curl -s -m 5 -X POST "$ETCD_URL/v3/kv/put" \
		-d "{\"key\":\"$(printf %s "$1" | base64 -w0)\",\"value\":\"$(printf %s "$2" | base64 -w0)\"}" |
		grep -q '"header"'
}

@test "a's 0600 object on b's mount: its owner and mode; another user refused with no fetch (mount, get, migrate); the owner reads it; a chmod on a shows on b and lets the other user in" {
	head -c 300000 /dev/urandom >"$T/u/f"
	head -c 5000 /dev/urandom >"$T/u/g"
	chmod 0644 "$T/u/f" "$T/u/g"
	id=$(ctl_as $U a put "$T/u/f" --persist --mode 0600)
	later=$(ctl_as $U a put "$T/u/g" --persist --mode 0600)
	eventually published b "$id"
	eventually published b "$later"
	# the record says whose it is
	run etcd_get "vineyard/objects/$id"
	[[ "$output" == *"\"uid\":$U,\"gid\":$U,\"mode\":\"0600\""* ]]
	# b's mount: U's, rw for U only (a directory gets x where r; files
	# are read-only, as for local objects)
	[ "$(attrs "$T/bmnt/objects/$id")" = "$U $U 700" ]
	[ "$(attrs "$T/bmnt/objects/$id/data")" = "$U $U 400" ]
	[ "$(attrs "$T/bmnt/objects/$id/meta.json")" = "$U $U 400" ]
	# ls --cluster shows the owner and mode, as ls does for local objects
	on b ls --cluster | grep "^$id " | grep -q ' rw-------  *65533 '
	# V is refused on b's mount, and nothing was fetched
	run as $V timeout 60 cat "$T/bmnt/objects/$id/data"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run as $V timeout 60 cat "$T/bmnt/objects/$later/data"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	# and on b's socket: a get or a migrate, refused as a would, before
	# any transfer
	run ctl_as $V b get "$id" -o /dev/null
	[ "$status" -eq 9 ]
	[[ "$output" == *"uid $V may not read it"* ]]
	run ctl_as $V b migrate "$later"
	[ "$status" -eq 9 ]
	[ "$(figure b transfers_done)" -eq 0 ]
	[ "$(figure b transfers_failed)" -eq 0 ]
	[ "$(figure b objects)" -eq 0 ]
	# U reads it there, byte-identical; the copy is U's with a's mode
	as $U timeout 60 cat "$T/bmnt/objects/$id/data" | cmp - "$T/u/f"
	[ "$(figure b transfers_done)" -eq 1 ]
	on b ls | grep "^$id " | grep -q ' rw-------  *65533 '
	[ "$(attrs "$T/bmnt/objects/$id/data")" = "$U $U 400" ]
	run as $V timeout 60 cat "$T/bmnt/objects/$id/data"
	[ "$status" -ne 0 ]
	# a chmod on a is published again: b's mount shows the new mode
	# within a watch round trip (and the kernel's second of caching)
	ctl_as $U a chmod 0644 "$later"
	run etcd_get "vineyard/objects/$later"
	[[ "$output" == *"\"mode\":\"0644\""* ]]
	eventually attrs_are "$T/bmnt/objects/$later/data" "$U $U 444"
	eventually attrs_are "$T/bmnt/objects/$later" "$U $U 755"
	on b ls --cluster | grep "^$later " | grep -q ' rw-r--r--  *65533 '
	as $V timeout 60 cat "$T/bmnt/objects/$later/data" | cmp - "$T/u/g"
	[ "$(figure b transfers_done)" -eq 2 ]
	on b ls | grep "^$later " | grep -q ' rw-r--r--  *65533 '
	# a chmod by someone else than the owner changes nothing anywhere
	run ctl_as $V a chmod 0666 "$later"
	[ "$status" -eq 9 ]
	run etcd_get "vineyard/objects/$later"
	[[ "$output" == *"\"mode\":\"0644\""* ]]
}

@test "a record without owner keys (an older daemon's) shows as before; a malformed owner counts as none and is logged once" {
	head -c 7000 /dev/urandom >"$T/u/f"
	chmod 0644 "$T/u/f"
	id=$(ctl_as $U a put "$T/u/f" --persist --mode 0600)
	bad=$(ctl_as $U a put "$T/u/f" --persist --mode 0644)
	eventually published b "$id"
	eventually published b "$bad"
	eventually attrs_are "$T/bmnt/objects/$id/data" "$U $U 400"
	eventually attrs_are "$T/bmnt/objects/$bad/data" "$U $U 444"
	# what an older daemon wrote: the same record without uid/gid/mode
	rec=$(etcd_get "vineyard/objects/$id")
	old=$(printf %s "$rec" | "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin); [r.pop(k) for k in ("uid","gid","mode")]; print(json.dumps(r, separators=(",",":")))')
	[[ "$old" != *'"uid"'* ]]
	etcd_put "vineyard/objects/$id" "$old"
	# garbage owners: a uid that is not a number, a mode with x bits
	rec=$(etcd_get "vineyard/objects/$bad")
	etcd_put "vineyard/objects/$bad" "${rec/\"uid\":$U/\"uid\":\"x\"}"
	# as before owners were published: the daemon's user, mode 0640
	eventually attrs_are "$T/bmnt/objects/$id/data" "0 0 440"
	eventually attrs_are "$T/bmnt/objects/$bad/data" "0 0 440"
	eventually attrs_are "$T/bmnt/objects/$id" "0 0 750"
	# ls --cluster says the record has no owner
	on b ls --cluster | grep "^$id " | grep -Eq ' yes +- +- +- '
	on b --json ls --cluster | grep "\"$id\"" | grep -q '"uid": null, "gid": null, "mode": null'
	for i in 1 2 3; do
		stat "$T/bmnt/objects/$bad/data" >/dev/null
		on b ls --cluster >/dev/null
		sleep 1.1
	done
	[ "$(grep -c "object $bad has a bad owner" "$T/b.log")" -eq 1 ]
	rec=$(etcd_get "vineyard/objects/$bad")
	etcd_put "vineyard/objects/$bad" "${rec/\"mode\":\"0644\"/\"mode\":\"0755\"}"
	etcd_put "vineyard/objects/$bad" "${rec/\"mode\":\"0644\"/\"mode\":\"nope\"}"
	# so only the daemon's user (root) opens them there, as before; the
	# copy is U's as on a (the fetch says whose it is)
	run as $U timeout 60 cat "$T/bmnt/objects/$id/data"
	[ "$status" -ne 0 ]
	[ "$(figure b transfers_done)" -eq 0 ]
	timeout 60 cat "$T/bmnt/objects/$id/data" | cmp - "$T/u/f"
	on b ls | grep "^$id " | grep -q ' rw-------  *65533 '
	# the daemon never crashed on them
	on b status >/dev/null
	on b meta "$bad" >/dev/null
}
