"""Builders: how Python values become objects (Client.put).

Builders are kept in a BuilderContext, looked up by the value's type, then
along its MRO (``object`` last: the pickle fallback). Two kinds live side
by side in one context:

- ours, registered with ``vineyard.register_builder(type, fn)`` or
  ``ctx.register_native``: ``fn(value, ctx, **kw)`` returns an ObjectMeta
  that is not created yet; nested values are built with
  ``ctx.build(value)``, and put() then creates every new blob and the
  whole tree in two round trips;
- upstream's, registered with ``ctx.register(type, fn)``:
  ``fn(client, value, **kw)`` (plus ``builder=`` when it takes it) stores
  what it needs itself (create_blob, create_metadata, put) and returns the
  created ObjectMeta, Object or ObjectID.

``builder_context()`` opens a context of this thread that extends the one
in effect (``with builder_context({MyType: fn}): ...``); a context sees
what its parents register later too.
"""
import contextlib
import importlib
import inspect
import sys
import threading

from .._types import ObjectID, ObjectMeta, _is_object
from ..errors import UnsupportedType

# Builders of optional libraries load on first use, so that `import
# vineyard` does not import pandas: top-level module -> our module.
_lazy_modules = {"pandas": "vineyard.data.pandas"}
_lazy_done = set()


def load_lazy(module):
    if module not in _lazy_done:
        _lazy_done.add(module)
        importlib.import_module(module)


def _takes(fn, name):
    try:
        spec = inspect.getfullargspec(fn)
    except TypeError:
        return False
    return name in spec.args or name in spec.kwonlyargs or \
        spec.varkw is not None


class BuilderContext:
    """A set of builders, stacked on a parent context."""

    def __init__(self, parent_context=None):
        self._factory = {}   # type -> (fn, native, subclasses)
        self._parent = parent_context

    @property
    def parent_context(self):
        return self._parent if self._parent is not None else self

    def register(self, type_id, builder):
        """Upstream's: builder(client, value, **kw) stores value and returns
        the created ObjectMeta, Object or ObjectID."""
        self._factory[type_id] = (builder, False, True)

    def register_native(self, type_id, fn, subclasses=True):
        """Ours: fn(value, ctx, **kw) returns an ObjectMeta to create (or an
        ObjectID). With subclasses, it also serves subclasses of type_id
        that have no builder of their own."""
        self._factory[type_id] = (fn, True, subclasses)

    def unregister(self, type_id):
        self._factory.pop(type_id, None)

    def _get(self, t):
        ctx = self
        while ctx is not None:
            hit = ctx._factory.get(t)
            if hit is not None:
                return hit
            ctx = ctx._parent
        return None

    def lookup(self, value):
        """(fn, native) for value, or None."""
        t = type(value)
        hit = self._get(t)
        if hit is not None:
            return hit
        top = t.__module__.partition(".")[0]
        mod = _lazy_modules.get(top)
        if mod is not None and top in sys.modules and mod not in _lazy_done:
            load_lazy(mod)
            hit = self._get(t)
            if hit is not None:
                return hit
        for base in t.__mro__[1:]:
            hit = self._get(base)
            if hit is not None and hit[2]:
                return hit
        return None

    def run(self, client, value, **kw):
        """Stores value with these builders (upstream's run); returns what
        the builder gave: an ObjectMeta (created) or an ObjectID."""
        ctx = BuildContext(client, kw, self)
        out = ctx.build(value)
        if isinstance(out, ObjectMeta):
            return client.create_metadata(out)
        return out

    __call__ = run

    def extend(self, builders=None):
        """A child context with builders (upstream style) added."""
        child = BuilderContext(self)
        for t, fn in (builders or {}).items():
            child.register(t, fn)
        return child

    def __repr__(self):
        return "<BuilderContext %s>" % sorted(
            getattr(t, "__name__", str(t)) for t in self._factory)


default_builder_context = BuilderContext()
_local = threading.local()


def get_current_builders():
    """The builder context in effect in this thread."""
    return getattr(_local, "current", None) or default_builder_context


@contextlib.contextmanager
def builder_context(builders=None, base=None):
    """A context extending base (default: the one in effect) with builders
    ({type: upstream-style builder}), in effect in this thread inside the
    with block."""
    saved = get_current_builders()
    ctx = (base or saved).extend(builders)
    _local.current = ctx
    try:
        yield ctx
    finally:
        _local.current = saved


class BuildContext:
    """Handed to our builders: ctx.build(value) builds a nested value;
    ctx.client is the Client doing the put; ctx.kw the put's extra keyword
    arguments; ctx.builders the BuilderContext used."""

    __slots__ = ("client", "kw", "depth", "builders")

    def __init__(self, client, kw, builders=None):
        self.client = client
        self.kw = kw
        self.depth = 0
        self.builders = builders or get_current_builders()

    def build(self, value, **kw):
        """An ObjectMeta to create, or the ObjectID of a stored object."""
        hit = self.builders.lookup(value)
        if hit is None:
            raise UnsupportedType("no builder for %s" % type(value).__name__)
        fn, native = hit[0], hit[1]
        args = dict(self.kw)
        args.update(kw)
        self.depth += 1
        try:
            if native:
                meta = fn(value, self, **args)
            else:
                if _takes(fn, "builder"):
                    args["builder"] = self.builders
                meta = fn(self.client, value, **args)
        finally:
            self.depth -= 1
        if isinstance(meta, ObjectMeta):
            return meta.id if meta.id is not None else meta
        if isinstance(meta, ObjectID):
            return meta
        if _is_object(meta):
            return meta.id
        raise UnsupportedType("builder %r for %s returned %r, not an "
                              "ObjectMeta, Object or ObjectID" % (
                                  fn, type(value).__name__, meta))


# ---- our registration functions (vineyard.register_builder...) ----

def register_builder(type_, fn, subclasses=True):
    """Uses fn(value, ctx, **kw) -> ObjectMeta to put values of type_ (and,
    when subclasses, of its subclasses without a builder of their own)."""
    default_builder_context.register_native(type_, fn, subclasses)


def unregister_builder(type_):
    default_builder_context.unregister(type_)


def set_fallback_builder(fn):
    """The builder of values nothing else matches (pickle)."""
    default_builder_context.register_native(object, fn, True)
