"""vineyard.connect(host, port): a client over the daemon's TCP front
(vineyardd --rpc on a free loopback port), as upstream's RPC client:
metadata, names, listing, and puts and gets whose bytes go by copy."""
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import vineyard
from conftest import Daemon


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_rpc(tmp_path, *args):
    """A daemon with --rpc on a free loopback port: (daemon, port). The
    port may be taken between the probe and the bind: a few tries."""
    for i in range(10):
        port = free_port()
        sub = tmp_path / ("rpc%d" % i)
        sub.mkdir()
        d = Daemon(sub, ["--rpc", "127.0.0.1:%d" % port] + list(args))
        try:
            return d.start(), port
        except RuntimeError:
            if "cannot listen" not in d.log_text():
                raise
    pytest.fail("no free loopback port for --rpc")


@pytest.fixture
def rpc(tmp_path):
    d, port = start_rpc(tmp_path)
    yield d, port
    assert d.stop() in (0, None), d.log_text()


def test_every_form_of_connect_gives_a_tcp_client(rpc):
    d, port = rpc
    for c in (vineyard.connect("127.0.0.1", port),
              vineyard.connect("127.0.0.1:%d" % port),
              vineyard.connect(endpoint=("127.0.0.1", str(port))),
              vineyard.connect(host="127.0.0.1", port=port),
              vineyard.RPCClient("127.0.0.1", port)):
        with c:
            assert c.is_rpc and not c.is_ipc
            assert c.rpc_endpoint == "127.0.0.1:%d" % port
            assert c.ipc_socket == ""
            assert c.status["objects"] >= 0
            assert c.instance_id == 0   # not in a cluster
    with vineyard.connect(d.socket) as c:
        assert c.is_ipc and not c.is_rpc and c.rpc_endpoint == ""


def test_environment_endpoint(rpc, monkeypatch):
    d, port = rpc
    monkeypatch.delenv("VINEYARD_IPC_SOCKET", raising=False)
    monkeypatch.setenv("VINEYARD_RPC_ENDPOINT", "127.0.0.1:%d" % port)
    with vineyard.connect() as c:
        assert c.is_rpc


def test_values_round_trip_by_copy(rpc):
    d, port = rpc
    tcp = vineyard.connect("127.0.0.1", port)
    ipc = vineyard.connect(d.socket)
    arr = np.arange(300000, dtype=np.float64).reshape(600, 500)
    fort = np.asfortranarray(np.random.rand(70, 30))
    df = pd.DataFrame({"u": np.arange(1000), "w": np.random.rand(1000)})
    value = {"a": arr, "f": fort[::2], "df": df, "s": "text", "n": [1, 2]}
    oid = tcp.put(value, name="thing")
    back = tcp.get(oid)
    assert np.array_equal(back["a"], arr)
    assert np.array_equal(back["f"], fort[::2])
    pd.testing.assert_frame_equal(back["df"], df)
    assert back["s"] == "text" and back["n"] == (1, 2)
    # the copy is read-only, as a mapped get is
    with pytest.raises(ValueError):
        back["a"][0, 0] = 1
    # the same object through the socket, and the other way round: a TCP
    # client without the token is nobody, who reads what others may read
    assert np.array_equal(ipc.get(name="thing")["a"], arr)
    oid2 = ipc.put(np.arange(10, dtype=np.int32), mode=0o644)
    assert list(tcp.get(oid2)) == list(range(10))
    if os.geteuid() != 65534:
        private = ipc.put(np.arange(3, dtype=np.int32))
        with pytest.raises(vineyard.PermissionDenied):
            tcp.get(private)
    # blobs: put_blob, get_blob, empty blob
    bid = tcp.put_blob(b"x" * 100000)
    assert bytes(tcp.get_blob(bid)) == b"x" * 100000
    assert bytes(ipc.get_blob(bid)) == b"x" * 100000
    assert bytes(tcp.get_blob(tcp.put_blob(b""))) == b""
    tcp.close()
    ipc.close()


def test_metadata_names_listing_delete(rpc):
    d, port = rpc
    c = vineyard.connect("127.0.0.1:%d" % port)
    oid = c.put(np.zeros(1000, dtype=np.int16), name="zeros")
    meta = c.get_meta(oid)
    assert meta.typename == "vineyard::Tensor<int16>"
    assert meta["shape_"] in ([1000], "[1000]", (1000,))
    assert c.get_name("zeros") == oid
    c.put_name(oid, "again")
    assert c.list_names("ag*") == {"again": oid}
    assert oid in [r.id for r in c.list_objects("vineyard::Tensor*")]
    assert c.exists(oid)
    c.drop_name("again")
    with pytest.raises(vineyard.NameNotExists):
        c.get_name("again")
    c.delete(oid)
    assert not c.exists(oid)
    with pytest.raises(vineyard.ObjectNotExists):
        c.get(oid)
    # what maps memory is refused with a reason, not a crash
    with pytest.raises(vineyard.NotAvailable):
        c.create_blob(1 << 20)
    c.close()


def test_a_failed_put_leaves_no_blob_behind(rpc):
    d, port = rpc
    c = vineyard.connect("127.0.0.1", port)
    before = len(c.list_objects())
    meta = vineyard.ObjectMeta("my::Thing")
    meta.add_member("payload", b"abc" * 5000)
    meta.add_member("missing", vineyard.ObjectID("o0000000000000123"))
    with pytest.raises(vineyard.ObjectNotExists):
        c.create_metadata(meta)
    assert len(c.list_objects()) == before
    c.close()


def test_token(tmp_path, monkeypatch):
    tok = tmp_path / "tok"
    tok.write_text("0123456789abcdef-secret\n")
    d, port = start_rpc(tmp_path, "--rpc-token-file", str(tok))
    try:
        monkeypatch.delenv("VINEYARD_RPC_TOKEN", raising=False)
        with pytest.raises(vineyard.ConnectionFailed) as e:
            vineyard.connect("127.0.0.1", port)
        assert "token" in str(e.value)
        with pytest.raises(vineyard.ConnectionFailed):
            vineyard.connect("127.0.0.1", port, token="0123456789abcdef-wrong")
        with vineyard.connect("127.0.0.1", port,
                              token="0123456789abcdef-secret") as c:
            oid = c.put(b"payload")
        monkeypatch.setenv("VINEYARD_RPC_TOKEN", "0123456789abcdef-secret")
        with vineyard.connect("127.0.0.1:%d" % port) as c:
            assert c.get(oid) == b"payload"
    finally:
        d.stop()


def test_bad_addresses_are_clear_errors():
    for args in (("127.0.0.1", 0), ("127.0.0.1", 70000), ("", 5),
                 ("127.0.0.1", "x")):
        with pytest.raises(vineyard.InvalidArgument):
            vineyard.connect(*args)
    with pytest.raises(vineyard.InvalidArgument):
        vineyard.connect(endpoint="nonsense")
    with pytest.raises(vineyard.ConnectionFailed):
        vineyard.connect("127.0.0.1", free_port())
    with pytest.raises(TypeError):
        vineyard.connect("127.0.0.1", 5, colour="blue")


def test_fork_child_reconnects_over_tcp(rpc):
    d, port = rpc
    c = vineyard.connect("127.0.0.1", port)
    oid = c.put(b"from parent")
    pid = os.fork()
    if pid == 0:
        try:
            ok = c.get(oid) == b"from parent" and c.is_rpc
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, st = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(st) == 0
    assert c.get(oid) == b"from parent"
    c.close()


USER_TESTS = '''
import numpy as np
from vineyard.conftest import (vineyard_client, vineyard_endpoints,
                               vineyard_ipc_sockets, vineyard_rpc_client)


def test_over_both(vineyard_client, vineyard_rpc_client):
    assert vineyard_client.is_ipc and vineyard_rpc_client.is_rpc
    oid = vineyard_rpc_client.put(np.arange(5))
    assert vineyard_client.get(oid).tolist() == [0, 1, 2, 3, 4]


def test_lists(vineyard_endpoints, vineyard_ipc_sockets):
    assert len(vineyard_endpoints) == 1 and len(vineyard_ipc_sockets) == 1
'''


def test_package_fixtures_for_users_tests(rpc, tmp_path):
    # vineyard.conftest's fixtures, as a user's test module imports them:
    # a client over each front when the environment names the daemon,
    # skipped tests when it does not.
    d, port = rpc
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "test_user.py").write_text(USER_TESTS)
    env = {k: v for k, v in os.environ.items()
           if k not in ("VINEYARD_IPC_SOCKET", "VINEYARD_RPC_ENDPOINT")}

    def run(**extra):
        p = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-rs", "test_user.py"], cwd=str(tmp_path / "user"),
            env=dict(env, **extra), capture_output=True, text=True,
            timeout=120)
        return p.stdout + p.stderr

    out = run(VINEYARD_IPC_SOCKET=d.socket,
              VINEYARD_RPC_ENDPOINT="127.0.0.1:%d" % port)
    assert "2 passed" in out, out
    out = run()
    assert "2 skipped" in out and "VINEYARD_RPC_ENDPOINT" in out, out
