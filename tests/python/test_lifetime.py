"""Lifetime: a value got from the store stays intact while it lives, even
when the object is deleted or the client closed, and its mapping (and the
daemon's pin) goes when the last array using it goes."""
import gc

import numpy as np
import pandas as pd
import pytest

import vineyard


def in_use(client):
    return client.status()["deleted_in_use"]


@pytest.mark.parametrize("n", [16, 3000, 1 << 20])
def test_delete_while_a_view_is_alive(client, n):
    """Small sizes live packed in shared segments whose slots the daemon
    reuses; the view must pin its slot."""
    a = np.random.default_rng(n).integers(0, 255, n, dtype=np.uint8)
    oid = client.put(a)
    view = client.get(oid)
    part = view[n // 2:]
    assert client.delete(oid) == 2  # the tensor and its blob
    with pytest.raises(vineyard.ObjectNotExists):
        client.get(oid)
    # Fill the store with other data of the same size: freed slots or
    # pages would be reused now.
    others = [client.put(np.full(n, 0xAB, np.uint8)) for _ in range(20)]
    assert np.array_equal(view, a)
    assert in_use(client) >= 1
    del view
    gc.collect()
    assert np.array_equal(part, a[n // 2:])  # a view of the view holds it
    del part
    gc.collect()
    assert in_use(client) == 0  # released when the last array went
    client.delete(others)


def test_dataframe_column_outlives_frame_and_object(client):
    df = pd.DataFrame({"x": np.arange(100000), "y": np.random.rand(100000)})
    oid = client.put(df)
    got = client.get(oid)
    col = got["y"]
    values = got["x"].values
    del got
    client.delete(oid)
    gc.collect()
    assert np.array_equal(col.values, df["y"].values)
    assert np.array_equal(values, df["x"].values)
    assert in_use(client) > 0
    del col, values
    gc.collect()
    assert in_use(client) == 0


def test_close_client_while_arrays_live(daemon):
    c = vineyard.connect(daemon.socket)
    a = np.random.rand(500000)
    got = c.get(c.put(a))
    small = c.get(c.put(np.arange(5)))
    c.close()
    with pytest.raises(vineyard.ConnectionLost, match="closed"):
        c.put(1)
    watcher = vineyard.connect(daemon.socket)
    assert watcher.status()["clients"] == 2  # still held by the arrays
    assert np.array_equal(got, a) and small.tolist() == [0, 1, 2, 3, 4]
    del got, small
    gc.collect()
    assert watcher.status()["clients"] == 1
    watcher.close()


def test_context_manager(daemon):
    with vineyard.connect(daemon.socket) as c:
        oid = c.put("x")
        assert c.get(oid) == "x"
    assert c.closed
    with pytest.raises(vineyard.ConnectionLost):
        c.get(oid)


def test_release_unmaps(client):
    """When the last array goes, the blob's mapping goes from this process
    (so a deleted object's memory really returns to the system)."""
    from test_zero_copy import mapping_of
    oid = client.put(np.random.rand(1 << 18))
    a = client.get(oid)
    b = client.get(oid)
    addr = a.__array_interface__["data"][0]
    assert b.__array_interface__["data"][0] == addr  # mapped once
    assert mapping_of(addr)[1].startswith("/memfd:vineyard")
    del a
    gc.collect()
    assert mapping_of(addr)[1].startswith("/memfd:vineyard")  # b holds it
    del b
    gc.collect()
    m = mapping_of(addr)
    assert m is None or not m[1].startswith("/memfd:vineyard")
    client.delete(oid)
    assert client.status()["deleted_in_use"] == 0
