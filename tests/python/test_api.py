"""The rest of the client API: ids, names, listing, metadata, delete,
status."""
import pickle

import numpy as np
import pytest

import vineyard
from vineyard import ObjectID


def test_object_id():
    oid = ObjectID("o0015c78883eddf1c")
    assert repr(oid) == str(oid) == "%s" % oid == "o0015c78883eddf1c"
    assert "{}".format(oid) == "o0015c78883eddf1c"
    assert int(oid) == 0x0015c78883eddf1c and oid == 0x0015c78883eddf1c
    assert ObjectID(int(oid)) == oid and ObjectID(oid) is oid
    assert ObjectID(b"o0015c78883eddf1c") == oid
    assert pickle.loads(pickle.dumps(oid)) == oid
    assert type(pickle.loads(pickle.dumps(oid))) is ObjectID
    assert {oid: 1}[ObjectID(str(oid))] == 1
    assert not oid.is_blob and ObjectID(1 << 63).is_blob
    assert repr(ObjectID(1)) == "o0000000000000001"
    for bad in ("0015c78883eddf1c", "o0015C78883EDDF1C", "o123", 2 ** 64,
                1.5, None, "o0015c78883eddf1cc"):
        with pytest.raises(vineyard.InvalidArgument):
            ObjectID(bad)


def test_names(client):
    a, b = client.put(1), client.put(2)
    client.put_name(a, "one")
    client.put_name(b, "two")
    assert client.get_name("one") == a
    assert client.list_names() == {"one": a, "two": b}
    assert client.list_names("t*") == {"two": b}
    client.put_name(b, "one")  # re-points
    assert client.get(name="one") == 2
    client.drop_name("one")
    assert client.list_names() == {"two": b}
    assert client.get(b) == 2  # the object stays
    c = client.put(3, name="three")
    assert client.get_name("three") == c
    client.delete(c)
    assert "three" not in client.list_names()  # names go with the object


def test_list_objects_and_meta(client):
    oid = client.put([np.arange(3), "s"], name="pair")
    objs = {o.id: o for o in client.list_objects()}
    assert objs[oid].typename == "vineyard::List"
    assert objs[oid].names == ("pair",) and not objs[oid].is_blob
    assert objs[oid].persisted is False
    blobs = [o for o in objs.values() if o.is_blob]
    assert len(blobs) == 1 and blobs[0].nbytes == 24
    tensors = client.list_objects("vineyard::Tensor*")
    assert [t.typename for t in tensors] == ["vineyard::Tensor<int64>"]
    meta = client.get_meta(oid)
    assert meta.id == oid and meta.typename == "vineyard::List"
    assert meta["__elements_-size"] == 2
    assert meta.members["__elements_-1"]["value_"] == "s"
    assert meta.nbytes == 24
    text = client.meta_json(oid)
    assert '"typename": "vineyard::List"' in text and '"pair"' in text


def test_delete_deep_and_shallow(client):
    a = client.put([np.arange(3), np.arange(4)])
    assert len(client.list_objects()) == 5
    assert client.delete(a) == 5
    assert client.list_objects() == []
    b = client.put([np.arange(3)])
    assert client.delete(b, deep=False) == 1
    assert len(client.list_objects()) == 2  # the tensor and its blob stay
    x, y = client.put(1), client.put(2)
    assert client.delete([x, y]) == 2


def test_status(client):
    st = client.status()
    assert st["socket"] == client.socket
    assert st["clients"] == 1 and st["objects"] == 0
    client.put(np.zeros(10000))
    st = client.status()
    assert st["objects"] >= 1 and st["payload_bytes"] == 80000
    assert st["limit_bytes"] > 0


def test_get_object_gives_raw_access(client):
    oid = client.put(np.arange(6, dtype=np.int16).reshape(2, 3))
    obj = client.get_object(oid)
    assert obj.typename == "vineyard::Tensor<int16>"
    buf = obj.member("buffer_")
    assert buf.is_blob and buf.nbytes == 12 and buf.address != 0
    assert buf.array(np.int16, (3, 2), "F").tolist() == [[0, 3], [1, 4],
                                                        [2, 5]]
    with pytest.raises(vineyard.UnsupportedType, match="needs"):
        buf.array(np.int16, (4, 4))
    with pytest.raises(vineyard.UnsupportedType, match="not a blob"):
        obj.array()
    mv = buf.buffer
    assert mv.readonly and mv.nbytes == 12
    assert obj.meta.members["buffer_"].nbytes == 12
