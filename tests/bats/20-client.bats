#!/usr/bin/env bats
# libvineyard through small C programs (tests/helpers/): zero-copy gets,
# deletes under readers, clients that die, the memory limit, read-only
# mappings and sealed memfds, bad bytes on the socket, composite objects,
# fork, concurrency, name waits, the installed library and its ABI.

load helper

bats_require_minimum_version 1.5.0

H=$VY_BUILD/tests/helpers
SRC=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

local_setup() {
	start_daemon --size 256M -v
}

local_teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -f "$T/daemon.log" ]; then
		echo "# daemon.log:" >&3
		sed 's/^/#   /' "$T/daemon.log" | tail -30 >&3
	fi
	# helpers left waiting in the background
	local p
	for p in ${BG_PIDS:-}; do
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

# bg CMD...: runs a helper in the background (killed at teardown).
bg() {
	"$@" &
	BG_PIDS="${BG_PIDS:-} $!"
	LAST_BG=$!
}

# until_line FILE LINE: waits (bounded) until FILE has the line.
until_line() {
	local i
	for i in $(seq 600); do
		grep -qx "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no line '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}

# until_status KEY VALUE: waits (bounded) until the daemon reports it.
until_status() {
	local i
	for i in $(seq 600); do
		[ "$(status_field "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	echo "status $1 is $(status_field "$1"), not $2" >&2
	return 1
}

# Programs linked with a sanitizer-built libvineyard need the runtime too.
san_flags() {
	local libs
	libs=$(ldd "$VY_BUILD/libvineyard.so.0")
	if grep -q libasan <<<"$libs"; then
		echo "-fsanitize=address,undefined"
	elif grep -q libtsan <<<"$libs"; then
		echo "-fsanitize=thread"
	fi
}

field() { # field FILE KEY
	sed -n "s/^$2=//p" "$1"
}

@test "a get is zero-copy: readers map the daemon's own memfd, shared, read-only" {
	head -c 1048576 /dev/urandom >blob
	id=$(vyctl put blob)
	bg "$H/hold" "$id" "$T/go" >h1.out
	bg "$H/hold" "$id" "$T/go" >h2.out
	until_line h1.out ready
	until_line h2.out ready
	# the bytes the readers see are the bytes put
	[ "$(field h1.out len)" -eq 1048576 ]
	[ "$(field h1.out sum)" = "$(field h2.out sum)" ]
	# a shared, read-only mapping of the blob's memfd
	[ "$(field h1.out perms)" = "r--s" ]
	[[ "$(field h1.out file)" == "/memfd:vineyard-${id#o} (deleted)" ]]
	# both readers map the same file...
	[ "$(field h1.out inode)" = "$(field h2.out inode)" ]
	[ "$(field h1.out dev)" = "$(field h2.out dev)" ]
	# ...which is the one the daemon holds
	stat -L -c %i /proc/"$DAEMON_PID"/fd/* 2>/dev/null | grep -qx "$(field h1.out inode)"
	# and the same physical page (visible to root only)
	if [ "$(field h1.out pfn)" != 0 ]; then
		[ "$(field h1.out pfn)" = "$(field h2.out pfn)" ]
	fi
	touch go
	wait "$LAST_BG"
}

@test "small blobs are zero-copy too: a read-only shared mapping of a segment" {
	echo "a small blob" >small
	id=$(vyctl put small)
	bg "$H/hold" "$id" "$T/go" >h1.out
	bg "$H/hold" "$id" "$T/go" >h2.out
	until_line h1.out ready
	until_line h2.out ready
	[ "$(field h1.out perms)" = "r--s" ]
	[[ "$(field h1.out file)" == "/memfd:vineyard-seg-"* ]]
	[ "$(field h1.out inode)" = "$(field h2.out inode)" ]
	stat -L -c %i /proc/"$DAEMON_PID"/fd/* 2>/dev/null | grep -qx "$(field h1.out inode)"
	if [ "$(field h1.out pfn)" != 0 ]; then
		[ "$(field h1.out pfn)" = "$(field h2.out pfn)" ]
	fi
	touch go
}

@test "delete while another process maps the blob: bytes intact until it releases, then memory back" {
	head -c 3000000 /dev/urandom >blob
	id=$(vyctl put blob --name victim)
	used=$(status_field used_bytes)
	bg "$H/hold" victim "$T/go" >h.out
	holder=$LAST_BG
	until_line h.out ready
	run vyctl rm victim
	[ "$status" -eq 0 ]
	# gone for everyone else...
	run vyctl get "$id"
	[ "$status" -eq 3 ]
	[ "$(status_field objects)" -eq 0 ]
	# ...but its memory is still there, counted, for the reader
	[ "$(status_field deleted_in_use)" -eq 1 ]
	[ "$(status_field used_bytes)" -eq "$used" ]
	# new blobs never reuse its pages: put something else meanwhile
	head -c 3000000 /dev/urandom >other
	vyctl put other >/dev/null
	touch go
	wait "$holder"
	[ "$(field h.out intact)" = yes ]
	[ "$(field h.out sum)" = "$(field h.out after)" ]
	until_status deleted_in_use 0
	[ "$(status_field used_bytes)" -eq "$used" ] # only "other" now
	[ "$(status_field objects)" -eq 1 ]
}

@test "a reader killed with SIGKILL drops its pins; what was sealed stays" {
	head -c 100000 /dev/urandom >blob
	id=$(vyctl put blob)
	bg "$H/hold" "$id" "$T/never" >h.out
	until_line h.out ready
	kill -KILL "$LAST_BG"
	wait "$LAST_BG" || true
	until_status clients 1
	# the blob is intact and a delete frees it at once (no pin left)
	vyctl get "$id" | cmp blob -
	vyctl rm "$id"
	[ "$(status_field deleted_in_use)" -eq 0 ]
	[ "$(status_field used_bytes)" -eq 0 ]
}

@test "a writer killed with SIGKILL between create and seal: memory back, no unsealed blob" {
	for how in write map; do
		bg "$H/unsealed" 5000000 "$how" >u.out
		until_line u.out created
		[ "$(status_field unsealed_blobs)" -eq 1 ]
		[ "$(status_field used_bytes)" -ge 5000000 ]
		kill -KILL "$LAST_BG"
		wait "$LAST_BG" || true
		until_status unsealed_blobs 0
		[ "$(status_field used_bytes)" -eq 0 ]
		[ "$(status_field payload_bytes)" -eq 0 ]
		[ "$(status_field objects)" -eq 0 ]
	done
	run vyctl status
	[[ "$output" == *"0 unsealed blobs"* ]]
}

@test "the limit: a clean ENOSPC reply, no SIGBUS, the daemon and earlier objects go on" {
	stop_daemon
	# without spilling: with it, the store never fills (45-spill.bats)
	start_daemon --size 16M --spill-dir none
	run "$H/fill" 4000000
	[ "$status" -eq 0 ]
	[ "$(field <(echo "$output") errno)" = ENOSPC ]
	[ "$(field <(echo "$output") stored)" -eq 4 ]
	[[ "$output" == *"--size"* ]]
	kill -0 "$DAEMON_PID"
	[ "$(status_field unsealed_blobs)" -eq 0 ]
	# every blob stored before the refusal is intact
	i=0
	for id in $(sed -n 's/^id=//p' <<<"$output"); do
		head -c 4000000 /dev/zero | tr '\0' "\\$(printf '%03o' "$i")" >want
		vyctl get "$id" | cmp want -
		i=$((i + 1))
	done
	[ "$i" -eq 4 ]
	# a second filler also just gets ENOSPC
	run "$H/fill" 4000000
	[ "$status" -eq 0 ]
	[[ "$output" == *"stored=0"* ]]
	# memory comes back on delete and other clients go on
	vyctl rm "$id"
	echo fine | vyctl put - >/dev/null
	head -c 1000000 /dev/urandom >mb
	vyctl put mb >/dev/null
}

@test "writing to a got blob faults and mprotect is refused (large and small blobs)" {
	head -c 50000 /dev/urandom >big
	echo small >small
	for f in big small; do
		id=$(vyctl put $f)
		run "$H/writefault" "$id"
		[ "$status" -eq 0 ]
		[[ "$output" == *"write=SIGSEGV"* ]]
		[[ "$output" == *"mprotect=EACCES"* ]]
		vyctl get "$id" | cmp $f -
	done
}

@test "a get of a blob the connection holds already carries no descriptor (GET_F_MAPPED)" {
	head -c 50000 /dev/urandom >big
	id=$(vyctl put big)
	run "$H/rawproto" mapped "$id"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"held_get_has_no_fd=ok"* ]]
	vyctl get "$id" | cmp big -
}

@test "a blob's memfd is sealed: no write, resize or writable map, even reopened read-write" {
	head -c 50000 /dev/urandom >big
	echo small >small
	for f in big small; do
		id=$(vyctl put $f)
		run "$H/rawproto" sealed "$id"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"write_eperm=ok"* ]]
		[[ "$output" == *"shrink_eperm=ok"* ]]
		[[ "$output" == *"mmap_write_eperm=ok"* ]]
		vyctl get "$id" | cmp $f -
	done
	# the daemon still serves small puts into that segment
	echo more | vyctl put - >/dev/null
	kill -0 "$DAEMON_PID"
}

@test "garbage, oversized, wrong-version and unknown frames: error frame, closed; others unaffected" {
	echo keep >k
	id=$(vyctl put k --name keep)
	for mode in garbage oversized badversion unknowntype; do
		run "$H/rawproto" $mode
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"closed=ok"* ]]
		[[ "$output" == *"other_client=ok"* ]]
		[[ "$output" == *"new_client=ok"* ]]
	done
	run "$H/rawproto" badversion
	[[ "$output" =~ protocol\ version\ ([0-9]+)\ not\ supported\;\ this\ daemon\ speaks\ ([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" -eq $((BASH_REMATCH[2] + 1)) ]
	grep -q "closing" daemon.log
	kill -0 "$DAEMON_PID"
	[ "$(vyctl get keep)" = keep ]
}

@test "a truncated frame closes the connection without a reply" {
	run "$H/rawproto" truncated
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"closed_without_reply=ok"* ]]
	until_status clients 1
}

@test "well-framed bad bodies: an error reply, and the connection stays usable" {
	for mode in badbody hugecount nulname; do
		run "$H/rawproto" $mode
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"still_usable=ok"* ]]
	done
	# a body that claims 2^32 ids made the daemon allocate nothing big
	[ "$(ps -o rss= -p "$DAEMON_PID")" -lt 200000 ]
}

@test "composite objects: one put of a tree, got back whole; members protected" {
	echo extra >e
	extra=$(vyctl put e)
	run "$H/mkobj" frame "$extra"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"verified=yes"* ]]
	a=$(field <(echo "$output") a)
	[ "$(status_field objects)" -eq 6 ]
	[ "$(status_field unsealed_blobs)" -eq 0 ]
	run vyctl rm "$extra"
	[ "$status" -eq 7 ]
	[[ "$output" == *"member of 1 other object"* ]]
	run vyctl rm "$a"
	[ "$status" -eq 7 ]
	# a deep delete takes every member no other object or name holds,
	# the extra blob included
	run vyctl --json rm frame
	[ "$output" = '{"deleted": 6}' ]
	[ "$(status_field objects)" -eq 0 ]
}

@test "a put with a missing member fails whole: nothing stored, no unsealed blob" {
	run "$H/mkobj" --bad-member frame
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"member ghost: no object o0000000000000bad"* ]]
	[ "$(status_field objects)" -eq 0 ]
	[ "$(status_field unsealed_blobs)" -eq 0 ]
	[ "$(status_field names)" -eq 0 ]
	[ "$(status_field used_bytes)" -le 2097152 ]
}

@test "objects nested past the limit: refused, and the writer at the bottom is dropped too" {
	run "$H/mkobj" --too-deep deep
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"objects nested deeper than 8"* ]]
	[[ "$output" == *"unsealed_none=yes"* ]]
	[ "$(status_field objects)" -eq 0 ]
	[ "$(status_field used_bytes)" -eq 0 ]
}

@test "many small blobs in one put over the limit: ENOSPC and nothing left behind" {
	stop_daemon
	start_daemon --size 4M
	run "$H/batch" 1100 small
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" == *"errno=ENOSPC"* ]]
	[ "$(status_field objects)" -eq 0 ]
	[ "$(status_field payload_bytes)" -eq 0 ]
	[ "$(status_field unsealed_blobs)" -eq 0 ]
	# the room is there again for a put that fits
	run "$H/batch" 1000 small
	[ "$status" -eq 0 ]
	[[ "$output" == *"verified=yes"* ]]
}

@test "batch calls past 253 descriptors per message: create, put and get of 600 blobs" {
	run "$H/batch" 600
	[ "$status" -eq 0 ]
	[[ "$output" == *"members=600"* ]]
	[[ "$output" == *"verified=yes"* ]]
	[ "$(status_field objects)" -eq 601 ]
	run vyctl --json rm batch
	[ "$output" = '{"deleted": 601}' ]
}

@test "a client used after fork gets ECHILD in the child; child and parent go on" {
	run "$H/forkchild"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"child_rc=-10"* ]]
	[[ "$output" == *"after fork() connect again in the child"* ]]
	[[ "$output" == *"child_new=ok"* ]]
	[[ "$output" == *"parent=ok"* ]]
}

@test "concurrent clients: threads sharing a connection and processes at once" {
	for i in 1 2 3; do
		bg "$H/concurrent" 4 25 >"c$i.out" 2>&1
		pids="${pids:-} $LAST_BG"
	done
	for p in $pids; do
		wait "$p"
	done
	cat c1.out c2.out c3.out
	grep -q "errors=0" c1.out
	grep -q "errors=0" c2.out
	grep -q "errors=0" c3.out
	until_status clients 1
	[ "$(status_field objects)" -eq 0 ]
	[ "$(status_field names)" -eq 0 ]
	[ "$(status_field unsealed_blobs)" -eq 0 ]
	[ "$(status_field deleted_in_use)" -eq 0 ]
}

@test "a get by name waits for a producer that appears later" {
	bg "$H/namewait" late 60000 >w.out
	waiter=$LAST_BG
	bg "$H/namewait" late 60000 --id >w2.out
	until_line w.out waiting
	until_line w2.out waiting
	head -c 7777 /dev/urandom >p
	id=$(vyctl put p --name late)
	wait "$waiter"
	wait "$LAST_BG"
	[ "$(field w.out len)" -eq 7777 ]
	[ "$(field w2.out id)" = "$id" ]
	run "$H/namewait" never 200
	[ "$status" -eq 6 ]
	[[ "$output" == *"name 'never' did not appear within 200 ms"* ]]
	# a waiter that goes away is forgotten
	bg "$H/namewait" gone 60000 >w3.out
	until_line w3.out waiting
	kill -KILL "$LAST_BG"
	until_status clients 1
	echo x | vyctl put - --name gone >/dev/null
	kill -0 "$DAEMON_PID"
}

@test "libvineyard exports only vy_* symbols, each at a version node VINEYARD_0.N" {
	lib="$VY_BUILD/libvineyard.so.0"
	run objdump -p "$lib"
	[[ "$output" == *"SONAME               libvineyard.so.0"* ]]
	nm -D --defined-only "$lib" >syms
	cat syms
	# every defined symbol is a vy_ function at a VINEYARD_0.N node, or
	# a node itself (a negated check mid-test needs its || false)
	! grep -v -E ' (T|W) vy_[a-z_]+@@VINEYARD_0\.[0-9]+$| A VINEYARD_0\.[0-9]+$' syms || false
	grep -q ' T vy_names@@VINEYARD_0\.8$' syms
	# every function the header declares is exported
	grep -oE '\bvy_[a-z_]+\(' "$SRC/client/lib/vineyard.h" | tr -d '(' | sort -u >declared
	sed -n 's/.* T \(vy_[a-z_]*\)@@.*/\1/p' syms | sort -u >exported
	diff declared exported
	[ -f "$VY_BUILD/libvineyard.a" ]
}

@test "make install honours PREFIX and DESTDIR; pkg-config builds a program against the copy" {
	command -v pkg-config >/dev/null || skip "no pkg-config"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -s -C "$SRC" BUILD="$VY_BUILD" install DESTDIR="$T/root" PREFIX=/usr >install.log 2>&1 ||
		{ cat install.log; false; }
	for f in usr/sbin/vineyardd usr/bin/vineyardctl usr/lib/libvineyard.so.0 \
		usr/lib/libvineyard.so usr/lib/libvineyard.a usr/include/vineyard.h \
		usr/lib/pkgconfig/vineyard.pc; do
		[ -e "$T/root/$f" ] || { echo "missing $f"; false; }
	done
	grep -qx 'prefix=/usr' "$T/root/usr/lib/pkgconfig/vineyard.pc"
	export PKG_CONFIG_PATH=$T/root/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$T/root
	run pkg-config --cflags --libs vineyard
	[[ "$output" == *"-I$T/root/usr/include"* ]]
	[[ "$output" == *"-L$T/root/usr/lib"* ]]
	[[ "$output" == *"-lvineyard"* ]]
	cat >tiny.c <<-'EOF'
	#include <stdio.h>
	#include <string.h>
	#include <vineyard.h>

	int main(void)
	{
		struct vy_client *c;
		struct vy_object *o;
		vy_id id;
		char buf[VY_ID_STRLEN];

		if (vy_connect(NULL, &c))
			return 2;
		if (vy_put_blob(c, "tiny", 4, &id) || vy_get(c, id, &o))
			return 3;
		if (memcmp(vy_object_data(o), "tiny", 4))
			return 4;
		vy_id_format(id, buf);
		printf("%s\n", buf);
		vy_object_release(c, o);
		vy_close(c);
		return 0;
	}
	EOF
	san=$(san_flags)
	cc $san -Wall -Werror -o tiny tiny.c $(pkg-config --cflags --libs vineyard)
	# it runs against the installed shared library, not the build tree
	LD_LIBRARY_PATH=$T/root/usr/lib ldd ./tiny | grep -q "$T/root/usr/lib/libvineyard.so.0"
	run env LD_LIBRARY_PATH="$T/root/usr/lib" ./tiny
	[ "$status" -eq 0 ]
	[ "$(vyctl get "$output")" = tiny ]
	# and statically, against libvineyard.a
	cc $san -o tiny-static tiny.c $(pkg-config --cflags vineyard) "$T/root/usr/lib/libvineyard.a" \
		$(pkg-config --libs libcbor 2>/dev/null || echo -lcbor) -lpthread
	! ldd ./tiny-static | grep -q libvineyard || false
	run ./tiny-static
	[ "$status" -eq 0 ]
	# the installed tools run
	"$T/root/usr/bin/vineyardctl" --socket "$SOCK" status >/dev/null
	"$T/root/usr/sbin/vineyardd" --help >/dev/null
}

@test "the EXAMPLE of libvineyard(3) compiles and runs" {
	[ -f "$SRC/man/libvineyard.3" ] || skip "no man page yet"
	# the example sits between .Bd -literal and .Ed after .Sh EXAMPLES
	awk '/^\.Sh EXAMPLES/{e=1} e&&/^\.Bd -literal/{p=1;next} p&&/^\.Ed/{exit} p' \
		"$SRC/man/libvineyard.3" | sed -e 's/\\e/\\/g' -e 's/^\\&//' >example.c
	[ -s example.c ]
	cc $(san_flags) -Wall -Werror -o example example.c -I"$SRC/client/lib" -L"$VY_BUILD" -lvineyard \
		-Wl,-rpath,"$VY_BUILD"
	run ./example
	echo "$output"
	[ "$status" -eq 0 ]
}
