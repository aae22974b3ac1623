"""Spilling (vineyardd --spill-dir, issue 15) from Python, with upstream's
names: evict, load (pin=True), unpin, is_spilled; and a working set larger
than the store's memory read back intact; and a get of a blob the client
holds already reusing its mapping."""
import gc
import os
import time

import numpy as np
import pytest

import vineyard


def arrays(n, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.random(250_000) for _ in range(n)]  # 2 MB each


def test_working_set_larger_than_memory(make_daemon):
    d = make_daemon("--size", "8M")
    data = arrays(12)
    with vineyard.connect(d.socket) as c:
        ids = [c.put(a) for a in data]
        assert any(c.is_spilled(i) for i in ids)
        for k in list(range(12)) + [0, 11, 5]:
            assert (c.get(ids[k]) == data[k]).all()
        st = c.status()
        assert st.memory_usage <= 8 << 20


def test_evict_load_pin_unpin(make_daemon):
    d = make_daemon("--size", "16M")
    data = arrays(3, seed=2)
    with vineyard.connect(d.socket) as c:
        ids = [c.put(a) for a in data]
        assert not any(c.is_spilled(i) for i in ids)
        c.evict(ids)
        assert all(c.is_spilled(i) for i in ids)
        c.load([ids[0]], pin=True)
        assert not c.is_spilled(ids[0])
        # a pinned object stays in memory even when asked to go... by
        # pressure: fill the store around it
        more = [c.put(a) for a in arrays(8, seed=3)]
        assert not c.is_spilled(ids[0])
        c.unpin([ids[0]])
        c.evict([ids[0]])
        assert c.is_spilled(ids[0])
        for i, a in zip(ids, data):
            assert (c.get(i) == a).all()
        c.load(ids)   # no pin: back in memory, spillable again
        c.delete(ids + more)
        # arrays got above are released as Python frees them
        gc.collect()
        for _ in range(100):
            if c.status().memory_usage == 0:
                break
            time.sleep(0.05)
        assert c.status().memory_usage == 0


@pytest.mark.skipif(os.geteuid() == 65534, reason="the test runs as nobody")
def test_who_may_not_read_may_not_evict_load_or_ask(tmp_path):
    """A client that may not read an object can neither spill it, read it
    back, hold it nor learn where its bytes are; nothing moves for it. The
    TCP front without a token is nobody (65534), another user than the
    socket client's."""
    from test_tcp import start_rpc
    d, port = start_rpc(tmp_path, "--size", "16M")
    try:
        data = arrays(2, seed=4)
        with vineyard.connect(d.socket) as own, \
                vineyard.connect("127.0.0.1", port) as nobody:
            private = own.put(data[0])              # 0640: not nobody's
            shared = own.put(data[1], mode=0o644)   # others read it
            calls = (lambda: nobody.evict([private]),
                     lambda: nobody.load([private]),
                     lambda: nobody.load([private], pin=True),
                     lambda: nobody.unpin([private]),
                     lambda: nobody.is_spilled(private),
                     # all or nothing: a readable id beside it moves neither
                     lambda: nobody.evict([shared, private]))
            for call in calls:
                with pytest.raises(vineyard.PermissionDenied) as e:
                    call()
                assert str(private) in str(e.value), e.value
            assert not own.is_spilled(private)
            assert not own.is_spilled(shared)
            # spilled by its owner, it stays on disk whatever nobody asks
            own.evict([private])
            spilled = own.status()["spilled_bytes"]
            assert spilled >= data[0].nbytes
            for call in calls[1:4]:
                with pytest.raises(vineyard.PermissionDenied):
                    call()
            with pytest.raises(vineyard.PermissionDenied):
                nobody.get(private)
            assert own.is_spilled(private)
            assert own.status()["spilled_bytes"] == spilled
            # what nobody may read, it may spill and read back
            nobody.evict([shared])
            assert nobody.is_spilled(shared)
            nobody.load([shared])
            assert not nobody.is_spilled(shared)
            assert (own.get(private) == data[0]).all()
    finally:
        assert d.stop() in (0, None), d.log_text()


def test_errors(make_daemon, tmp_path):
    d = make_daemon("--size", "16M", "--spill-dir", "none")
    with vineyard.connect(d.socket) as c:
        oid = c.put(arrays(1)[0])
        with pytest.raises(vineyard.Error) as e:
            c.evict([oid])
        assert "spill" in str(e.value)
        assert not c.is_spilled(oid)
        with pytest.raises(vineyard.ObjectNotExists):
            c.is_spilled(vineyard.ObjectID("o0000000000000001"))
        with pytest.raises(vineyard.ObjectNotExists):
            c.load([vineyard.ObjectID("o0000000000000001")])


def test_get_of_a_held_blob_reuses_its_mapping(client):
    a = np.arange(100_000, dtype="i8")
    oid = client.put(a)
    first = client.get(oid)
    again = client.get(oid)   # no descriptor, no new mmap: the same pages
    assert (again == a).all()
    assert again.__array_interface__["data"][0] == \
        first.__array_interface__["data"][0]
    del first, again
    assert (client.get(oid) == a).all()
