"""The fallback for values without a builder: pickle protocol 5 with
out-of-band buffers. vineyard::Pickle has the pickle stream as blob
member buffer_ and each out-of-band buffer (the memory of numpy arrays,
bytearrays...) as a blob member buffers_-<i>, so large arrays inside
arbitrary structures are still written once and read back zero-copy.
Unpickling runs code named by the stream: get only from stores you trust
(the socket's permissions decide who may put).
"""
import pickle

from .._types import ObjectMeta
from ..errors import UnsupportedType
from ..core.builder import default_builder_context
from ..core.resolver import default_resolver_context


def build_pickle(value, ctx, **kw):
    bufs = []
    try:
        stream = pickle.dumps(value, protocol=5, buffer_callback=bufs.append)
    except Exception as e:
        raise UnsupportedType("cannot put a %s: no builder is registered "
                              "for it and pickling failed (%s)" % (
                                  type(value).__name__, e)) from e
    t = type(value)
    meta = ObjectMeta("vineyard::Pickle")
    meta["protocol_"] = 5
    meta["pytype_"] = "%s.%s" % (t.__module__, t.__qualname__)
    meta["nbuffers_"] = len(bufs)
    meta.add_member("buffer_", stream)
    for i, b in enumerate(bufs):
        try:
            raw = b.raw()
        except BufferError:
            raw = memoryview(b).tobytes()
        meta.add_member("buffers_-%d" % i, raw)
    return meta


def resolve_pickle(obj, ctx, **kw):
    n = obj.get("nbuffers_", 0)
    bufs = [obj.member("buffers_-%d" % i).buffer for i in range(n)]
    return pickle.loads(obj.member("buffer_").buffer, buffers=bufs)


def register_types(builder_ctx=None, resolver_ctx=None):
    """Registers the fallback builder (for ``object``: anything without a
    builder of its own) and the resolver of vineyard::Pickle."""
    if builder_ctx is not None:
        builder_ctx.register_native(object, build_pickle)
    if resolver_ctx is not None:
        resolver_ctx.register_native("vineyard::Pickle", resolve_pickle)


register_types(default_builder_context, default_resolver_context)
