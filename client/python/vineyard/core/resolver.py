"""Resolvers: how objects got from the store become Python values
(Client.get).

Resolvers are kept in a ResolverContext by typename prefix; the longest
registered prefix of an object's typename wins ('vineyard::Tensor' serves
'vineyard::Tensor<double>'). Two kinds live side by side:

- ours, registered with ``vineyard.register_resolver(prefix, fn)`` or
  ``ctx.register_native``: ``fn(obj, ctx, **kw)``, nested objects
  resolved with ``ctx.resolve(obj.member(name))``;
- upstream's, registered with ``ctx.register(prefix, fn)``: ``fn(obj)``,
  or ``fn(obj, resolver=ctx)`` when it takes ``resolver`` (nested objects
  then go through ``resolver.run(member)``), or ``fn(obj, resolver=ctx,
  **kw)`` when it takes keyword arguments.

An object without a resolver comes back as itself (a vineyard.Object or
Blob). ``resolver_context()`` opens a context of this thread extending the
one in effect.
"""
import contextlib
import importlib
import inspect
import threading

# Resolvers of optional libraries load on first use: prefix -> module.
_lazy_prefixes = {}
_lazy_done = set()
# Bumped by every change to any context: lookups cached under an older
# value are stale (a child sees its parents' changes).
_epoch = [0]


def lazy_resolver(prefix, module):
    """Declares that importing module registers the resolver of prefix."""
    _lazy_prefixes[prefix] = module
    _epoch[0] += 1


def _load_lazy(typename):
    for prefix, mod in list(_lazy_prefixes.items()):
        if typename.startswith(prefix) and mod not in _lazy_done:
            _lazy_done.add(mod)
            importlib.import_module(mod)
            _epoch[0] += 1


class ResolverContext:
    """A set of resolvers, stacked on a parent context."""

    def __init__(self, parent_context=None):
        self._factory = {}   # prefix -> (fn, native)
        self._parent = parent_context
        self._cache = {}     # typename -> (epoch, hit)

    @property
    def parent_context(self):
        return self._parent if self._parent is not None else self

    def register(self, typename_prefix, resolver):
        """Upstream's: resolver(obj[, resolver=ctx][, **kw]) -> value."""
        self._factory[typename_prefix] = (resolver, False)
        _epoch[0] += 1

    def register_native(self, typename_prefix, fn):
        """Ours: fn(obj, ctx, **kw) -> value."""
        self._factory[typename_prefix] = (fn, True)
        _epoch[0] += 1

    def unregister(self, typename_prefix):
        self._factory.pop(typename_prefix, None)
        _epoch[0] += 1

    def lookup(self, typename):
        """(fn, native) of the longest matching prefix (a child's entry
        before its parent's for the same prefix), or None."""
        cached = self._cache.get(typename)
        if cached is not None and cached[0] == _epoch[0]:
            return cached[1]
        _load_lazy(typename)
        best, hit = -1, None
        ctx = self
        while ctx is not None:
            for prefix, entry in ctx._factory.items():
                if len(prefix) > best and typename.startswith(prefix):
                    best, hit = len(prefix), entry
            ctx = ctx._parent
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[typename] = (_epoch[0], hit)
        return hit

    def run(self, obj, **kw):
        """The value of obj (upstream's run)."""
        client = kw.pop("__vineyard_client", None)
        if client is None:
            client = getattr(getattr(obj, "_tree", None), "client", None)
        return ResolveContext(client, kw, self).resolve(obj)

    __call__ = run

    def extend(self, resolvers=None):
        """A child context with resolvers (upstream style) added."""
        child = ResolverContext(self)
        for prefix, fn in (resolvers or {}).items():
            child.register(prefix, fn)
        return child

    def __repr__(self):
        return "<ResolverContext %s>" % sorted(self._factory)


default_resolver_context = ResolverContext()
_local = threading.local()


def get_current_resolvers():
    """The resolver context in effect in this thread."""
    return getattr(_local, "current", None) or default_resolver_context


@contextlib.contextmanager
def resolver_context(resolvers=None, base=None):
    """A context extending base (default: the one in effect) with
    resolvers ({prefix: upstream-style resolver}), in effect in this thread
    inside the with block."""
    saved = get_current_resolvers()
    ctx = (base or saved).extend(resolvers)
    _local.current = ctx
    try:
        yield ctx
    finally:
        _local.current = saved


def _call_upstream(fn, obj, ctx, kw):
    try:
        spec = inspect.getfullargspec(fn)
    except TypeError:
        return fn(obj)
    if spec.varkw is not None:
        return fn(obj, resolver=ctx.resolvers, **kw)
    if "resolver" in spec.args or "resolver" in spec.kwonlyargs:
        return fn(obj, resolver=ctx.resolvers)
    return fn(obj)


class ResolveContext:
    """Handed to our resolvers: ctx.resolve(obj) resolves a member;
    ctx.client is the Client doing the get; ctx.resolvers the
    ResolverContext used."""

    __slots__ = ("client", "kw", "resolvers")

    def __init__(self, client, kw, resolvers=None):
        self.client = client
        self.kw = kw
        self.resolvers = resolvers or get_current_resolvers()

    def resolve(self, obj, **kw):
        hit = self.resolvers.lookup(obj.typename)
        if hit is None:
            return obj
        fn, native = hit
        args = dict(self.kw)
        args.update(kw)
        if native:
            return fn(obj, self, **args)
        return _call_upstream(fn, obj, self, args)


# ---- our registration functions (vineyard.register_resolver...) ----

def register_resolver(prefix, fn):
    """Uses fn(obj, ctx, **kw) -> value to get objects whose typename
    starts with prefix (the longest registered prefix wins)."""
    default_resolver_context.register_native(prefix, fn)


def unregister_resolver(prefix):
    default_resolver_context.unregister(prefix)
