"""Blobs the upstream way (create_blob, BlobBuilder, seal, get_blob(s),
Blob), finding the blob behind a pointer, vineyard.shared_memory, and
vineyard.data.pickle's reader and writer."""
import gc

import numpy as np
import pandas as pd
import pytest

import vineyard
from vineyard.data.pickle import PickledReader, PickledWriter
from vineyard.shared_memory import ShareableList, SharedMemory


@pytest.mark.parametrize("size", [10, 1 << 20])  # inline and memfd blobs
def test_create_copy_seal_get(client, size):
    buf = client.create_blob(size)
    assert isinstance(buf, vineyard.BlobBuilder)
    assert buf.size == len(buf) == size and not buf.issealed
    assert (buf.id != 0) == (size > 4095)  # small ones get it at seal
    data = np.random.randint(0, 255, size, dtype=np.uint8)
    buf.copy(0, data[:size // 2].tobytes())
    buf.copy(size // 2, data[size // 2:])
    blob = buf.seal(client)
    assert isinstance(blob, vineyard.Blob) and buf.issealed
    assert blob.id == buf.id and blob.id.is_blob
    assert blob.size == len(blob) == size and not blob.is_empty
    assert bytes(memoryview(blob)) == data.tobytes()
    assert memoryview(blob).readonly and blob.buffer.readonly
    assert blob[1] == data[1] and isinstance(blob[1], int)
    assert list(blob)[:3] == data[:3].tolist()
    assert blob.address != 0 and blob.typename == "vineyard::Blob"
    got = client.get_blob(blob.id)
    assert got == blob and hash(got) == hash(blob)
    assert client.get_blobs([blob.id, blob.id])[1].id == blob.id
    with pytest.raises(vineyard.InvalidArgument, match="sealed"):
        buf.copy(0, b"x")
    with pytest.raises(vineyard.UnsupportedType, match="not a blob"):
        client.get_blob(client.put(1))


def test_builder_buffer_item_access_and_address(client):
    buf = client.create_blob(8192)
    buf[0] = 7
    buf[1:4] = b"abc"
    buf.buffer[4:6] = b"de"
    buf.copy(6, np.frombuffer(b"fg", np.uint8).__array_interface__[
        "data"][0], 2)
    assert buf[0] == 7 and bytes(buf.buffer[1:8]) == b"abcdefg"
    assert client.find_shared_memory(buf.address + 5) == buf.id
    blob = buf.seal(client)
    assert bytes(blob.buffer[:8]) == b"\x07abcdefg"
    with pytest.raises(vineyard.InvalidArgument):
        buf.copy(8190, b"xyz")  # checked before writing, even once sealed
    other = client.create_blob(16)
    with pytest.raises(vineyard.InvalidArgument, match="holds 16"):
        other.copy(10, b"0123456789")
    other.abort()
    with pytest.raises(vineyard.InvalidArgument):
        other.seal(client)


def test_seal_with_live_views_keeps_them_valid(client):
    buf = client.create_blob(1 << 16)
    view = buf.buffer
    arr = np.asarray(view)
    view[:5] = b"hello"
    blob = buf.seal(client)  # views alive: a copy is stored
    assert bytes(blob.buffer[:5]) == b"hello"
    arr[:5] = 0  # still writable, still mapped: the blob is unchanged
    assert bytes(client.get_blob(blob.id).buffer[:5]) == b"hello"
    del view, arr
    gc.collect()
    assert client.status["unsealed_blobs"] == 0  # dropped with the views


def test_create_many_and_empty(client):
    bufs = client.create_blob([1, 5000, 0])
    assert [b.size for b in bufs] == [1, 5000, 0]
    blobs = [b.seal(client) for b in bufs]
    assert [b.size for b in blobs] == [1, 5000, 0]
    empty = client.create_empty_blob().seal(client)
    assert empty.is_empty and not empty and bytes(empty) == b""
    assert vineyard.Blob.empty().size == 0
    with pytest.raises(vineyard.InvalidArgument):
        client.create_blob(-1)
    with pytest.raises(TypeError):
        vineyard.Blob()


def test_unsealed_builder_dropped_when_garbage(client):
    buf = client.create_blob(1 << 16)
    assert client.status["unsealed_blobs"] == 1
    del buf
    gc.collect()
    assert client.status["unsealed_blobs"] == 0


def test_blob_as_a_member_of_an_upstream_meta(client):
    buf = client.create_blob(24)
    buf.copy(0, np.arange(3, dtype=np.int64))
    blob = buf.seal(client)
    meta = vineyard.ObjectMeta()
    meta["typename"] = "vineyard::Tensor<int64>"
    meta["value_type_"] = "int64"
    meta["shape_"] = (3,)
    meta["order_"] = "C"
    meta.add_member("buffer_", blob)
    meta = client.create_metadata(meta)
    assert client.get(meta.id).tolist() == [0, 1, 2]


def test_find_shared_memory(client):
    arr = client.get(client.put(np.arange(100, dtype=np.int64)))
    blob = client.get_meta(client.put(np.zeros(1)))  # meta only: not mapped
    ptr = arr.__array_interface__["data"][0]
    bid = client.find_shared_memory(ptr + 80)
    assert bid is not None and bid.is_blob
    assert client.find_shared_memory(arr) == bid
    assert client.is_shared_memory(ptr)
    assert not client.is_shared_memory(np.zeros(4))
    assert client.find_shared_memory(0) is None
    assert client.find_shared_memory(blob["buffer_"].id) is None
    with pytest.raises(vineyard.InvalidArgument):
        client.find_shared_memory("nope")


def test_shared_memory_block(client):
    shm = SharedMemory(client, create=True, size=10000)
    assert shm.size == 10000 and shm.name.startswith("o")
    shm.buf[:3] = b"abc"
    shm.freeze()
    with pytest.raises(TypeError):
        shm.buf[0] = 1  # sealed: read-only
    other = SharedMemory(client, shm.name)
    assert bytes(other.buf[:3]) == b"abc" and other.size == 10000
    other.unlink()
    assert not client.exists(shm.name)
    small = SharedMemory(client, create=True, size=8)
    assert small.name is None  # inline blobs get their id at seal
    small.close()
    assert small.name is not None and client.exists(small.name)
    dropped = SharedMemory(client, create=True, size=5000)
    dropped.unlink()
    assert client.status["unsealed_blobs"] == 0
    for bad in ({"create": True}, {"create": True, "size": -1}, {},
                {"name": "o0000000000000001", "create": True, "size": 1}):
        with pytest.raises(ValueError):
            SharedMemory(client, **bad)


def test_shareable_list(client):
    a = ShareableList(client, ("a", b"bb", 1234, 56789.01234, True, None))
    assert len(a) == 6 and a.format == "sbqd?x"
    a[0] = "bbbbbb"  # fits the slot of "a" (8 bytes)
    a[2] = -5
    with pytest.raises(ValueError, match="room"):
        a[0] = "x" * 20
    with pytest.raises(TypeError):
        a[1] = [1]
    with pytest.raises(IndexError):
        a[6]
    a.freeze()
    with pytest.raises(TypeError):
        a[2] = 1
    b = ShareableList(client, name=a.shm.name)
    assert list(b) == list(a) == ["bbbbbb", b"bb", -5, 56789.01234, True,
                                  None]
    assert b[-1] is None and b.count(-5) == 1 and b.index(b"bb") == 1
    b.shm.unlink()
    with pytest.raises(vineyard.InvalidArgument, match="ShareableList"):
        ShareableList(client, name=repr(client.put_blob(b"x" * 32)))
    assert list(ShareableList(client, []).freeze()) == []


@pytest.mark.parametrize("value", [
    b"raw bytes", memoryview(b"a view"), 7, (1, "two", [3.5]),
    np.arange(10000).reshape(100, 100), np.asfortranarray(np.ones((3, 4))),
    pd.DataFrame({"a": np.arange(5), "b": list("vwxyz")}),
])
@pytest.mark.parametrize("block", [1, 1000, -1])
def test_pickled_reader_writer(value, block):
    reader = PickledReader(value)
    assert reader.value is value
    writer = PickledWriter(reader.store_size if block != 1000 else -1)
    n = 0
    for _ in range(reader.store_size + 10):
        part = reader.read(block)
        if not len(part):
            break
        n += len(part)
        writer.write(part)
    assert n == reader.store_size and reader.read(block) == b""
    assert writer.value is None
    writer.close()
    got = writer.value
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(got, value)
        assert got.flags.f_contiguous == value.flags.f_contiguous
        assert got.__array_interface__["data"][0] % 64 == 0  # aligned
    elif isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(got, value)
    else:
        assert got == value


def test_pickled_writer_short_input():
    reader = PickledReader(np.arange(100))
    writer = PickledWriter()
    writer.write(reader.read(40))
    writer.write(reader.read(40))
    with pytest.raises(ValueError, match="end before"):
        writer.close()
