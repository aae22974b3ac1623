"""vineyard.core: the client and the builder/resolver machinery, laid out
as upstream Vineyard's vineyard.core (client, builder, resolver modules;
default_builder_context, default_resolver_context, builder_context,
resolver_context)."""
import contextlib

from .builder import (BuilderContext, builder_context,
                      default_builder_context, get_current_builders)
from .client import Client
from .resolver import (ResolverContext, default_resolver_context,
                       get_current_resolvers, resolver_context)


@contextlib.contextmanager
def context(builders=None, resolvers=None, base_builder=None,
            base_resolver=None):
    """builder_context and resolver_context at once; yields both."""
    with builder_context(builders, base_builder) as b:
        with resolver_context(resolvers, base_resolver) as r:
            yield b, r


__all__ = [
    "Client", "BuilderContext", "ResolverContext", "builder_context",
    "resolver_context", "default_builder_context", "default_resolver_context",
    "get_current_builders", "get_current_resolvers", "context",
]
