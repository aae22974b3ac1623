"""Errors are vineyard.Error subclasses with clear messages; a dead daemon
gives an error, never a hang."""
import socket as pysocket
import time

import numpy as np
import pytest

import vineyard
from conftest import Daemon, python


def test_error_hierarchy():
    assert issubclass(vineyard.ObjectNotExists, vineyard.Error)
    assert issubclass(vineyard.ObjectNotExists, KeyError)
    assert issubclass(vineyard.NameNotExists, vineyard.ObjectNotExists)
    assert issubclass(vineyard.Error, OSError)
    assert issubclass(vineyard.Timeout, TimeoutError)
    assert issubclass(vineyard.ConnectionFailed, ConnectionError)
    assert issubclass(vineyard.InvalidArgument, ValueError)


def test_no_daemon(tmp_path):
    path = str(tmp_path / "nothing.sock")
    with pytest.raises(vineyard.ConnectionFailed, match="no vineyardd "
                       "socket at .*nothing.sock"):
        vineyard.connect(path)


def test_stale_socket_file(tmp_path):
    path = str(tmp_path / "stale.sock")
    s = pysocket.socket(pysocket.AF_UNIX)
    s.bind(path)
    s.close()  # the file stays, nobody listens
    with pytest.raises(vineyard.ConnectionFailed, match="stale"):
        vineyard.connect(path)


def test_default_socket_from_environment(daemon, monkeypatch):
    monkeypatch.setenv("VINEYARD_IPC_SOCKET", daemon.socket)
    assert vineyard.default_socket() == daemon.socket
    with vineyard.connect() as c:
        assert c.socket == daemon.socket
        assert c.get(c.put(7)) == 7
    monkeypatch.delenv("VINEYARD_IPC_SOCKET")
    assert vineyard.default_socket() == "/var/run/vineyard.sock"


def test_missing_objects_and_names(client):
    missing = vineyard.ObjectID("o0123456789abcdef")
    with pytest.raises(vineyard.ObjectNotExists) as e:
        client.get(missing)
    assert str(missing) in str(e.value)
    with pytest.raises(KeyError):
        client.get_meta(missing)
    with pytest.raises(vineyard.ObjectNotExists):
        client.delete(missing)
    with pytest.raises(vineyard.NameNotExists, match="nope"):
        client.get(name="nope", timeout=0)
    with pytest.raises(vineyard.NameNotExists):
        client.get_name("nope")
    with pytest.raises(vineyard.Timeout, match="nope"):
        client.get(name="nope", timeout=0.2)
    with pytest.raises(vineyard.Timeout):
        client.get_name("nope", wait=True, timeout=0.1)
    with pytest.raises(vineyard.NameNotExists):
        client.drop_name("nope")
    assert not client.exists(missing)


def test_invalid_arguments(client):
    with pytest.raises(vineyard.InvalidArgument, match="16 lowercase hex"):
        client.get("not-an-id")
    with pytest.raises(vineyard.InvalidArgument):
        vineyard.ObjectID(-1)
    with pytest.raises(vineyard.InvalidArgument):
        client.get()
    oid = client.put(1)
    with pytest.raises(vineyard.InvalidArgument, match="not both"):
        client.get(oid, name="x")
    for bad in ("a/b", "", "x" * 300, "new\nline"):
        with pytest.raises(vineyard.InvalidArgument):
            client.put_name(oid, bad)
    with pytest.raises(vineyard.InvalidArgument):
        client.put(1, name="bad/name")
    with pytest.raises(vineyard.InvalidArgument):
        client.get(name=5)
    with pytest.raises(vineyard.InvalidArgument):
        client.get(name="x", timeout=-1)
    assert [o.id for o in client.list_objects()] == [oid]


def test_member_of_another_is_in_use(client):
    oid = client.put([np.arange(3), "x"])
    member = client.get_meta(oid).members["__elements_-0"].id
    with pytest.raises(vineyard.ObjectInUse, match="member"):
        client.delete(member)


def test_memory_limit(make_daemon):
    d = make_daemon("--size", "16M")
    c = vineyard.connect(d.socket)
    with pytest.raises(vineyard.NotEnoughMemory):
        c.put(np.zeros(64 << 20, np.uint8))
    with pytest.raises(vineyard.NotEnoughMemory):
        c.put({"a": np.zeros(10 << 20, np.uint8),
               "b": np.zeros(10 << 20, np.uint8)})
    assert c.list_objects() == []  # nothing half-made
    assert c.status()["used_bytes"] == 0
    assert c.get(c.put(np.arange(10))).sum() == 45
    c.close()


def test_unpicklable_value(client):
    with pytest.raises(vineyard.UnsupportedType, match="pickl"):
        client.put(lambda: 1)
    with pytest.raises(TypeError):
        client.put((x for x in range(3)))
    assert client.list_objects() == []


def test_bad_builder_result(client):
    class Odd:
        pass
    vineyard.register_builder(Odd, lambda v, ctx, **kw: 42)
    try:
        with pytest.raises(vineyard.UnsupportedType, match="ObjectMeta"):
            client.put(Odd())
    finally:
        vineyard.unregister_builder(Odd)


def test_bad_fields_and_members(client):
    for field in ({"k": object()}, {"k": [1, object()]}, {"k": 2 ** 70},
                  {"k": "nul\0"}, {"": 1}):
        meta = vineyard.ObjectMeta("my::Thing")
        meta.fields.update(field)
        with pytest.raises(vineyard.InvalidArgument):
            client.create(meta)
    meta = vineyard.ObjectMeta("my::Thing")
    meta.add_member("a/b", b"x")
    with pytest.raises(vineyard.InvalidArgument, match="member"):
        client.create(meta)
    meta = vineyard.ObjectMeta("my::Thing")
    meta.add_member("m", object())
    with pytest.raises(vineyard.UnsupportedType):
        client.create(meta)
    meta = vineyard.ObjectMeta("my::Thing")
    meta.add_member("m", vineyard.ObjectID("o0000000000000001"))
    with pytest.raises(vineyard.ObjectNotExists):
        client.create(meta)
    assert client.list_objects() == []
    assert client.status()["unsealed_blobs"] == 0


def test_dead_daemon_gives_an_error(tmp_path):
    d = Daemon(tmp_path).start()
    c = vineyard.connect(d.socket)
    a = c.get(c.put(np.arange(100000)))
    d.kill()
    with pytest.raises(vineyard.ConnectionLost, match="closed|stop"):
        c.put(1)
    with pytest.raises(vineyard.ConnectionLost, match="connect again"):
        c.get(vineyard.ObjectID("o0000000000000001"))
    assert a.sum() == 4999950000  # what was got stays readable
    del a
    c.close()


WAITER = """
import sys, vineyard
c = vineyard.connect(sys.argv[1])
print('waiting', flush=True)
try:
    c.get(name='never', timeout=600)
except vineyard.ConnectionLost as e:
    print('lost:', e)
"""


def test_daemon_dying_during_a_wait(tmp_path):
    d = Daemon(tmp_path).start()
    p = python(WAITER, d.socket)
    assert p.stdout.readline().strip() == "waiting"
    time.sleep(0.2)
    d.kill()
    out, err = p.communicate(timeout=60)  # a hang would time out here
    assert p.returncode == 0, err
    assert out.startswith("lost:")


def test_reconnect_after_restart(tmp_path):
    d = Daemon(tmp_path).start()
    c = vineyard.connect(d.socket)
    c.put(1)
    assert d.stop() == 0
    d.start()
    with pytest.raises(vineyard.ConnectionLost):
        c.put(2)
    c.reconnect()
    assert c.get(c.put(2)) == 2
    c.close()
    d.stop()


def test_get_with_a_name_as_id_hints_at_name(client):
    with pytest.raises(vineyard.InvalidArgument, match="name="):
        client.get("dataset")
