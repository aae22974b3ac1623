#!/usr/bin/env bats
# 61-tcp: the TCP front (vineyardd --rpc HOST:PORT): a client with no local
# socket puts, gets, lists and reads metadata over TCP, with and without
# the token; garbage on the port closes that connection only. Ports are
# picked at random on loopback and retried when taken.

load helper

# the protocol version raw frames speak (src/wire/proto.h)
export VY_PROTO=$(sed -n 's/^#define PROTO_VERSION \([0-9]*\).*/\1/p' \
	"$BATS_TEST_DIRNAME/../../src/wire/proto.h")

# start_tcp [vineyardd options...]: $SOCK plus --rpc on a free loopback
# port, in $PORT.
start_tcp() {
	local try
	for try in $(seq 20); do
		PORT=$((20000 + RANDOM % 30000))
		ss -Htln 2>/dev/null | awk '{print $4}' | grep -q ":$PORT\$" && continue
		if start_daemon --rpc "127.0.0.1:$PORT" "$@" 2>/dev/null; then
			return 0
		fi
		grep -q "cannot listen" "$T/daemon.log" || { cat "$T/daemon.log" >&2; return 1; }
		DAEMON_PID=
	done
	return 1
}

tcp() { "$VINEYARDCTL" --host "127.0.0.1:$PORT" "$@"; }

# raw_tcp ID <<EOF: Python lines run after a hello on a raw connection to
# $PORT (bounded by timeout), with oid = ID as a number, cbor_uint(v) and
# rt(type, body) -> (status, body) at hand, in version $VY_PROTO.
raw_tcp() {
	{
		cat <<-'EOF'
		import socket, struct, sys
		port, oid, ver = int(sys.argv[1]), int(sys.argv[2][1:], 16), int(sys.argv[3])
		def cbor_uint(v):
		    if v < 24: return bytes([v])
		    if v < 256: return bytes([24, v])
		    if v < 65536: return bytes([25]) + struct.pack('>H', v)
		    if v < 2**32: return bytes([26]) + struct.pack('>I', v)
		    return bytes([27]) + struct.pack('>Q', v)
		s = socket.create_connection(('127.0.0.1', port))
		def rt(typ, body):
		    s.sendall(struct.pack('<IHHII', 0x44525956, ver, typ, len(body), 0) + body)
		    h = s.recv(16, socket.MSG_WAITALL)
		    magic, v, t, n, st = struct.unpack('<IHHII', h)
		    b = s.recv(n, socket.MSG_WAITALL) if n else b''
		    return st, b
		hello = bytes([0x83]) + cbor_uint(ver) + cbor_uint(1) + bytes([0x61]) + b't'
		print('hello', rt(1, hello)[0])
		EOF
		cat
	} >"$T/raw_tcp.py"
	timeout 30 python3 "$T/raw_tcp.py" "$PORT" "$1" "$VY_PROTO"
}

@test "a TCP client puts, gets, lists and reads metadata with no socket of its own" {
	start_tcp
	head -c 40000000 /dev/urandom >big
	id=$(VINEYARD_IPC_SOCKET=/nonexistent tcp put big --name big)
	[[ "$id" == o* ]]
	VINEYARD_IPC_SOCKET=/nonexistent tcp get big -o back
	cmp big back
	# the same object through the UNIX socket
	vyctl get "$id" -o back2
	cmp big back2
	# small blobs and stdin, both ways
	echo tiny | tcp put - --name tiny
	[ "$(tcp get tiny)" = tiny ]
	run tcp ls
	[[ "$output" == *"$id"*big* ]]
	run tcp meta big
	[[ "$output" == *'"nbytes": 40000000'* ]]
	run tcp status
	[[ "$output" == *"127.0.0.1:$PORT"* ]]
	# names and deletes work as over the socket
	tcp name big again
	[ "$(vyctl wait again --timeout 0)" = "$id" ]
	tcp rm big
	run vyctl meta "$id"
	[ "$status" -eq 3 ]
	grep -q "serving TCP clients on 127.0.0.1:$PORT" "$T/daemon.log"
}

@test "a slow TCP reader gets every byte: the daemon queues the rest of a blob and serves others meanwhile" {
	start_tcp
	head -c 50000000 /dev/urandom >big
	# readable by others: a TCP client without the token is nobody
	id=$(vyctl put big --mode 0644)
	# the reader stalls before reading, so the daemon's socket fills and the
	# rest of each 16 MiB reply waits in its queue
	tcp get "$id" -o - | { sleep 2; cat >back; } &
	reader=$!
	sleep 0.5
	# the daemon still answers others while that reply waits
	[ "$(echo other | vyctl put - --name other >/dev/null && vyctl get other)" = other ]
	run tcp ls
	[ "$status" -eq 0 ]
	timeout 60 tail --pid="$reader" -f /dev/null
	wait "$reader"
	cmp big back
	# the blob read in pieces through the library over TCP matches too
	VINEYARD_IPC_SOCKET=/nonexistent tcp get "$id" -o back2
	cmp big back2
}

@test "a token-protected TCP front refuses a missing or wrong token, and logs it" {
	echo "0123456789abcdef-secret" >tok
	echo "0123456789abcdef-wrong!" >bad
	start_tcp --rpc-token-file "$T/tok"
	run tcp ls
	[ "$status" -eq 4 ]
	[[ "$output" == *"token"* ]]
	run tcp --token-file bad ls
	[ "$status" -eq 4 ]
	[ "$(grep -c 'refused: missing or wrong token' "$T/daemon.log")" -eq 2 ]
	echo x >f
	id=$("$VINEYARDCTL" --host "127.0.0.1:$PORT" --token-file tok put f)
	[ "$(VINEYARD_RPC_TOKEN=0123456789abcdef-secret tcp get "$id")" = x ]
	# the local socket needs no token
	[ "$(vyctl get "$id")" = x ]
	# a short token file is refused at start
	echo short >short
	run "$VINEYARDD" --foreground --data-dir none --socket "$T/y.sock" \
		--rpc 127.0.0.1:1 --rpc-token-file "$T/short"
	[ "$status" -eq 1 ]
	[[ "$output" == *"at least 16 bytes"* ]]
}

@test "other addresses need a token; bad --rpc values are clear errors" {
	run "$VINEYARDD" --foreground --data-dir none --socket "$T/y.sock" --rpc 10.1.2.3:9600
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a loopback address"* ]]
	[ ! -e "$T/y.sock" ]
	run "$VINEYARDD" --foreground --data-dir none --socket "$T/y.sock" --rpc nonsense
	[ "$status" -eq 1 ]
	[[ "$output" == *"HOST:PORT"* ]]
	run "$VINEYARDD" --foreground --data-dir none --socket "$T/y.sock" --rpc-token-file x
	[ "$status" -eq 2 ]
	run "$VINEYARDCTL" --host nonsense ls
	[ "$status" -eq 2 ]
	run "$VINEYARDCTL" --host 127.0.0.1:1 ls
	[ "$status" -eq 4 ]
}

@test "requests that need descriptor passing are refused over TCP with a reason; a get is answered without descriptors" {
	start_tcp
	echo x >f
	id=$(vyctl put f --mode 0644)
	# a writable blob is refused cleanly; a get without the metadata flag
	# (a TCP client that will read the bytes by copy: in a cluster the
	# daemon fetches first) is answered like a metadata get, no descriptor
	run raw_tcp "$id" <<-'EOF'
	get = bytes([0x84]) + cbor_uint(oid) + bytes([0xf6]) + cbor_uint(0) + cbor_uint(0)
	st, b = rt(201, get)
	print('get', st, len(b) > 0)
	create = bytes([0x82, 0x81, 0x01, 0xf6])    # [[1], null]
	st, b = rt(100, create)
	print('create', st, b)
	EOF
	[ "$status" -eq 0 ]
	[[ "$output" == *"hello 0"* ]]
	[[ "$output" == *"get 0 True"* ]]
	[[ "$output" == *"create 4294967201"*"descriptor passing"* ]]
	kill -0 "$DAEMON_PID"
}

@test "garbage on the TCP port closes that connection only" {
	start_tcp
	echo keep >f
	id=$(tcp put f)
	head -c 100000 /dev/urandom >junk
	python3 - "$PORT" <<-'EOF'
	import socket, sys
	s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
	try:
	    s.sendall(open('junk', 'rb').read())
	except OSError:
	    pass
	s.close()
	# a header announcing a huge body, then nothing
	s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
	s.sendall(b'VYRD' + b'\x01\x00\x01\x00' + b'\xff\xff\xff\xff' + b'\x00' * 4)
	s.close()
	EOF
	[ "$(tcp get "$id")" = keep ]
	kill -0 "$DAEMON_PID"
	grep -q "tcp client 127.0.0.1" "$T/daemon.log"
}

@test "out of file descriptors on the TCP front: refused with a sentence, the daemon goes on" {
	command -v prlimit >/dev/null || skip "no prlimit"
	start_tcp
	prlimit --pid "$DAEMON_PID" --nofile=48:48
	run python3 - "$PORT" <<-'EOF'
	import os, socket, struct, sys
	PV = int(os.environ['VY_PROTO'])  # PROTO_VERSION
	port = int(sys.argv[1])
	held, refused = [], None
	for i in range(80):
	    s = socket.create_connection(('127.0.0.1', port), timeout=10)
	    held.append(s)
	    try:
	        s.settimeout(0.3)
	        data = s.recv(4096)
	    except socket.timeout:
	        continue
	    except OSError:
	        data = b''
	    if data:
	        refused = data
	        break
	print('refused' if refused and b'no file descriptor' in refused else 'not refused')
	for s in held:
	    s.close()
	EOF
	echo "$output"
	[ "$output" = refused ]
	# said once while refusing, not once per attempt; never a spin of
	# failed accepts
	[ "$(grep -c "no file descriptor left" "$T/daemon.log")" -le 3 ]
	! grep -q "accept tcp" "$T/daemon.log" || false
	echo ok >f
	id=$(tcp put f)
	[ "$(tcp get "$id")" = ok ]
}

@test "a TCP client without the token is nobody: the others' bits apply, its puts are nobody's" {
	[ "$(id -u)" -ne 65534 ] || skip "the tests run as nobody themselves"
	start_tcp
	echo private >p
	echo public >q
	vyctl put p --name p >/dev/null
	qid=$(vyctl put q --name q --mode 0644)
	# 0640: nobody is neither the owner nor in the group
	run tcp get p
	[ "$status" -eq 9 ]
	[[ "$output" == *"ermission denied"* ]]
	run tcp meta p
	[ "$status" -eq 9 ]
	# 0644: others read, but do not delete, name or persist
	[ "$(tcp get q)" = public ]
	tcp meta q >/dev/null
	run tcp rm q
	[ "$status" -eq 9 ]
	run tcp name q q2
	[ "$status" -eq 9 ]
	run tcp chmod 0666 q
	[ "$status" -eq 9 ]
	[ "$(vyctl wait q --timeout 0)" = "$qid" ]
	# what it puts belongs to nobody (65534:65534), so another client
	# without the token, being nobody too, is its owner
	echo mine >m
	mid=$(tcp put m --name mine)
	run vyctl --json ls
	[[ "$output" == *"\"id\": \"$mid\""*"\"uid\": 65534, \"gid\": 65534, \"mode\": \"0640\""* ]]
	[ "$(tcp get mine)" = mine ]
	tcp chmod 0600 mine
	# and the daemon's user is not refused by it
	[ "$(vyctl get mine)" = mine ]
	tcp rm mine
	run vyctl meta "$mid"
	[ "$status" -eq 3 ]
}

@test "a TCP client with the token acts as the daemon's own user" {
	echo "0123456789abcdef-secret" >tok
	start_tcp --rpc-token-file "$T/tok"
	export VINEYARD_RPC_TOKEN=0123456789abcdef-secret
	echo private >p
	vyctl put p --name p --mode 0600 >/dev/null
	[ "$(tcp get p)" = private ]
	tcp chmod 0640 p
	tcp name p p2
	echo x >x
	xid=$(tcp put x --name x)
	run vyctl --json ls
	[[ "$output" == *"\"id\": \"$xid\""*"\"uid\": $(id -u), \"gid\": $(id -g), \"mode\": \"0640\""* ]]
	tcp rm p x
	run vyctl ls
	[[ "$output" != *p2* ]]
}

@test "a refused TCP blob-read of a restored blob reads nothing from disk" {
	[ "$(id -u)" -ne 65534 ] || skip "the tests run as nobody themselves"
	start_tcp
	head -c 300000 /dev/urandom >d
	id=$(vyctl put d --name d --persist)
	stop_daemon
	start_tcp
	[ "$(status_field payload_bytes)" -eq 0 ]
	# blob-read straight away (vineyardctl would be refused at the get)
	run raw_tcp "$id" <<-'EOF'
	st, b = rt(105, bytes([0x83]) + cbor_uint(oid) + cbor_uint(0) + cbor_uint(4096))
	print('read', st, b)
	EOF
	[ "$status" -eq 0 ]
	[[ "$output" == *"hello 0"* ]]
	[[ "$output" == *"ermission denied"* ]]
	[ "$(status_field payload_bytes)" -eq 0 ]
	# with the right to read, the bytes come back
	vyctl chmod 0644 d
	tcp get d -o back
	cmp d back
	[ "$(status_field payload_bytes)" -eq 300000 ]
}

@test "TCP reads keep requests in flight: 0 B, 1 B, 16 MiB+1 and any piece size come back whole, the connection in step" {
	start_tcp
	H=$VY_BUILD/tests/helpers
	: >empty
	echo -n x >one
	head -c $((16 * 1024 * 1024 + 1)) /dev/urandom >big
	head -c 5000 /dev/urandom >small
	for f in empty one small big; do
		id=$(vyctl put "$f" --mode 0644)
		# vy_blob_read, vy_blob_read_pieces (pieces of 1 MiB + 3 bytes:
		# many in flight at once) and vy_get's copy
		run timeout 60 "$H/tcpread" "$PORT" "$id" check "$f" 1048579
		[ "$status" -eq 0 ] || { echo "$f: $output"; false; }
		[[ "$output" == *"bytes=$(stat -c %s "$f") "*"in_step=1"* ]]
		# vineyardctl --host get: the same bytes into a file
		tcp get "$id" -o back
		cmp "$f" back
	done
	# a range running past the end: the bytes there are, no error
	run timeout 60 "$H/tcpread" "$PORT" "$id" range big 16777000 1000
	[ "$status" -eq 0 ]
	[[ "$output" == *"got=217"*"in_step=1"* ]]
	run timeout 60 "$H/tcpread" "$PORT" "$id" range big 99999999 10
	[ "$status" -eq 0 ]
	[[ "$output" == *"got=0"*"in_step=1"* ]]
	# the caller's function stops the read at the third piece: its value
	# comes back, two pieces were taken, the replies in flight are dropped
	run timeout 60 "$H/tcpread" "$PORT" "$id" stop 1000000 3
	[ "$status" -eq 0 ]
	[[ "$output" == *"rc=7 got=2000000"*"in_step=1"* ]]
	kill -0 "$DAEMON_PID"
}

@test "a blob deleted during a TCP read: the read fails with a sentence, the connection and the daemon go on" {
	start_tcp
	H=$VY_BUILD/tests/helpers
	head -c 40000000 /dev/urandom >big
	id=$(vyctl put big --mode 0644)
	# pieces of 1 MiB, 300 ms each: the delete lands a few pieces in
	timeout 60 "$H/tcpread" "$PORT" "$id" slow 1048576 300 >out 2>&1 &
	reader=$!
	for _ in $(seq 100); do grep -q piece out && break; sleep 0.1; done
	grep -q piece out
	vyctl rm "$id"
	wait "$reader"
	cat out
	grep -q "rc=-2 " out
	grep -q "err=.*$id" out
	grep -q "status=0" out
	[ "$(echo alive | tcp put - --name alive >/dev/null && tcp get alive)" = alive ]
}

@test "blob reads by copy come from a mapping the daemon keeps while a blob's reads go on, and drops when they end" {
	start_tcp
	head -c 20000000 /dev/urandom >a
	head -c 7000000 /dev/urandom >b
	ida=$(vyctl put a --mode 0644)
	idb=$(vyctl put b --mode 0644)
	DPID=$DAEMON_PID IDB=$idb run raw_tcp "$ida" <<-'EOF'
	import os, time
	idb = int(os.environ['IDB'][1:], 16)
	data = {oid: open('a', 'rb').read(), idb: open('b', 'rb').read()}
	def send_read(i, off, n):
	    body = bytes([0x83]) + cbor_uint(i) + cbor_uint(off) + cbor_uint(n)
	    s.sendall(struct.pack('<IHHII', 0x44525956, ver, 105, len(body), 0) + body)
	def recv_all(n):
	    b = b''
	    while len(b) < n:
	        k = s.recv(n - len(b))
	        if not k: sys.exit('connection closed')
	        b += k
	    return b
	def recv_read():
	    magic, v, t, n, st = struct.unpack('<IHHII', recv_all(16))
	    b = recv_all(n)
	    assert st == 0 and b[0] == 0x81, (st, b[:80])
	    ai = b[1] & 31
	    k = {24: 1, 25: 2, 26: 4}.get(ai, 0)
	    return b[2 + k:]
	def mapped(i):
	    name = 'memfd:vineyard-%016x' % i
	    return any(name in l and ' r--s ' in l
	               for l in open('/proc/%s/maps' % os.environ['DPID']))
	# two blobs in turn on one connection, five reads in flight at once,
	# the last two running past their blob's end
	asks = [(oid, 0, 1 << 20), (idb, 0, 1 << 20), (oid, 1 << 20, 2 << 20),
	        (idb, 5000000, 2 << 20), (oid, 19000000, 2 << 20)]
	for a in asks: send_read(*a)
	for i, off, n in asks:
	    assert recv_read() == data[i][off:off + n], (i, off, n)
	print('pieces ok')
	# 16 MiB asked, none taken yet: the socket fills and the rest of the
	# reply waits in the daemon's queue, sent from its mapping of a
	send_read(oid, 0, 16 << 20)
	for _ in range(100):
	    if mapped(oid): break
	    time.sleep(0.05)
	print('mapped while its reply waits', mapped(oid), mapped(idb))
	assert recv_read() == data[oid][:16 << 20]
	# the reads are over: the mapping goes, the connection stays open
	for _ in range(100):
	    if not mapped(oid): break
	    time.sleep(0.05)
	print('mapped once the reads end', mapped(oid))
	send_read(idb, 100, 1000)
	print('in step', recv_read() == data[idb][100:1100])
	EOF
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"pieces ok"* ]]
	[[ "$output" == *"mapped while its reply waits True False"* ]]
	[[ "$output" == *"mapped once the reads end False"* ]]
	[[ "$output" == *"in step True"* ]]
	kill -0 "$DAEMON_PID"
}

@test "a TCP client that leaves mid-read, or a reader that stops taking its output, does not hurt the daemon" {
	start_tcp
	H=$VY_BUILD/tests/helpers
	head -c 50000000 /dev/urandom >big
	id=$(vyctl put big --mode 0644)
	# the process exits after the first piece, requests still in flight
	run timeout 60 "$H/tcpread" "$PORT" "$id" quit 1048576
	[ "$status" -eq 0 ]
	# vineyardctl writing into a pipe that closes: a write error, at once
	run timeout 60 bash -c "'$VINEYARDCTL' --host 127.0.0.1:$PORT get $id -o - | head -c 10 >/dev/null; echo \${PIPESTATUS[0]}"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" -ne 0 ]
	kill -0 "$DAEMON_PID"
	tcp get "$id" -o back
	cmp big back
	run tcp status
	[ "$status" -eq 0 ]
}
