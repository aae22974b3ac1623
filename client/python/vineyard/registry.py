"""Builders and resolvers: how Python values become objects and back.

A builder turns a value into an ObjectMeta::

    def build_point(value, ctx, **kw):
        meta = vineyard.ObjectMeta('my::Point')
        meta['x'], meta['y'] = value.x, value.y
        meta.add_member('payload_', ctx.build(value.payload))
        return meta
    vineyard.register_builder(Point, build_point)

Builders are looked up by the value's type, then along its MRO for those
registered with subclasses=True. A builder may also return the ObjectID of
an existing object. ctx.build(value) builds a nested value (returning its
ObjectMeta, or an ObjectID); ctx.client is the Client.

A resolver turns an object got from the store into a value::

    def resolve_point(obj, ctx, **kw):
        return Point(obj['x'], obj['y'], ctx.resolve(obj.member('payload_')))
    vineyard.register_resolver('my::Point', resolve_point)

Resolvers are looked up by the longest registered prefix of the typename
('vineyard::Tensor' serves 'vineyard::Tensor<double>'). An object without
a resolver comes back as a vineyard.Object.

Values without a builder are pickled (protocol 5, out-of-band buffers
stored as blobs, so arrays inside them still come back zero-copy).
"""
import importlib
import sys

from ._types import ObjectID, ObjectMeta
from .errors import UnsupportedType

_builders = {}        # type -> (fn, subclasses)
_resolvers = {}       # typename prefix -> fn
_resolver_cache = {}  # typename -> fn or None
_fallback = [None]    # the builder used when nothing matches (pickle)

# Builders and resolvers of optional libraries load on first use, so that
# `import vineyard` does not import pandas.
_lazy_modules = {"pandas": "vineyard.data.pandas"}
_lazy_prefixes = {}   # typename prefix -> module registering it
_lazy_done = set()


def register_builder(type_, fn, subclasses=True):
    """Uses fn(value, ctx, **kw) -> ObjectMeta to put values of type_ (and,
    when subclasses, of its subclasses without a builder of their own)."""
    _builders[type_] = (fn, subclasses)


def register_resolver(prefix, fn):
    """Uses fn(obj, ctx, **kw) -> value to get objects whose typename
    starts with prefix (the longest registered prefix wins)."""
    _resolvers[prefix] = fn
    _resolver_cache.clear()


def unregister_builder(type_):
    _builders.pop(type_, None)


def unregister_resolver(prefix):
    _resolvers.pop(prefix, None)
    _resolver_cache.clear()


def set_fallback_builder(fn):
    _fallback[0] = fn


def lazy_resolver(prefix, module):
    """Declares that importing module registers the resolver of prefix."""
    _lazy_prefixes[prefix] = module
    _resolver_cache.clear()


def _load_lazy(module):
    if module not in _lazy_done:
        _lazy_done.add(module)
        importlib.import_module(module)
        _resolver_cache.clear()


def find_builder(value):
    t = type(value)
    hit = _builders.get(t)
    if hit is not None:
        return hit[0]
    top = t.__module__.partition(".")[0]
    mod = _lazy_modules.get(top)
    if mod is not None and top in sys.modules and mod not in _lazy_done:
        _load_lazy(mod)
        hit = _builders.get(t)
        if hit is not None:
            return hit[0]
    for base in t.__mro__[1:]:
        hit = _builders.get(base)
        if hit is not None and hit[1]:
            return hit[0]
    return _fallback[0]


def find_resolver(typename):
    try:
        return _resolver_cache[typename]
    except KeyError:
        pass
    for prefix, mod in _lazy_prefixes.items():
        if typename.startswith(prefix) and mod not in _lazy_done:
            _load_lazy(mod)
    best, fn = -1, None
    for prefix, f in _resolvers.items():
        if len(prefix) > best and typename.startswith(prefix):
            best, fn = len(prefix), f
    _resolver_cache[typename] = fn
    return fn


class BuildContext:
    """Handed to builders: ctx.build(value) builds a nested value; ctx.client
    is the Client doing the put; ctx.kw the put's extra keyword
    arguments."""

    __slots__ = ("client", "kw", "depth")

    def __init__(self, client, kw):
        self.client = client
        self.kw = kw
        self.depth = 0

    def build(self, value, **kw):
        fn = find_builder(value)
        if fn is None:
            raise UnsupportedType("no builder for %s" % type(value).__name__)
        args = dict(self.kw)
        args.update(kw)
        self.depth += 1
        try:
            meta = fn(value, self, **args)
        finally:
            self.depth -= 1
        if not isinstance(meta, (ObjectMeta, ObjectID)):
            raise UnsupportedType("builder %r for %s returned %r, not an "
                                  "ObjectMeta or ObjectID" % (
                                      fn, type(value).__name__, meta))
        return meta


class ResolveContext:
    """Handed to resolvers: ctx.resolve(obj) resolves a member; ctx.client is
    the Client doing the get."""

    __slots__ = ("client", "kw")

    def __init__(self, client, kw):
        self.client = client
        self.kw = kw

    def resolve(self, obj, **kw):
        fn = find_resolver(obj.typename)
        if fn is None:
            return obj
        args = dict(self.kw)
        args.update(kw)
        return fn(obj, self, **args)
