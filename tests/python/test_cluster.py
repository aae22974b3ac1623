"""Python against a cluster: three vineyardd on one private etcd (started
on free loopback ports by tests/helpers/etcd.sh and stopped after). A
producer on each instance puts and persists chunks; one builds a global
object whose members live on all three; a consumer on any instance reads
its metadata and sees where each member lives. Every wait is bounded."""
import errno
import json
import os
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

import vineyard
from conftest import BUILD, ROOT, Daemon

ETCD_SH = os.path.join(ROOT, "tests", "helpers", "etcd.sh")
VINEYARDCTL = os.path.join(BUILD, "vineyardctl")

pytestmark = pytest.mark.skipif(shutil.which("etcd") is None and
                                not os.path.exists("/usr/bin/etcd"),
                                reason="etcd not installed (make deps)")


def eventually(fn, what, tries=300):
    for _ in range(tries):
        try:
            if fn():
                return
        except vineyard.Error:
            pass
        time.sleep(0.1)
    pytest.fail("never true: " + what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    """(etcd url, [daemon a, b, c]); a also has a TCP front, a.port."""
    edir = str(tmp_path / "etcd")
    nodes = []
    try:
        r = etcd_sh("start", edir, capture_output=True, text=True,
                    timeout=120)
        if r.returncode == 77:
            pytest.skip("etcd not installed")
        assert r.returncode == 0, r.stderr
        url = r.stdout.strip()
        for name in "abc":
            sub = tmp_path / name
            sub.mkdir()
            args = ["--etcd", url, "--etcd-ttl", "2"]
            port = None
            if name == "a":
                port = free_port()
                args += ["--rpc", "127.0.0.1:%d" % port]
            d = Daemon(sub, args).start()
            d.port = port
            nodes.append(d)
        for d in nodes:
            with vineyard.connect(d.socket) as c:
                eventually(lambda: c.status["cluster"] == "joined",
                           "joined")
        yield url, nodes
    finally:
        for d in nodes:
            d.stop()
        etcd_sh("stop", edir, timeout=60)


def etcd_sh(*args, **kw):
    """tests/helpers/etcd.sh, without the sanitizer runtime `make asan`
    preloads into this interpreter (etcd and curl are not ours)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    return subprocess.run([ETCD_SH] + list(args), env=env, **kw)


def ctl(d, *args):
    return subprocess.run([VINEYARDCTL, "--socket", d.socket] + list(args),
                          capture_output=True, text=True, timeout=30)


def test_instance_ids_over_both_fronts(cluster):
    url, (a, b, c) = cluster
    ids = []
    for d in (a, b, c):
        with vineyard.connect(d.socket) as cl:
            assert cl.status.deployment == "distributed"
            assert cl.status.instance_id == cl.instance_id > 0
            ids.append(cl.instance_id)
    assert len(set(ids)) == 3
    with vineyard.connect("127.0.0.1", a.port) as tcp:
        assert tcp.is_rpc and tcp.instance_id == ids[0]
        # a TCP client sees objects published elsewhere, by name
        with vineyard.connect(b.socket) as cb:
            # readable by everybody: the TCP client (no token) is nobody
            oid = cb.put(np.arange(5), name="from-b", persist=True,
                         mode=0o644)
            private = cb.put(np.arange(3), persist=True)
        eventually(lambda: tcp.get_name("from-b") == oid, "name on a")
        # the name binds in etcd with the put; the object's record is
        # published after it, by b's cluster thread
        eventually(lambda: tcp.get_meta(oid) is not None, "meta on a")
        meta = tcp.get_meta(oid)
        assert not meta.islocal and meta.instance_id == ids[1]
        assert meta.typename.startswith("vineyard::Tensor")
        with pytest.raises(vineyard.Error) as e:
            tcp.get(oid)   # the bytes live on b
        assert "instance" in str(e.value)
        # one that nobody may read (0640, its record says) is refused
        # as b would refuse it, before anything else
        eventually(lambda: tcp.get_meta(private) is not None, "private")
        with pytest.raises(vineyard.PermissionDenied) as e:
            tcp.get(private)
        assert "may not read it" in str(e.value)


def test_global_object_with_members_on_three_instances(cluster):
    url, nodes = cluster
    clients = [vineyard.connect(d.socket) for d in nodes]
    inst = [cl.instance_id for cl in clients]
    # a producer on each instance puts two chunks and persists them
    chunks = {}
    for k, cl in enumerate(clients):
        for j in range(2):
            arr = np.full(100, 10 * k + j, dtype=np.int64)
            chunks["chunk_%d_%d" % (k, j)] = (cl.put(arr, persist=True), k)
    # b builds the global object over every chunk, wherever it lives
    b = clients[1]
    for oid, k in chunks.values():
        if k != 1:
            eventually(lambda: b.get_meta(oid) is not None, "chunk on b")
    meta = vineyard.ObjectMeta()
    meta["typename"] = "vineyard::GlobalTensor"
    meta["partitions_"] = len(chunks)
    meta.set_global(True)
    for name, (oid, k) in chunks.items():
        meta.add_member(name, oid)
    made = b.create_metadata(meta)
    gid = made.id
    assert meta.id == gid and made.isglobal
    b.persist(made)          # upstream's flow: already published
    assert made["partitions_"] == 6
    assert made.nbytes == 6 * 800
    # a consumer on each instance reads it and sees where members live
    for k, cl in enumerate(clients):
        eventually(lambda: cl.exists(gid), "global seen")
        m = cl.get_meta(gid)
        assert m.isglobal and m.typename == "vineyard::GlobalTensor"
        assert sorted(m.members) == sorted(chunks)
        for name, (oid, owner) in chunks.items():
            mm = m.members[name]
            assert mm.id == oid
            assert mm.instance_id == inst[owner]
            assert mm.islocal == (owner == k)
            if owner == k:   # a local member's bytes are right here
                assert cl.get(oid)[0] == 10 * owner + int(name[-1])
    # vineyardctl meta shows each member's instance and locality
    for k, d in enumerate(nodes):
        r = ctl(d, "meta", str(gid))
        assert r.returncode == 0, r.stderr
        j = json.loads(r.stdout)
        assert j["global"] is True and j["instance"] == inst[1]
        for name, (oid, owner) in chunks.items():
            e = j["member_instances"][name]
            assert e["id"] == str(oid) and e["instance"] == inst[owner]
            assert e["local"] == (owner == k) and e["available"] is True
    # listed cluster-wide, and nameable from any instance
    r = ctl(nodes[2], "ls", "--cluster")
    assert str(gid) in r.stdout and "GlobalTensor" in r.stdout
    clients[2].put_name(gid, "the-global")
    eventually(lambda: clients[0].get_name("the-global") == gid, "name")
    # deleting it withdraws it everywhere
    clients[0].delete(gid)
    eventually(lambda: ctl(nodes[2], "meta", str(gid)).returncode == 3,
               "withdrawn")
    for cl in clients:
        cl.close()


def test_global_object_errors(cluster, tmp_path):
    url, (a, b, c) = cluster
    ca = vineyard.connect(a.socket)
    loose = ca.put(np.arange(3))          # not persisted
    meta = vineyard.ObjectMeta("my::Global", global_=True)
    meta.add_member("x", loose)
    with pytest.raises(vineyard.InvalidArgument) as e:
        ca.create_metadata(meta)
    assert "not persisted" in str(e.value)
    meta = vineyard.ObjectMeta("my::Global", global_=True)
    meta.add_member("x", vineyard.ObjectID("o0001000000000123"))
    with pytest.raises(vineyard.ObjectNotExists) as e:
        ca.create_metadata(meta)
    assert "no instance" in str(e.value)
    meta = vineyard.ObjectMeta("my::Global", global_=True)
    meta.add_member("x", b"new bytes")
    with pytest.raises(vineyard.InvalidArgument):
        ca.create_metadata(meta)
    ca.close()
    # outside a cluster: create_global says so clearly (create_metadata
    # makes a local object there, test_upstream_client.py)
    (tmp_path / "alone").mkdir()
    d = Daemon(tmp_path / "alone").start()
    try:
        with vineyard.connect(d.socket) as cl:
            p = cl.put(np.arange(3), persist=True)
            meta = vineyard.ObjectMeta("my::Global", global_=True)
            meta.add_member("x", p)
            with pytest.raises(vineyard.NotAvailable) as e:
                cl.create_global(meta)
            assert "not in a cluster" in str(e.value)
            assert cl.instance_id == 0
    finally:
        d.stop()


def test_names_fail_clearly_while_etcd_is_away(cluster, tmp_path):
    url, (a, b, c) = cluster
    ca = vineyard.connect(a.socket)
    edir = str(tmp_path / "etcd")
    etcd_sh("stop", edir, timeout=60, check=True)
    try:
        eventually(lambda: ca.status["cluster"] != "joined", "etcd lost")
        oid = ca.put(np.arange(4))         # local work goes on
        assert list(ca.get(oid)) == [0, 1, 2, 3]
        before = len(ca.list_objects())
        with pytest.raises(vineyard.Error) as e:
            ca.put(np.arange(4), name="during")
        assert e.value.errno == errno.ENOTCONN
        assert "cluster is unreachable" in str(e.value)
        assert len(ca.list_objects()) == before   # nothing left behind
        with pytest.raises(vineyard.Error) as e:
            ca.put_name(oid, "during")
        assert e.value.errno == errno.ENOTCONN
        with pytest.raises(vineyard.NameNotExists):
            ca.get_name("during")
    finally:
        etcd_sh("restart", edir, timeout=60, check=True)
    eventually(lambda: ca.status["cluster"] == "joined", "joined again")
    ca.put_name(oid, "during")
    with vineyard.connect(b.socket) as cb:
        eventually(lambda: cb.get_name("during") == oid, "name on b")
    ca.close()
