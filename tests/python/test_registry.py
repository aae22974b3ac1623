"""Builders and resolvers registered by users."""
import numpy as np
import pytest

import vineyard


class Point:
    def __init__(self, x, y, payload):
        self.x, self.y, self.payload = x, y, payload


class Point3(Point):
    pass


def build_point(value, ctx, **kw):
    meta = vineyard.ObjectMeta("my::Point")
    meta["x"], meta["y"] = value.x, value.y
    meta["scale"] = kw.get("scale", 1)
    meta.add_member("payload_", ctx.build(value.payload))
    return meta


def resolve_point(obj, ctx, **kw):
    return Point(obj["x"] * obj["scale"], obj["y"],
                 ctx.resolve(obj.member("payload_")))


@pytest.fixture
def point_registered():
    vineyard.register_builder(Point, build_point)
    vineyard.register_resolver("my::Point", resolve_point)
    yield
    vineyard.unregister_builder(Point)
    vineyard.unregister_resolver("my::Point")


def test_custom_builder_and_resolver(client, point_registered):
    p = Point(1.5, -2, np.arange(6).reshape(2, 3))
    oid = client.put(p, scale=2)  # extra keywords reach the builder
    meta = client.get_meta(oid)
    assert meta.typename == "my::Point" and meta["x"] == 1.5
    assert meta.members["payload_"].typename == "vineyard::Tensor<int64>"
    got = client.get(oid)
    assert type(got) is Point and got.x == 3.0 and got.y == -2
    assert np.array_equal(got.payload, p.payload)
    # Subclasses use the builder of their base unless they have their own.
    assert type(client.get(client.put(Point3(0, 0, None)))) is Point
    # Inside containers too.
    assert client.get(client.put([p]))[0].y == -2


def test_without_resolver_an_object_comes_back(client, point_registered):
    oid = client.put(Point(1, 2, "payload"))
    vineyard.unregister_resolver("my::Point")
    obj = client.get(oid)
    assert isinstance(obj, vineyard.Object)
    assert obj.typename == "my::Point" and obj.id == oid
    assert obj["x"] == 1 and obj.fields["y"] == 2
    assert obj.member_names == ["payload_"]
    assert obj.member("payload_").typename == "vineyard::Scalar<std::string>"


def test_longest_prefix_wins(client):
    vineyard.register_resolver("my::", lambda o, ctx, **kw: "generic")
    vineyard.register_resolver("my::Special", lambda o, ctx, **kw: "special")
    try:
        a = client.create(vineyard.ObjectMeta("my::Thing"))
        b = client.create(vineyard.ObjectMeta("my::Special<int>"))
        assert client.get(a) == "generic" and client.get(b) == "special"
    finally:
        vineyard.unregister_resolver("my::")
        vineyard.unregister_resolver("my::Special")


def test_builder_may_return_an_existing_object(client):
    class Ref:
        def __init__(self, oid):
            self.oid = oid
    vineyard.register_builder(Ref, lambda v, ctx, **kw: v.oid)
    try:
        target = client.put("shared")
        assert client.put(Ref(target), name="ref") == target
        assert client.get(name="ref") == "shared"
        combined = client.put([Ref(target), Ref(target)])
        assert client.get(combined) == ("shared", "shared")
    finally:
        vineyard.unregister_builder(Ref)


def test_override_a_shipped_resolver(client):
    oid = client.put(np.arange(4))
    vineyard.register_resolver("vineyard::Tensor",
                               lambda o, ctx, **kw: o["shape_"])
    try:
        assert client.get(oid) == [4]
    finally:
        from vineyard.data.tensor import resolve_tensor
        vineyard.register_resolver("vineyard::Tensor", resolve_tensor)
    assert client.get(oid).tolist() == [0, 1, 2, 3]


def test_create_with_blobs_and_existing_members(client):
    meta = vineyard.ObjectMeta("my::Raw", {"n": 3, "tags": ["a", "b"],
                                           "ok": True, "none": None,
                                           "ratio": 0.25, "ids": [1, -2]})
    meta.add_member("bytes_", b"abc")
    meta.add_member("array_", np.arange(3, dtype=np.uint16))
    meta.add_member("view_", memoryview(bytearray(b"0123456789"))[2:5])
    meta.add_member("big_", np.ones(100000))
    meta.add_member("other_", client.put("x"))
    oid = client.create(meta, name="raw")
    obj = client.get(name="raw")
    assert isinstance(obj, vineyard.Object) and obj.id == oid
    assert obj.fields == {"n": 3, "tags": ["a", "b"], "ok": True,
                          "none": None, "ratio": 0.25, "ids": [1, -2]}
    assert bytes(obj.member("bytes_").buffer) == b"abc"
    assert obj.member("array_").array(np.uint16).tolist() == [0, 1, 2]
    assert bytes(obj.member("view_").buffer) == b"234"
    assert obj.member("big_").array(np.float64).sum() == 100000
    assert obj.member("other_").typename == "vineyard::Scalar<std::string>"
    assert obj.member("big_").is_blob and obj.member("big_").nbytes == 800000
