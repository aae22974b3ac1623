"""Upstream Vineyard's module layout and names: vineyard.core, vineyard.data,
vineyard._C, vineyard.shared_memory; ObjectMeta as upstream builds it;
builder and resolver contexts."""
import numpy as np
import pytest

import vineyard


def test_modules_and_names_import():
    from vineyard._C import (Blob, BlobBuilder, Object, ObjectID,  # noqa
                             ObjectMeta, ObjectName, RemoteBlob)
    from vineyard._C import ObjectNotExistsException, InvalidException
    from vineyard.core import (builder_context, default_builder_context,
                               default_resolver_context, resolver_context)
    from vineyard.core.client import Client
    from vineyard.core.builder import BuilderContext
    from vineyard.core.resolver import ResolverContext
    from vineyard.data import register_builtin_types
    from vineyard.data.pickle import PickledReader, PickledWriter  # noqa
    from vineyard.data.dataframe import NDArrayArray  # noqa
    from vineyard.shared_memory import ShareableList, SharedMemory  # noqa
    assert ObjectMeta is vineyard.ObjectMeta and Client is vineyard.Client
    assert vineyard.IPCClient is Client
    assert ObjectNotExistsException is vineyard.ObjectNotExists
    assert issubclass(InvalidException, vineyard.Error)
    assert isinstance(default_builder_context, BuilderContext)
    assert isinstance(default_resolver_context, ResolverContext)
    assert callable(builder_context) and callable(resolver_context)
    # Registering the shipped types again changes nothing.
    register_builtin_types(default_builder_context, default_resolver_context)
    assert ObjectID() == 0 and ObjectName("x") == "x"


def test_version_is_the_library_version():
    text = open(vineyard._capi.LIBRARY_PATH.replace(
        "build/libvineyard.so.0", "Makefile")).read() \
        if vineyard._capi.LIBRARY_PATH.endswith("build/libvineyard.so.0") \
        else None
    assert vineyard.__version__ == vineyard._capi.version().decode()
    if text is not None:
        assert "VERSION = %s\n" % vineyard.__version__ in text


def test_object_meta_as_upstream_builds_it():
    meta = vineyard.ObjectMeta()
    assert meta.typename is None and meta["nbytes"] == 0
    meta["typename"] = "vineyard::Pair"
    meta["nbytes"] = 0
    meta["a"] = 1
    meta["names"] = ["x", "y"]
    meta["spec"] = {"k": [1.5, "v"]}
    assert meta.typename == "vineyard::Pair" and meta["a"] == 1
    assert "a" in meta and "typename" in meta and "b" not in meta
    assert meta.get("b") is None and meta.get("b", 7) == 7
    with pytest.raises(KeyError):
        meta["b"]
    assert not meta.isglobal and meta.islocal
    meta.set_global(True)
    assert meta.isglobal
    meta.set_global(False)
    assert not meta.isglobal
    assert vineyard.ObjectMeta(True).isglobal
    assert vineyard.ObjectMeta(global_=True).isglobal
    assert vineyard.ObjectMeta(a=1)["a"] == 1
    keys = [k for k, _ in meta.items()]
    assert keys[:2] == ["typename", "nbytes"] and "a" in keys
    with pytest.raises(vineyard.InvalidArgument):
        meta["typename"] = ""


def test_object_meta_members_and_round_trip(client):
    x = client.put(1.5)
    y = client.put("two")
    meta = vineyard.ObjectMeta()
    meta["typename"] = "vineyard::Pair"
    meta["a"] = 1
    meta["spec"] = {"k": [1.5, "v"]}
    meta.add_member("first_", x)
    meta.add_member("second_", client.get_meta(y))
    meta.add_member("third_", client.get_object(x))
    meta["fourth_"] = client.get_meta(x)
    with pytest.raises(vineyard.InvalidArgument):
        meta.add_member("first_", y)
    rmeta = client.create_metadata(meta)
    assert meta.id == rmeta.id and isinstance(rmeta.id, vineyard.ObjectID)
    assert rmeta.typename == "vineyard::Pair" and rmeta["a"] == 1
    assert rmeta.signature == int(rmeta.id)
    import json
    assert json.loads(rmeta["spec"]) == {"k": [1.5, "v"]}  # JSON text
    got = client.get_meta(rmeta.id)
    assert isinstance(got["first_"], vineyard.ObjectMeta)
    assert got["first_"].id == x and got["second_"].id == y
    assert got["third_"].id == x and got["fourth_"].id == x
    assert got["first_"]["typename"] == "vineyard::Scalar<double>"
    members = {k: v for k, v in got.items()
               if isinstance(v, vineyard.ObjectMeta)}
    assert sorted(members) == ["first_", "fourth_", "second_", "third_"]
    assert client.get(got.get_member("first_").id) == 1.5
    assert got.get_member("second_").typename == "vineyard::Scalar<std::string>"
    # An ObjectMeta without a typename is refused with a clear error.
    with pytest.raises(vineyard.InvalidArgument, match="typename"):
        client.create_metadata(vineyard.ObjectMeta())


def test_upstream_style_builder_and_resolver(client):
    from vineyard.core import (builder_context, default_builder_context,
                               resolver_context)

    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

    def build_point(client, value, builder=None, **kw):
        assert builder is not None
        meta = vineyard.ObjectMeta()
        meta["typename"] = "demo::Point"
        meta["x"] = value.x
        meta.add_member("y_", builder.run(client, value.y))
        buf = client.create_blob(8)
        buf.copy(0, np.int64(value.x * 10).tobytes())
        meta.add_member("raw_", buf.seal(client))
        return client.create_metadata(meta)

    def resolve_point(obj, resolver):
        raw = np.frombuffer(obj.member("raw_"), np.int64)[0]
        return ("point", obj.meta["x"], resolver.run(obj.member("y_")),
                int(raw))

    with builder_context({Point: build_point}) as b:
        assert b.parent_context is default_builder_context
        oid = client.put(Point(3, "why"))
    with pytest.raises(Exception):  # no builder outside: pickling fails
        client.put(Point(3, "why"))
    with resolver_context({"demo::Point": resolve_point}):
        assert client.get(oid) == ("point", 3, "why", 30)
    # Outside the context the object comes back as itself.
    obj = client.get(oid)
    assert isinstance(obj, vineyard.Object) and obj.typename == "demo::Point"
    # A resolver given to get() directly.
    assert client.get(oid, resolver=lambda o: o.meta["x"]) == 3
    # A builder given to put() directly.
    got = client.put(Point(1, 2), builder=build_point)
    assert client.get_meta(got)["x"] == 1


def test_contexts_are_per_thread_and_nest():
    from vineyard.core import builder_context
    from vineyard.core.builder import get_current_builders
    import threading
    seen = []
    with builder_context({complex: lambda c, v: None}) as outer:
        with builder_context() as inner:
            assert inner.parent_context is outer
            assert get_current_builders() is inner
            t = threading.Thread(target=lambda: seen.append(
                get_current_builders()))
            t.start()
            t.join(30)
        assert get_current_builders() is outer
    assert seen == [vineyard.default_builder_context]
