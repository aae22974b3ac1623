"""The client calls upstream Vineyard's users rely on, against a real
daemon: get_object(s)/get_meta(s), persist of a meta, put of any buffer,
delete's keywords, exists, shallow_copy, fork, clear, memory_trim, status,
list_metadatas, instance_id."""
import array
import os

import numpy as np
import pytest

import vineyard
from conftest import persist_available, python


def test_get_objects_and_metas(client):
    a, b = client.put(np.arange(4)), client.put("bee")
    objs = client.get_objects([a, b])
    assert [o.id for o in objs] == [a, b]
    assert objs[0].typename.startswith("vineyard::Tensor")
    blob = objs[0].member("buffer_")
    assert isinstance(blob, vineyard.Blob) and blob.size == 32
    assert objs[0]["buffer_"].id == blob.id  # obj[member] as upstream
    assert np.frombuffer(blob, np.int64).tolist() == [0, 1, 2, 3]
    assert objs[0].meta["shape_"] == [4] and objs[0].meta.id == a
    metas = client.get_metas([a, b])
    assert [m.id for m in metas] == [a, b]
    assert metas[0]["buffer_"].is_blob and metas[0]["nbytes"] == 32
    assert objs[0].islocal and not objs[0].isglobal
    assert objs[0].ispersist is False


def test_persist_takes_an_id_a_meta_or_an_object(client):
    if not persist_available(client):
        pytest.skip("daemon without a data directory")
    meta = vineyard.ObjectMeta()
    meta["typename"] = "demo::Thing"
    meta.add_member("x_", client.put(1))
    rmeta = client.create_metadata(meta)
    client.persist(rmeta)
    assert client.get_object(rmeta.id).ispersist
    obj = client.get_object(client.put(2))
    client.persist(obj)
    assert client.get_object(obj.id).ispersist
    client.persist(client.put(3))


def test_global_metadata_on_a_daemon_outside_a_cluster(client):
    # A lone daemon is a cluster of one: a meta marked global becomes an
    # ordinary local object, members given as ids, created metas or new
    # buffers, and can be persisted and read back like any other.
    x, y = client.put(1.5), client.put(np.arange(3))
    meta = vineyard.ObjectMeta()
    meta["typename"] = "demo::Pair"
    meta.add_member("first_", x)
    meta.add_member("second_", client.get_meta(y))
    meta.add_member("raw_", b"some new bytes")
    meta.set_global(True)
    made = client.create_metadata(meta)
    assert made.id == meta.id and client.exists(made.id)
    assert not made.isglobal and made.islocal
    assert made["first_"].id == x and made["second_"].id == y
    assert bytes(client.get_object(made.id).member("raw_")) == \
        b"some new bytes"
    if persist_available(client):
        client.persist(made)
        assert client.get_object(made.id).ispersist
    # The same member twice is one object referenced twice.
    twice = vineyard.ObjectMeta(True)
    twice["typename"] = "demo::Pair"
    twice.add_member("first_", x)
    twice.add_member("second_", x)
    again = client.create_metadata(twice)
    assert again["first_"].id == again["second_"].id == x
    with pytest.raises(vineyard.NotAvailable, match="not in a cluster"):
        client.create_global(vineyard.ObjectMeta("demo::G", global_=True))


def test_put_of_buffers(client):
    for value in (memoryview(b"abcde"), b"abcde", bytearray(b"abcde"),
                  array.array("i", [1, 2, 3]), memoryview(b"")):
        got = client.get(client.put(value))
        assert got == value and type(got) in (type(value), memoryview)
    mv = client.get(client.put(memoryview(b"abcde")))
    assert isinstance(mv, memoryview) and mv.readonly
    # A strided memoryview is stored contiguous.
    strided = memoryview(np.arange(10, dtype=np.uint8))[::2]
    assert client.get(client.put(strided)).tolist() == [0, 2, 4, 6, 8]
    # put_blob stores one blob; a stored blob's memory is reused.
    oid = client.put_blob(b"xyz")
    assert oid.is_blob and bytes(client.get(oid)) == b"xyz"
    assert client.put_blob(client.get_blob(oid)) == oid


def test_delete_keywords(client):
    pair = client.put((1, np.arange(3)))
    member = client.get_meta(pair)["__elements_-1"].id
    with pytest.raises(vineyard.ObjectInUse):
        client.delete(member, force=True)  # referenced: never deleted
    assert client.delete(pair, deep=False, memory_trim=True) == 1
    assert client.exists(member)
    assert client.delete([member]) >= 1
    assert not client.exists(member) and not client.exists(pair)
    meta = client.get_meta(client.put(5))
    client.delete(meta)
    assert not client.exists(meta.id)
    obj = client.get_object(client.put(6))
    client.delete(obj)
    assert not client.exists(obj.id)
    with pytest.raises(vineyard.ObjectNotExists):
        client.delete(obj.id)


def test_exists(client):
    oid = client.put(1)
    assert client.exists(oid) and client.exists(str(oid))
    assert not client.exists(vineyard.ObjectID("o0000000000000001"))
    with pytest.raises(vineyard.InvalidArgument):
        client.exists("nonsense")


def test_shallow_copy(client):
    src = client.put(np.arange(5))
    copy = client.shallow_copy(src)
    assert copy != src
    a, b = client.get_meta(src), client.get_meta(copy)
    assert a["buffer_"].id == b["buffer_"].id  # members shared
    assert b["shape_"] == [5]
    extra = client.shallow_copy(src, {"note_": "hi"})
    assert client.get_meta(extra)["note_"] == "hi"
    assert client.get(extra).tolist() == [0, 1, 2, 3, 4]
    blob = a["buffer_"].id
    assert client.shallow_copy(blob) == blob
    client.delete(src)  # the copies keep the blob alive
    assert client.get(copy).tolist() == [0, 1, 2, 3, 4]


def test_fork_gives_a_new_connection(client):
    other = client.fork()
    assert other is not client and other.ipc_socket == client.ipc_socket
    oid = other.put(7)
    assert client.get(oid) == 7
    other.close()
    assert client.get(oid) == 7


def test_fork_in_a_child_process(client, tmp_path):
    oid = client.put("from parent")
    code = ("import vineyard, sys; c = vineyard.connect(sys.argv[1]); "
            "pid = __import__('os').fork()\n"
            "if pid == 0:\n"
            "    f = c.fork(); f.put_name(f.put('child'), 'kid'); "
            "__import__('os')._exit(0)\n"
            "__import__('os').waitpid(pid, 0); "
            "print(c.get(name='kid', timeout=10))")
    p = python(code, client.socket)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert out.strip() == "child" and client.get(oid) == "from parent"


def test_clear_and_memory_trim(client):
    keep = client.get(client.put(np.arange(1000)))
    client.put((1, 2, np.arange(3)), name="n")
    client.put({"a": [1, 2]})
    client.clear()
    assert client.list_objects() == [] and client.list_names() == {}
    assert client.memory_trim() is True
    assert keep.tolist() == list(range(1000))  # readers keep reading
    assert client.status.objects == 0 if hasattr(client.status, "objects") \
        else client.status["objects"] == 0


def test_status_with_upstream_names(client):
    st = client.status
    assert st.instance_id == 0 and st.deployment == "local"
    assert st.memory_limit == st["limit_bytes"] > 0
    before = st.memory_usage
    oid = client.put(np.zeros(1 << 20))
    st = client.status
    assert st.memory_usage >= before + (8 << 20)
    assert st.ipc_connections >= 1 and st.rpc_connections == 0
    assert st.deferred_requests == 0
    assert client.status()["used_bytes"] == st.memory_usage  # ours
    assert "memory_usage" in str(st)
    client.delete(oid)
    with pytest.raises(AttributeError):
        st.no_such_figure


def test_list_metadatas(client):
    ids = [client.put(i) for i in range(7)]
    client.put(np.arange(3))
    metas = client.list_metadatas("vineyard::Scalar*")
    assert len(metas) == 5  # upstream's default limit
    assert {m.id for m in metas} <= set(ids)  # in id order
    assert len(client.list_metadatas("vineyard::Scalar*", limit=100)) == 7
    assert len(client.list_metadatas("vineyard::Scalar<int.*", regex=True,
                                     limit=None)) == 7
    every = client.list_metadatas("*", limit=None, nobuffer=True)
    assert all(not m.is_blob for m in every) and len(every) == 8
    assert any(m.is_blob for m in client.list_metadatas("*", limit=None))
    assert client.list_metadatas("no::such") == []


def test_small_properties(client):
    assert client.instance_id == 0
    assert client.ipc_socket == client.socket and client.rpc_endpoint == ""
    assert client.connected and client.is_ipc and not client.is_rpc
    assert client.version == vineyard.__version__
    oid = client.put(np.arange(4))
    assert client.allocated_size(oid) == 32
    client.release_object(oid)
    client.release_objects([oid])
    client.sync_meta()
    assert client.get(oid).tolist() == [0, 1, 2, 3]
    client.close()
    assert not client.connected


def test_get_by_name_and_put_name_of_a_meta(client):
    meta = client.get_meta(client.put(3))
    client.put_name(meta, "three")
    assert client.get(name="three") == 3
    assert client.get_name("three") == meta.id


def test_environment_socket(daemon):
    env = dict(os.environ, VINEYARD_IPC_SOCKET=daemon.socket)
    p = python("import vineyard; c = vineyard.connect(); "
               "print(c.instance_id, c.status.deployment)", env=env)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert out.split() == ["0", "local"]
