"""Zero copy: what a get returns lies in the store's shared memory, is
read-only, is never copied into private memory, and putting it again
references the same blobs instead of copying them."""
import json

import numpy as np
import pandas as pd
import pytest

from conftest import python


def mapping_of(addr):
    """The /proc/self/maps line (perms, path) of the mapping holding addr."""
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= addr < hi:
                return parts[1], parts[5].strip() if len(parts) > 5 else ""
    return None


def address(a):
    return a.__array_interface__["data"][0]


def assert_in_store(a):
    perms, path = mapping_of(address(a))
    assert perms.startswith("r-") and perms[3] == "s", perms  # shared, ro
    assert path.startswith("/memfd:vineyard"), path


def test_array_lies_in_a_shared_read_only_mapping(client):
    for n in (100, 5000, 1 << 20):  # packed small blob, own blob, bigger
        a = client.get(client.put(np.arange(n, dtype=np.int32)))
        assert_in_store(a)
        assert not a.flags.writeable and not a.flags.owndata
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 1
        with pytest.raises(ValueError):
            a.flags.writeable = True


def test_two_gets_share_the_same_memory(client):
    oid = client.put(np.random.rand(1000))
    a, b = client.get(oid), client.get(oid)
    assert address(a) == address(b)
    assert np.shares_memory(a, b)


def test_dataframe_columns_are_not_copied(client):
    df = pd.DataFrame({"a": np.arange(10000, dtype=np.int64),
                       "b": np.random.rand(10000),
                       "c": np.arange(10000) % 3 == 0})
    got = client.get(client.put(df))
    for name in df.columns:
        assert_in_store(got[name].values)
    # One block per column, none consolidated (copied).
    assert got._mgr.nblocks == 3
    assert np.shares_memory(got["a"].values, got._mgr.blocks[0].values)


def test_series_and_index_are_not_copied(client):
    s = pd.Series(np.random.rand(5000), index=pd.Index(np.arange(5000) * 2))
    got = client.get(client.put(s))
    assert_in_store(got.values)
    assert_in_store(got.index.values)


CONSUMER = r"""
import json, sys, vineyard
def status():
    out = {}
    with open('/proc/self/status') as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('RssAnon', 'RssShmem', 'VmRSS'):
                out[k] = int(v.split()[0]) * 1024
    return out
c = vineyard.connect(sys.argv[1])
before = status()
a = c.get(vineyard.ObjectID(sys.argv[2]))
after_get = status()
total = float(a.sum())          # touches every page
after_read = status()
print(json.dumps(dict(before=before, after_get=after_get,
                      after_read=after_read, total=total,
                      nbytes=a.nbytes)))
"""


def test_1gib_get_allocates_no_private_memory(client):
    n = (1 << 30) // 8
    a = np.ones(n)
    oid = client.put(a)
    del a
    p = python(CONSUMER, client.socket, str(oid))
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    r = json.loads(out)
    assert r["nbytes"] == 1 << 30 and r["total"] == n
    grew_anon = r["after_read"]["RssAnon"] - r["before"]["RssAnon"]
    grew_shmem = r["after_read"]["RssShmem"] - r["before"]["RssShmem"]
    assert grew_anon < 64 << 20, r   # no private copy of the gigabyte
    assert grew_shmem >= (1 << 30) * 0.95, r  # it read the store's pages
    assert r["after_get"]["VmRSS"] - r["before"]["VmRSS"] < 64 << 20, r


def buffer_ids(meta):
    """Blob ids of every Tensor's buffer_ in a meta tree."""
    out = []
    if "buffer_" in meta.members:
        out.append(meta.members["buffer_"].id)
    for name, m in sorted(meta.members.items()):
        if name != "buffer_":
            out += buffer_ids(m)
    return out


def test_put_again_reuses_blobs(client):
    a = np.random.rand(100000)
    first = client.put(a)
    used = client.status()["payload_bytes"]
    got = client.get(first)
    second = client.put(got)
    assert second != first
    assert buffer_ids(client.get_meta(second)) == \
        buffer_ids(client.get_meta(first))
    assert client.status()["payload_bytes"] == used  # nothing copied
    # The blob outlives the first object while the second uses it.
    client.delete(first)
    assert np.array_equal(client.get(second), a)
    # A slice is not the whole blob: it is copied.
    third = client.put(got[1:])
    assert buffer_ids(client.get_meta(third)) != buffer_ids(
        client.get_meta(second))


def test_put_again_reuses_dataframe_blobs(client):
    df = pd.DataFrame({"x": np.arange(50000), "y": np.random.rand(50000)})
    first = client.put(df)
    got = client.get(first)
    used = client.status()["payload_bytes"]
    second = client.put(got)
    assert buffer_ids(client.get_meta(second)) == \
        buffer_ids(client.get_meta(first))
    assert client.status()["payload_bytes"] == used
    third = client.put({"again": got["y"].values})
    assert client.status()["payload_bytes"] == used
    assert np.array_equal(client.get(third)["again"], df["y"].values)


def test_put_again_after_delete_copies(client):
    a = np.arange(200000)
    oid = client.put(a)
    got = client.get(oid)
    client.delete(oid)  # its blob is gone from the store (got keeps it)
    again = client.put(got)
    assert np.array_equal(client.get(again), a)


def test_pickled_values_reuse_store_arrays_too(client):
    import collections
    got = client.get(client.put(np.random.rand(100000)))
    used = client.status()["payload_bytes"]
    oid = client.put(collections.OrderedDict(a=got))  # pickled, out of band
    meta = client.get_meta(oid)
    assert meta.typename == "vineyard::Pickle"
    assert client.status()["payload_bytes"] - used < 4096  # just the stream
    assert np.array_equal(client.get(oid)["a"], got)
