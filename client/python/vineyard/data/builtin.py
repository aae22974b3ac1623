"""Python's own types:

  None, bool, int, float  vineyard::Scalar<none|bool|int64|double>, field
                          value_ (ints beyond 64 bits: Scalar<bigint>, the
                          decimal digits as text)
  str                     vineyard::Scalar<std::string>: field value_, or
                          for long text (or text a field cannot hold) blob
                          member buffer_ in UTF-8
  bytes                   vineyard::Scalar<bytes>, blob member buffer_
  tuple, list             vineyard::Tuple, vineyard::List: field
                          __elements_-size, members __elements_-<i>;
                          both come back as a tuple, as upstream
                          Vineyard gives its sequences back
  dict                    vineyard::Dict: members __elements_-key-<i> and
                          __elements_-value-<i>
  memoryview              one blob (vineyard::Blob), got back as a read-only
                          memoryview of the store's memory

Only these exact types: subclasses (bool-like enums, namedtuples,
OrderedDict...) and numpy scalars are pickled so they come back as
themselves. Containers of more than CONTAINER_MAX items are pickled as a
whole (arrays inside still travel out of band, zero-copy); a list is
pickled as a tuple so it comes back a tuple whatever its length (lists
inside a pickled value are pickle's and come back as lists).
"""
from .._types import ObjectMeta
from ..core.builder import default_builder_context
from ..core.resolver import default_resolver_context
from .pickled import build_pickle

import numpy as np

CONTAINER_MAX = 1024
STR_FIELD_MAX = 1024
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _scalar(kind, value):
    meta = ObjectMeta("vineyard::Scalar<%s>" % kind)
    meta["type_"] = kind
    meta["value_"] = value
    return meta


def build_none(value, ctx, **kw):
    return _scalar("none", None)


def build_bool(value, ctx, **kw):
    return _scalar("bool", value)


def build_int(value, ctx, **kw):
    if _INT64[0] <= value <= _INT64[1]:
        return _scalar("int64", value)
    return _scalar("bigint", str(value))


def build_float(value, ctx, **kw):
    return _scalar("double", value)


def build_str(value, ctx, **kw):
    if len(value) <= STR_FIELD_MAX and "\0" not in value:
        try:
            value.encode("utf-8")
            return _scalar("std::string", value)
        except UnicodeEncodeError:
            pass
    meta = ObjectMeta("vineyard::Scalar<std::string>")
    meta["type_"] = "std::string"
    meta.add_member("buffer_", value.encode("utf-8", "surrogatepass"))
    return meta


def build_bytes(value, ctx, **kw):
    meta = ObjectMeta("vineyard::Scalar<bytes>")
    meta["type_"] = "bytes"
    meta.add_member("buffer_", value)
    return meta


def _sequence(typename, value, ctx, kw):
    if len(value) > CONTAINER_MAX or ctx.depth > 32:
        return build_pickle(value, ctx, **kw)
    meta = ObjectMeta(typename)
    meta["__elements_-size"] = len(value)
    for i, v in enumerate(value):
        meta.add_member("__elements_-%d" % i, ctx.build(v))
    return meta


def build_tuple(value, ctx, **kw):
    return _sequence("vineyard::Tuple", value, ctx, kw)


def build_list(value, ctx, **kw):
    if len(value) > CONTAINER_MAX or ctx.depth > 32:
        return build_pickle(tuple(value), ctx, **kw)
    return _sequence("vineyard::List", value, ctx, kw)


def build_dict(value, ctx, **kw):
    if len(value) > CONTAINER_MAX or ctx.depth > 32:
        return build_pickle(value, ctx, **kw)
    meta = ObjectMeta("vineyard::Dict")
    meta["__elements_-size"] = len(value)
    for i, (k, v) in enumerate(value.items()):
        meta.add_member("__elements_-key-%d" % i, ctx.build(k))
        meta.add_member("__elements_-value-%d" % i, ctx.build(v))
    return meta


def resolve_scalar(obj, ctx, **kw):
    kind = obj.typename[len("vineyard::Scalar<"):-1]
    if kind == "none":
        return None
    if kind == "bool":
        return bool(obj["value_"])
    if kind == "int64":
        return obj.int("value_")
    if kind == "bigint":
        return int(obj["value_"])
    if kind == "double":
        return obj.double("value_")
    if kind == "std::string":
        if obj.has_member("buffer_"):
            return bytes(obj.member("buffer_").buffer).decode(
                "utf-8", "surrogatepass")
        return obj["value_"]
    if kind == "bytes":
        return bytes(obj.member("buffer_").buffer)
    return obj  # unknown kind: hand the object over


def _elements(obj, ctx):
    n = obj["__elements_-size"]
    return [ctx.resolve(obj.member("__elements_-%d" % i)) for i in range(n)]


def resolve_tuple(obj, ctx, **kw):
    return tuple(_elements(obj, ctx))


def resolve_list(obj, ctx, **kw):
    # Upstream stores lists and tuples alike and gives a tuple back; code
    # written for it compares get(put(a_list)) with tuple(a_list).
    return tuple(_elements(obj, ctx))


def resolve_dict(obj, ctx, **kw):
    n = obj["__elements_-size"]
    return {ctx.resolve(obj.member("__elements_-key-%d" % i)):
            ctx.resolve(obj.member("__elements_-value-%d" % i))
            for i in range(n)}


def build_memoryview(value, ctx, **kw):
    """A buffer without a type of its own is stored as one blob (got back
    as a read-only memoryview)."""
    return ctx.client.put_blob(value)


def register_types(builder_ctx=None, resolver_ctx=None):
    """Registers this module's builders and resolvers in the contexts."""
    if builder_ctx is not None:
        for t, f in ((type(None), build_none), (bool, build_bool),
                     (int, build_int), (float, build_float),
                     (str, build_str), (bytes, build_bytes),
                     (tuple, build_tuple), (list, build_list),
                     (dict, build_dict), (memoryview, build_memoryview)):
            builder_ctx.register_native(t, f, subclasses=False)
        builder_ctx.register_native(np.generic, build_pickle)
    if resolver_ctx is not None:
        resolver_ctx.register_native("vineyard::Scalar<", resolve_scalar)
        resolver_ctx.register_native("vineyard::Tuple", resolve_tuple)
        resolver_ctx.register_native("vineyard::List", resolve_list)
        resolver_ctx.register_native("vineyard::Dict", resolve_dict)


register_types(default_builder_context, default_resolver_context)
