# fs-cases.bash: the filesystem view's tests, as functions, so that
# 30-fs.bats (the default data mode: passthrough where the host allows)
# and 31-fs-cached.bats (--fs-mode cached) run the same cases. Each file
# sets FS_MODE_OPTS before loading this. Every case mounts a real FUSE view
# at $MNT and checks it with ordinary tools.

FSTEST=$VY_BUILD/tests/helpers/vy-fstest

fs_require() {
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "no fusermount3"
	[ -x "$FSTEST" ] || skip "vy-fstest not built"
}

# fs_daemon [vineyardd options]: the daemon with the view at $MNT.
fs_daemon() {
	# (a stale mount there cannot even be stat'ed: let the daemon say)
	mkdir -p "$MNT" 2>/dev/null || true
	# shellcheck disable=SC2086
	start_daemon --mount "$MNT" ${FS_MODE_OPTS:-} "$@"
}

# The data mode the running daemon reports in status.json.
fs_mode_now() {
	sed -n 's/^  "fs_mode": "\(.*\)",*$/\1/p' "$MNT/status.json"
}

is_mounted() {
	awk -v m="$1" '$2 == m {f=1} END {exit !f}' /proc/self/mounts
}

# Pseudo-random bytes of a given length into a file, fast.
mkdata() {
	head -c "$2" /dev/urandom >"$1"
}

# A store with a large blob named dataset, a small one named small, and a
# composite object named pair; ids in $BIG, $SMALL, $PAIR.
fs_populate() {
	mkdata "$T/big.bin" 3000000
	printf 'hello, vineyard\n' >"$T/small.txt"
	BIG=$(vyctl put "$T/big.bin" --name dataset)
	SMALL=$(vyctl put "$T/small.txt" --name small)
	PAIR=$("$FSTEST" mkobj pair)
}

case_layout() {
	fs_daemon
	fs_populate
	run ls "$MNT"
	[ "$output" = "$(printf 'names\nobjects\nstatus.json')" ]
	run ls "$MNT/objects/$BIG"
	[ "$output" = "$(printf 'data\nmeta.json\ntypename')" ]
	[ "$(cat "$MNT/objects/$BIG/typename")" = "vineyard::Blob" ]
	cmp "$T/big.bin" "$MNT/objects/$BIG/data"
	cmp "$T/small.txt" "$MNT/names/small/data"
	# meta.json is what vineyardctl meta prints
	diff <(vyctl meta "$BIG") "$MNT/objects/$BIG/meta.json"
	diff <(vyctl meta pair) "$MNT/names/pair/meta.json"
	grep -q '"typename": "test::Pair"' "$MNT/names/pair/meta.json"
	grep -q '"rows": 3' "$MNT/names/pair/meta.json"
	# a composite object: members are links, no data file
	[ ! -e "$MNT/objects/$PAIR/data" ]
	[ "$(cat "$MNT/objects/$PAIR/typename")" = "test::Pair" ]
	[ -L "$MNT/objects/$PAIR/left" ]
	left=$(readlink "$MNT/objects/$PAIR/left")
	[[ "$left" == ../o* ]]
	[ -d "$MNT/objects/$PAIR/left" ]
	[ "$(cat "$MNT/objects/$PAIR/left/typename")" = "vineyard::Blob" ]
	[ "$(cat "$MNT/objects/$PAIR/child/typename")" = "test::Leaf" ]
	[ "$(readlink "$MNT/names/pair")" = "../objects/$PAIR" ]
	# every object has its directory, blobs included
	for id in $(vyctl -q ls | awk '{print $1}'); do
		[ -d "$MNT/objects/$id" ]
	done
	[ "$(ls "$MNT/objects" | wc -l)" -eq "$(vyctl -q ls | wc -l)" ]
	# attributes
	[ "$(stat -c %s "$MNT/objects/$BIG/data")" -eq 3000000 ]
	# an object's entries carry its owner and mode (0640 by default):
	# files r--r-----, the directory rwxr-x---
	[ "$(stat -c %a "$MNT/objects/$BIG/data")" = 440 ]
	[ "$(stat -c %a "$MNT/objects/$BIG/meta.json")" = 440 ]
	[ "$(stat -c %a "$MNT/objects/$BIG")" = 750 ]
	[ "$(stat -c %u:%g "$MNT/objects/$BIG")" = "$(id -u):$(id -g)" ]
	[ "$(stat -c %u:%g "$MNT/objects/$BIG/data")" = "$(id -u):$(id -g)" ]
	# the root lets in whom the socket does (0660: owner and group)
	[ "$(stat -c %a "$MNT")" = 550 ]
	[ "$(stat -c %a "$MNT/objects")" = 555 ]
	[ "$(stat -c %i "$MNT/objects/$BIG/data")" = \
	  "$(stat -c %i "$MNT/objects/$BIG/data")" ]
	[ "$(stat -f -c %T "$MNT")" = fuseblk ] || \
		[ "$(stat -f -c %T "$MNT")" = fuse ] || true
}

case_tools() {
	fs_daemon
	fs_populate
	# find + sha256sum over every data file, against the sources
	find "$MNT/objects" -name data | xargs sha256sum >"$T/sums"
	[ "$(wc -l <"$T/sums")" -eq 4 ]
	grep -q "$(sha256sum <"$T/big.bin" | cut -d' ' -f1)  $MNT/objects/$BIG/data" "$T/sums"
	grep -q "$(sha256sum <"$T/small.txt" | cut -d' ' -f1)  $MNT/objects/$SMALL/data" "$T/sums"
	# find follows nothing by default and sees each object once
	[ "$(find "$MNT/objects" -mindepth 1 -maxdepth 1 | wc -l)" -eq 6 ]
	# tar of a name (the link itself), then with links followed
	run bash -c "tar cf - -C '$MNT/names' dataset | tar tf -"
	[ "$status" -eq 0 ]
	[ "$output" = dataset ]
	run bash -c "tar chf - -C '$MNT/names' dataset | tar tf - | sort"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'dataset/\ndataset/data\ndataset/meta.json\ndataset/typename')" ]
	mkdir "$T/x"
	tar chf - -C "$MNT/names" pair | tar xf - -C "$T/x"
	cmp "$T/x/pair/meta.json" "$MNT/objects/$PAIR/meta.json"
	"$FSTEST" sum "$T/x/pair/left/data" >"$T/a"
	"$FSTEST" sum "$MNT/objects/$PAIR/left/data" >"$T/b"
	cmp "$T/a" "$T/b"
	# cp -a keeps links as links, files byte for byte
	cp -a "$MNT/objects/$PAIR" "$T/copy"
	[ -L "$T/copy/left" ]
	[ "$(readlink "$T/copy/left")" = "$(readlink "$MNT/objects/$PAIR/left")" ]
	cp -a "$MNT/objects/$BIG" "$T/copy2"
	cmp "$T/copy2/data" "$T/big.bin"
	cmp "$T/copy2/meta.json" "$MNT/objects/$BIG/meta.json"
	# ls -l and stat of everything work
	ls -lR "$MNT/" >/dev/null
	find "$MNT" -exec stat {} + >/dev/null
	du -s "$MNT/objects/$BIG" >/dev/null
}

case_sizes_exact() {
	fs_daemon
	fs_populate
	vyctl name "$BIG" second >/dev/null
	run "$PYTHON" - "$MNT" <<'EOF'
import os, sys
root = sys.argv[1]
bad, n = [], 0
for d, dirs, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        with open(p, 'rb') as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
        n += 1
        if st.st_size != len(data):
            bad.append((p, st.st_size, len(data)))
        if f != 'status.json' and os.stat(p).st_size != len(data):
            bad.append((p, 'stat', os.stat(p).st_size, len(data)))
print(n, bad)
sys.exit(1 if bad or n < 14 else 0)
EOF
	echo "$output"
	[ "$status" -eq 0 ]
}

case_mmap() {
	fs_daemon
	fs_populate
	# Python, as in the issue
	run "$PYTHON" -c "
import mmap, hashlib
f = open('$MNT/names/dataset/data', 'rb')
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
print(hashlib.sha256(m).hexdigest())"
	[ "$status" -eq 0 ]
	[ "$output" = "$(sha256sum <"$T/big.bin" | cut -d' ' -f1)" ]
	run "$PYTHON" -c "
import mmap
f = open('$MNT/names/small/data', 'rb')
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
print(bytes(m[:5]).decode())"
	[ "$output" = hello ]
	# C
	[ "$("$FSTEST" mmapsum "$MNT/names/dataset/data")" = "$("$FSTEST" sum "$T/big.bin")" ]
	[ "$("$FSTEST" mmapsum "$MNT/objects/$PAIR/left/data")" = "$("$FSTEST" sum "$MNT/objects/$PAIR/left/data")" ]
	[ "$("$FSTEST" mmapsum "$MNT/names/small/data")" = "$("$FSTEST" sum "$T/small.txt")" ]
}

case_zero_copy() {
	fs_daemon
	mkdata "$T/big.bin" $((8 << 20))
	id=$(vyctl put "$T/big.bin")
	run "$FSTEST" pfn "$MNT" "$id"
	[ "$status" -ne 77 ] || skip "$output"
	[ "$status" -eq 0 ]
	if [ "$(fs_mode_now)" = passthrough ]; then
		# the mount's mapping is the store's own memory
		[[ "$output" == "same "* ]]
	else
		# the fallback serves a copy through the page cache
		[ "$(fs_mode_now)" = cached ]
		[[ "$output" == "different "* ]]
	fi
}

case_no_page_cache() {
	fs_daemon
	id=$(head -c $((256 << 20)) /dev/zero | tr '\0' 'v' | vyctl put -)
	before=$(awk '/^(Active|Inactive)\(file\)/ {s += $2} END {print s}' /proc/meminfo)
	run "$FSTEST" cachestat "$MNT/objects/$id/data"
	[ "$status" -ne 77 ] || skip "$output"
	[ "$status" -eq 0 ]
	after=$(awk '/^(Active|Inactive)\(file\)/ {s += $2} END {print s}' /proc/meminfo)
	echo "mode $(fs_mode_now): $output pages cached by the mount; file LRU $(( (after - before) / 1024 )) MiB" >&3
	if [ "$(fs_mode_now)" = passthrough ]; then
		[ "$output" -eq 0 ]
	else
		# the fallback keeps a copy: the blob's pages (65536), less
		# any the kernel evicted already
		[ "$output" -gt 32768 ]
	fi
	[ "$(cmp "$MNT/objects/$id/data" <(head -c $((256 << 20)) /dev/zero | tr '\0' 'v') && echo same)" = same ]
}

case_names() {
	fs_daemon
	printf 'one\n' >"$T/1"
	printf 'two\n' >"$T/2"
	a=$(vyctl put "$T/1")
	b=$(vyctl put "$T/2")
	[ -z "$(ls "$MNT/names")" ]
	[ ! -e "$MNT/names/n" ]
	# appearing (also after a failed lookup)
	vyctl name "$a" n >/dev/null
	[ "$(ls "$MNT/names")" = n ]
	[ "$(cat "$MNT/names/n/data")" = one ]
	[ "$(readlink "$MNT/names/n")" = "../objects/$a" ]
	# re-pointing: the link, the bytes through it, meta.json's names
	vyctl name "$b" n >/dev/null
	[ "$(readlink "$MNT/names/n")" = "../objects/$b" ]
	[ "$(cat "$MNT/names/n/data")" = two ]
	grep -q '"names": \["n"\]' "$MNT/objects/$b/meta.json"
	grep -q '"names": \[\]' "$MNT/objects/$a/meta.json"
	# a second name, then disappearing by unname
	vyctl name "$a" m >/dev/null
	[ "$(ls "$MNT/names" | tr '\n' ' ')" = "m n " ]
	vyctl unname n >/dev/null
	[ ! -e "$MNT/names/n" ]
	[ ! -L "$MNT/names/n" ]
	[ "$(ls "$MNT/names")" = m ]
	# disappearing with the object: its names and its directory go
	cat "$MNT/names/m/data" >/dev/null
	ls "$MNT/objects/$a" >/dev/null
	vyctl rm "$a" >/dev/null
	[ ! -e "$MNT/names/m" ]
	[ ! -L "$MNT/names/m" ]
	[ ! -e "$MNT/objects/$a" ]
	[ -z "$(ls "$MNT/names")" ]
	[ "$(ls "$MNT/objects")" = "$b" ]
	# objects appear as they are put
	c=$(vyctl put "$T/1")
	[ -d "$MNT/objects/$c" ]
	[ "$(cat "$MNT/objects/$c/data")" = one ]
}

case_delete_while_open() {
	fs_daemon
	fs_populate
	# Open big, small and a composite's member, delete everything, read.
	run "$PYTHON" - "$MNT" "$BIG" "$SMALL" "$PAIR" "$VINEYARDCTL" "$SOCK" <<'EOF'
import hashlib, mmap, os, subprocess, sys
mnt, big, small, pair, ctl, sock = sys.argv[1:]
left = os.readlink(f'{mnt}/objects/{pair}/left')[3:]
files = [open(f'{mnt}/objects/{i}/data', 'rb') for i in (big, small, left)]
maps = [mmap.mmap(files[0].fileno(), 0, prot=mmap.PROT_READ)]
want = [hashlib.sha256(open(f'{mnt}/objects/{i}/data', 'rb').read()).hexdigest()
        for i in (big, small, left)]
subprocess.run([ctl, '--socket', sock, 'rm', big, small, pair], check=True,
               stdout=subprocess.DEVNULL)
for i in (big, small, pair, left):
    assert not os.path.exists(f'{mnt}/objects/{i}'), i
st = subprocess.run([ctl, '--socket', sock, '--json', 'status'], check=True,
                    capture_output=True, text=True).stdout
assert '"deleted_in_use": 3' in st, st
got = [hashlib.sha256(f.read()).hexdigest() for f in files]
assert got == want, (got, want)
assert hashlib.sha256(maps[0]).hexdigest() == want[0]
assert os.fstat(files[0].fileno()).st_size == 3000000
# a new open of a deleted object fails cleanly
try:
    open(f'{mnt}/objects/{big}/data', 'rb')
    sys.exit('opened a deleted object')
except FileNotFoundError:
    pass
maps[0].close()
for f in files:
    f.close()
print('ok')
EOF
	echo "$output"
	[ "$status" -eq 0 ]
	# the last close lets the memory go
	for _ in $(seq 50); do
		[ "$(status_field deleted_in_use)" -eq 0 ] && break
		sleep 0.1
	done
	[ "$(status_field deleted_in_use)" -eq 0 ]
	[ "$(status_field payload_bytes)" -eq 0 ]
}

case_read_only() {
	fs_daemon
	fs_populate
	d=$MNT/objects/$BIG
	for cmd in "touch '$MNT/new'" "touch '$d/data'" "echo x >'$d/data'" \
		   "echo x >>'$d/meta.json'" "mkdir '$MNT/objects/d'" \
		   "rm -f '$d/data'" "rmdir '$d'" "mv '$MNT/names/dataset' '$MNT/names/x'" \
		   "ln -s x '$MNT/names/y'" "ln '$d/data' '$d/data2'" \
		   "chmod 600 '$d/data'" "truncate -s 0 '$d/data'" \
		   "mknod '$MNT/p' p"; do
		run bash -c "$cmd"
		[ "$status" -ne 0 ]
		[[ "$output" == *"Read-only file system"* ]] || \
			{ echo "$cmd: $output"; false; }
	done
	run "$PYTHON" -c "
import errno, os
for flags in (os.O_RDWR, os.O_WRONLY, os.O_RDONLY | os.O_TRUNC, os.O_CREAT | os.O_WRONLY):
    try:
        os.open('$d/data', flags)
        raise SystemExit('opened with %o' % flags)
    except OSError as e:
        assert e.errno == errno.EROFS, e
for call in (lambda: os.setxattr('$d/data', 'user.x', b'1'),
             lambda: os.removexattr('$d/data', 'user.x'),
             lambda: os.utime('$d/data'),
             lambda: os.symlink('x', '$MNT/objects/y')):
    try:
        call()
        raise SystemExit('a mutating call succeeded')
    except OSError as e:
        assert e.errno == errno.EROFS, e
print('ok')"
	[ "$output" = ok ]
	cmp "$T/big.bin" "$d/data"
}

case_many_objects() {
	fs_daemon
	[ "$("$FSTEST" many 10000)" -eq 10000 ]
	ls "$MNT/objects" >"$T/listed"
	[ "$(wc -l <"$T/listed")" -eq 10000 ]
	[ -z "$(sort "$T/listed" | uniq -d)" ]
	vyctl -q ls | awk '{print $1}' | sort >"$T/ids"
	sort "$T/listed" | diff - "$T/ids"
	# ls -l and find agree
	[ "$(ls -l "$MNT/objects" | grep -c '^d')" -eq 10000 ]
	[ "$(find "$MNT/objects" -name data | wc -l)" -eq 10000 ]
	# a listing running while objects come and go names each existing
	# object once and nothing twice
	"$FSTEST" many 2000 >/dev/null &
	ls "$MNT/objects" >"$T/listed2"
	wait $!
	[ -z "$(sort "$T/listed2" | uniq -d)" ]
	[ "$(wc -l <"$T/listed2")" -ge 10000 ]
	[ "$(ls "$MNT/objects" | wc -l)" -eq 12000 ]
}

case_listing_then_delete() {
	fs_daemon
	[ "$("$FSTEST" many 1000 n)" -eq 1000 ]
	# Delete the last object and drop the last name while listings have
	# read only their first chunk: the listings still show them (they
	# are snapshots), but no entry for them is left in the kernel.
	run "$PYTHON" - "$MNT" "$VINEYARDCTL" "$SOCK" <<'EOF'
import os, subprocess, sys
mnt, ctl, sock = sys.argv[1:]
ids = sorted(os.listdir(f'{mnt}/objects'))
names = sorted(os.listdir(f'{mnt}/names'))
last, lastname = ids[-1], names[-1]
assert os.readlink(f'{mnt}/names/{lastname}') != f'../objects/{last}'
with os.scandir(f'{mnt}/objects') as it, os.scandir(f'{mnt}/names') as nt:
    first, nfirst = next(it).name, next(nt).name
    subprocess.run([ctl, '--socket', sock, 'rm', last], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([ctl, '--socket', sock, 'unname', lastname], check=True,
                   stdout=subprocess.DEVNULL)
    rest, nrest = [e.name for e in it], [e.name for e in nt]
assert sorted([first] + rest) == ids, 'objects: not a snapshot'
assert sorted([nfirst] + nrest) == names, 'names: not a snapshot'
assert not os.path.lexists(f'{mnt}/names/{lastname}'), 'stale name entry'
assert not os.path.exists(f'{mnt}/objects/{last}'), 'stale object entry'
print('ok')
EOF
	echo "$output"
	[ "$output" = ok ]
}

case_stale_mount() {
	fs_daemon
	fs_populate
	# Kill the daemon and its auto_unmount helper (fusermount3): the
	# mount is left dead, as after an OOM kill of the whole group.
	helper=$(ps -o pid= --ppid "$DAEMON_PID" | tr -d ' ')
	[ -n "$helper" ] && kill -KILL $helper
	kill_daemon
	run stat "$MNT"
	[[ "$output" == *"Transport endpoint is not connected"* ]] || \
		skip "the mount was cleaned up already: $output"
	fs_daemon
	grep -q "stale mount" "$T/daemon.log"
	is_mounted "$MNT"
	[ -z "$(ls "$MNT/objects")" ]
	[ "$(ls "$MNT")" = "$(printf 'names\nobjects\nstatus.json')" ]
}

# The same, but the kernel has the root's attributes cached (ls and stat
# just before the kill), so stat() of the dead mount still succeeds: the
# daemon must probe the connection, not trust stat.
case_stale_mount_cached_root() {
	fs_daemon
	fs_populate
	ls "$MNT" >/dev/null
	stat "$MNT" >/dev/null
	helper=$(ps -o pid= --ppid "$DAEMON_PID" | tr -d ' ')
	[ -n "$helper" ] && kill -KILL $helper
	kill_daemon
	run ls "$MNT"
	[[ "$output" == *"Transport endpoint is not connected"* ]] || \
		skip "the mount was cleaned up already: $output"
	is_mounted "$MNT"
	fs_daemon
	grep -q "stale mount" "$T/daemon.log"
	is_mounted "$MNT"
	# exactly one mount there: the old one was detached, not stacked on
	[ "$(awk -v m="$MNT" '$2 == m' /proc/self/mounts | wc -l)" -eq 1 ]
	[ -z "$(ls "$MNT/objects")" ]
	id=$(vyctl put "$T/small.txt" --name again)
	[ "$(cat "$MNT/names/again/data")" = "hello, vineyard" ]
}

# Live mounts are never taken over: another daemon's view, also when that
# daemon is stopped and cannot answer the probe, and other file systems.
case_mountpoint_live_not_taken() {
	fs_daemon
	fs_populate
	first=$DAEMON_PID
	kill -STOP "$first"
	run "$VINEYARDD" --data-dir none --foreground --socket "$T/other.sock" --mount "$MNT"
	kill -CONT "$first"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$MNT is busy: another vineyardd serves it (and does not answer)"* ]]
	[ ! -e "$T/other.sock" ]
	# the first one goes on, its objects in the view
	cmp "$T/small.txt" "$MNT/names/small/data"
	[ "$(awk -v m="$MNT" '$2 == m' /proc/self/mounts | wc -l)" -eq 1 ]
	if [ "$(id -u)" = 0 ]; then
		mkdir "$T/tmpfs"
		mount -t tmpfs none "$T/tmpfs"
		run "$VINEYARDD" --data-dir none --foreground --socket "$T/other.sock" --mount "$T/tmpfs"
		umount "$T/tmpfs"
		[ "$status" -eq 1 ]
		[[ "$output" == *"$T/tmpfs is busy: a tmpfs file system is mounted there"* ]]
	fi
}

case_sigkill_restart() {
	fs_daemon
	fs_populate
	kill_daemon
	# The next start works whatever the old mount's state.
	fs_daemon
	is_mounted "$MNT"
	id=$(vyctl put "$T/small.txt" --name again)
	[ "$(cat "$MNT/names/again/data")" = "hello, vineyard" ]
}

case_sigterm() {
	fs_daemon
	fs_populate
	is_mounted "$MNT"
	cat "$MNT/names/dataset/data" >/dev/null
	stop_daemon
	! is_mounted "$MNT" || false
	[ -z "$(ls -A "$MNT")" ]
	grep -q "fs: unmounted" "$T/daemon.log"
	# also with a file open in the mount, and on SIGINT
	fs_daemon
	fs_populate
	exec 5<"$MNT/names/dataset/data"
	kill -INT "$DAEMON_PID"
	wait "$DAEMON_PID"
	DAEMON_PID=
	exec 5<&-
	! is_mounted "$MNT" || false
}

case_mountpoint_errors() {
	run "$VINEYARDD" --foreground --socket "$SOCK" --data-dir none --mount "$T/missing" ${FS_MODE_OPTS:-}
	[ "$status" -eq 1 ]
	[[ "$output" == *"mountpoint $T/missing does not exist"* ]]
	[ ! -e "$SOCK" ]
	touch "$T/file"
	run "$VINEYARDD" --foreground --socket "$SOCK" --data-dir none --mount "$T/file"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/file is not a directory"* ]]
	mkdir -p "$T/full"
	touch "$T/full/x"
	run "$VINEYARDD" --foreground --socket "$SOCK" --data-dir none --mount "$T/full"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/full is not empty"* ]]
	# busy: another daemon's live view
	fs_daemon
	run "$VINEYARDD" --foreground --socket "$T/other.sock" --data-dir none --mount "$MNT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$MNT is busy"* ]]
	[ ! -e "$T/other.sock" ]
	# the first one goes on
	[ -d "$MNT/objects" ]
	# options
	run "$VINEYARDD" --mount "$MNT" --fs-mode fast
	[ "$status" -eq 2 ]
	[[ "$output" == *"--fs-mode fast"* ]]
	run "$VINEYARDD" --allow-other
	[ "$status" -eq 2 ]
	run "$VINEYARDD" --help
	[[ "$output" == *"--mount DIR"* ]]
	[[ "$output" == *"--fs-mode MODE"* ]]
	[[ "$output" == *"--allow-other"* ]]
}

case_status_json() {
	fs_daemon
	fs_populate
	"$PYTHON" -c "import json; json.load(open('$MNT/status.json'))"
	vyctl --json status >"$T/ctl.json"
	for k in objects blobs names payload_bytes limit_bytes mount fs_mode \
		 socket pid version; do
		[ "$(grep "^  \"$k\":" "$T/ctl.json")" = \
		  "$(grep "^  \"$k\":" "$MNT/status.json")" ]
	done
	grep -q "\"mount\": \"$MNT\"" "$MNT/status.json"
	mode=$(fs_mode_now)
	[ "$mode" = passthrough ] || [ "$mode" = cached ]
	grep -q "data mode $mode" "$T/daemon.log"
	vyctl status | grep -q "mount: *$MNT ($mode)"
	# figures are live
	vyctl put "$T/small.txt" >/dev/null
	[ "$(sed -n 's/^  "objects": \([0-9]*\),/\1/p' "$MNT/status.json")" -eq 7 ]
}

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

case_allow_other() {
	local other=1 d
	[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
		id nobody >/dev/null 2>&1 || other=0
	if [ $other = 1 ]; then
		# let nobody reach the mountpoint itself
		d=$T
		while [ "$d" != / ] && [ "$d" != /tmp ]; do
			chmod o+x "$d"
			d=$(dirname "$d")
		done
	fi
	fs_daemon
	! grep " $MNT " /proc/self/mounts | grep -q allow_other || false
	if [ $other = 1 ]; then
		run as_nobody ls "$MNT"
		[ "$status" -ne 0 ]
		[[ "$output" == *"Permission denied"* ]]
	fi
	stop_daemon
	fs_daemon --allow-other
	grep " $MNT " /proc/self/mounts | grep -q allow_other
	[ $other = 1 ] || skip "needs root, setpriv and user nobody"
	# The socket (0660, root's group) refuses nobody, so the view
	# does too, allow_other or not.
	run as_nobody ls "$MNT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	stop_daemon
	fs_daemon --allow-other --socket-mode 0666
	run as_nobody ls "$MNT"
	[ "$status" -eq 0 ]
	[[ "$output" == *objects* ]]
	run as_nobody touch "$MNT/objects/x"
	[ "$status" -ne 0 ]
}
