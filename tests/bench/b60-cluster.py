#!/usr/bin/env python3
"""b60-cluster: the cluster and the TCP front against baselines measured in
the same run (driven by b60-cluster.sh, which starts etcd and the daemons):

  names   a name put on A visible on B: median and p99 latency, beside
          etcd's own watch latency measured by a plain client (report)
  publish 10,000 small objects already in A's store, persisted in groups
          of 128 (vy_persist_many), until B has them all (its status
          count, then checked once against its listing) (and again with
          the puts timed too, report), vs a plain client
          writing the same keys and bytes to the same etcd in the same batch
          sizes (128 per transaction): rate ratio (>= 0.5)
  tcp     a TCP client's get of a 256 MiB blob (vineyardctl --host, one
          process per get; and vy_get in this process) vs a plain TCP
          loopback copy of the same bytes into a reused pre-faulted 16 MiB
          buffer: throughput ratio (>= 0.8), rounds alternating

argv: ETCD_URL A_SOCK B_SOCK A_TCP_PORT LIBVINEYARD VINEYARDCTL
B60_ONLY=tcp in the environment runs the tcp part alone; B60_ROUNDS=N
gives it N rounds (default 5).
"""
import base64, ctypes, json, os, socket, statistics, subprocess, sys
import threading, time, urllib.request

etcd, a_sock, b_sock, tcp_port, lib_path, ctl = sys.argv[1:7]
lib = ctypes.CDLL(lib_path)
P = ctypes.c_void_p
lib.vy_connect_err.argtypes = [ctypes.c_char_p, ctypes.POINTER(P),
                               ctypes.c_char_p, ctypes.c_size_t]
lib.vy_put_blob.argtypes = [P, ctypes.c_char_p, ctypes.c_size_t,
                            ctypes.POINTER(ctypes.c_uint64)]
lib.vy_name_put.argtypes = [P, ctypes.c_char_p, ctypes.c_uint64]
lib.vy_name_get.argtypes = [P, ctypes.c_char_p, ctypes.c_int,
                            ctypes.POINTER(ctypes.c_uint64)]
lib.vy_persist.argtypes = [P, ctypes.c_uint64]


def connect(path):
    c = P()
    err = ctypes.create_string_buffer(600)
    if lib.vy_connect_err(path.encode(), ctypes.byref(c), err, 600):
        sys.exit("connect %s: %s" % (path, err.value.decode()))
    return c


def b64(s):
    return base64.b64encode(s if isinstance(s, bytes) else s.encode()).decode()


def post(path, body):
    req = urllib.request.Request(etcd + path, data=json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


A, B = connect(a_sock), connect(b_sock)


def cluster_parts():
    """names latency and publishing (skipped with B60_ONLY=tcp)"""
    # ---- names: put on A, seen on B ----
    oid = ctypes.c_uint64()
    lib.vy_put_blob(A, b"x" * 64, 64, ctypes.byref(oid))
    ours = []
    got = ctypes.c_uint64()
    for i in range(200):
        name = ("lat-%d" % i).encode()
        t0 = time.perf_counter()
        lib.vy_name_put(A, name, oid.value)
        while lib.vy_name_get(B, name, 0, ctypes.byref(got)) != 0:
            if time.perf_counter() - t0 > 10:
                sys.exit("name %s never appeared on B" % name)
        ours.append(time.perf_counter() - t0)

    # etcd's own: a plain client's put seen on a plain client's watch
    seen = {}
    ev = threading.Event()


    def watcher():
        body = json.dumps({"create_request": {"key": b64("bench/w/"),
                                              "range_end": b64("bench/w0")}})
        req = urllib.request.Request(etcd + "/v3/watch", data=body.encode())
        with urllib.request.urlopen(req, timeout=60) as r:
            ev.set()
            for line in r:
                m = json.loads(line)
                for e in m.get("result", {}).get("events", []):
                    k = base64.b64decode(e["kv"]["key"]).decode()
                    seen[k] = time.perf_counter()
                if len(seen) >= 200:
                    return


    th = threading.Thread(target=watcher, daemon=True)
    th.start()
    ev.wait(10)
    time.sleep(0.2)
    theirs = []
    for i in range(200):
        k = "bench/w/%d" % i
        t0 = time.perf_counter()
        post("/v3/kv/put", {"key": b64(k), "value": b64("o%016x" % oid.value)})
        while k not in seen and time.perf_counter() - t0 < 10:
            time.sleep(0.0002)
        if k in seen:
            theirs.append(seen[k] - t0)
    print("name visible on B: median %.2f ms, p99 %.2f ms   etcd watch (plain "
          "client): median %.2f ms, p99 %.2f ms  (report)" % (
              statistics.median(ours) * 1e3, pct(ours, 0.99) * 1e3,
              statistics.median(theirs) * 1e3, pct(theirs, 0.99) * 1e3))

    # ---- publishing 10,000 small objects ----
    N = 10000
    BATCH = 128
    lib.vy_persist_many.argtypes = [P, ctypes.POINTER(ctypes.c_uint64),
                                    ctypes.c_size_t]
    # B lists the cluster's objects (vy_cluster_list, what `ls --cluster`
    # uses) until all are there
    LISTFN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    lib.vy_cluster_list.argtypes = [P, ctypes.c_char_p, LISTFN, ctypes.c_void_p]
    seen_n = [0]


    def count(ctx, o):
        seen_n[0] += 1
        return 0


    count_fn = LISTFN(count)


    def listed_on_b():
        seen_n[0] = 0
        if lib.vy_cluster_list(B, b"vineyard::Blob", count_fn, None):
            return -1
        return seen_n[0]


    lib.vy_status_json.argtypes = [P, ctypes.POINTER(ctypes.c_void_p)]
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]


    def known_on_b():
        """B's count of the cluster's objects (status "cluster_objects"): one
        small reply, as cheap as the plain client's count_only range. Listing
        them all with a callback each (below, once, to check) takes ~0.1-0.2 s
        for 20,000 and, polled, would time the listing rather than the
        publishing."""
        p = ctypes.c_void_p()
        if lib.vy_status_json(B, ctypes.byref(p)):
            return -1
        n = json.loads(ctypes.string_at(p).decode())["cluster_objects"]
        libc.free(p)
        return n


    def put_group(start, k):
        group = (ctypes.c_uint64 * k)()
        for j in range(k):
            lib.vy_put_blob(A, b"%063d" % (start + j), 64, ctypes.byref(oid))
            group[j] = oid.value
        return group


    def publish(preput):
        """Seconds until B lists N new objects: with preput the objects are
        in A's store before the clock starts (publishing alone: persist in
        groups, the records to etcd, B's watch); without, the puts count."""
        base = max(known_on_b(), 0)
        listed0 = max(listed_on_b(), 0)
        groups = [put_group(st, min(BATCH, N - st))
                  for st in range(0, N, BATCH)] if preput else None
        t0 = time.perf_counter()
        for gi, start in enumerate(range(0, N, BATCH)):
            k = min(BATCH, N - start)
            group = groups[gi] if preput else put_group(start, k)
            rc = lib.vy_persist_many(A, group, k)
            if rc:
                sys.exit("vy_persist_many: %d" % rc)
        stored = time.perf_counter() - t0
        deadline = time.time() + 300
        while time.time() < deadline and known_on_b() < base + N:
            time.sleep(0.01)
        done = time.perf_counter() - t0
        # B's listing (what `ls --cluster` shows) has them all too
        n = listed_on_b() - listed0
        if n != N:
            sys.exit("B lists %d of the %d objects published" % (n, N))
        return stored, done


    put_stored_s, put_ours_s = publish(False)
    pub_stored_s, pub_ours_s = publish(True)
    rec = json.dumps({"id": "o%016x" % oid.value, "typename": "vineyard::Blob",
                      "nbytes": 64, "fields": {}, "members": {}, "instance": 1})
    t0 = time.perf_counter()
    for start in range(0, N, BATCH):
        ops = [{"requestPut": {"key": b64("bench/p/o%016x" % (start + j)),
                               "value": b64(rec)}}
               for j in range(min(BATCH, N - start))]
        post("/v3/kv/txn", {"success": ops})
    # and, as B does for ours, another client sees them all (one count)
    n = int(post("/v3/kv/range", {"key": b64("bench/p/"),
                                  "range_end": b64("bench/p0"),
                                  "count_only": True}).get("count", 0))
    if n < N:
        sys.exit("the plain client's keys: %d of %d" % (n, N))
    theirs_s = time.perf_counter() - t0
    print("publish %d stored objects (persist in groups of %d, known on B): "
          "%.0f objects/s   plain etcd client, same keys in txns of %d, then "
          "counted: %.0f keys/s   ratio %.2f  (target >= 0.5)" % (
              N, BATCH, N / pub_ours_s, BATCH, N / theirs_s,
              theirs_s / pub_ours_s))
    print("   of which persisted on A: %.2f s, then known on B: %.2f s"
          % (pub_stored_s, pub_ours_s - pub_stored_s))
    print("the same with the puts timed too (put + persist + listed on B): "
          "%.0f objects/s   ratio %.2f  (report)" % (
              N / put_ours_s, theirs_s / put_ours_s))
    print("   of which put and persisted on A: %.2f s, then known on B: %.2f s"
          % (put_stored_s, put_ours_s - put_stored_s))


if os.environ.get("B60_ONLY") != "tcp":
    cluster_parts()


# ---- TCP get of 256 MiB ----
# Rounds alternate between ours and the baseline, so load that comes and
# goes on a shared machine hits both alike; medians of ROUNDS each.
ROUNDS = int(os.environ.get("B60_ROUNDS", "5"))
size = 256 << 20
data = os.urandom(1 << 20) * 256
path = os.path.join(os.path.dirname(a_sock), "big.bin")
with open(path, "wb") as f:
    f.write(data)
bid = subprocess.run([ctl, "--socket", a_sock, "put", path, "--mode",
                      "0644"], check=True,
                     capture_output=True, text=True).stdout.strip()
os.unlink(path)
bid_n = int(bid[1:], 16)
lib.vy_connect_tcp.argtypes = [ctypes.c_char_p, ctypes.c_uint,
                               ctypes.c_char_p, ctypes.POINTER(P),
                               ctypes.c_char_p, ctypes.c_size_t]
lib.vy_get.argtypes = [P, ctypes.c_uint64, ctypes.POINTER(P)]
lib.vy_object_release.argtypes = [P, P]
T = P()
err = ctypes.create_string_buffer(600)
if lib.vy_connect_tcp(b"127.0.0.1", int(tcp_port), None, ctypes.byref(T),
                      err, 600):
    sys.exit("vy_connect_tcp: %s" % err.value.decode())

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)


def serve():
    for _ in range(ROUNDS):
        s, _ = srv.accept()
        s.sendall(data)
        s.close()


threading.Thread(target=serve, daemon=True).start()
buf = bytearray(16 << 20)       # written by bytearray(): pre-faulted


def plain():
    s = socket.create_connection(srv.getsockname())
    n = 0
    while n < size:
        k = s.recv_into(buf)
        if not k:
            break
        n += k
    s.close()
    if n != size:
        sys.exit("plain copy: %d of %d bytes" % (n, size))


def ctl_get():
    subprocess.run([ctl, "--host", "127.0.0.1:" + tcp_port, "get", bid, "-o",
                    "/dev/null"], check=True)


def lib_get():
    o = P()
    if lib.vy_get(T, bid_n, ctypes.byref(o)):
        sys.exit("vy_get over TCP failed")
    lib.vy_object_release(T, o)


runs = {"ctl": [], "lib": [], "plain": []}
for _ in range(ROUNDS):
    for k, fn in (("ctl", ctl_get), ("plain", plain), ("lib", lib_get)):
        t0 = time.perf_counter()
        fn()
        runs[k].append(time.perf_counter() - t0)
m = {k: statistics.median(v) for k, v in runs.items()}
print("TCP get of 256 MiB (vineyardctl --host get, a process each): %.0f MiB/s"
      "   plain TCP loopback copy: %.0f MiB/s   ratio %.2f  (target >= 0.8)"
      % (256 / m["ctl"], 256 / m["plain"], m["plain"] / m["ctl"]))
print("   vy_get over vy_connect_tcp (a 256 MiB copy of its own): %.0f MiB/s"
      "   ratio %.2f;  rounds ctl/plain/vy_get: %s"
      % (256 / m["lib"], m["plain"] / m["lib"],
         " ".join("%.0f/%.0f/%.0f" % (256 / a, 256 / b, 256 / c)
                  for a, b, c in zip(runs["ctl"], runs["plain"],
                                     runs["lib"]))))
