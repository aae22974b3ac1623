"""The builders and resolvers shipped with vineyard: numpy arrays
(tensor), Python's own types (builtin), the pickle fallback (pickled) and
pandas (loaded on first use, so importing vineyard does not import
pandas). They are registered in the default contexts on import;
register_builtin_types() registers them in other contexts too.

The module names upstream Vineyard users import from are here as well:
base, default, tensor, dataframe, series, index and pickle
(PickledReader, PickledWriter).
"""
from . import pickled, tensor, builtin  # noqa: F401  (they register)
from ..core.builder import default_builder_context
from ..core.resolver import default_resolver_context, lazy_resolver

for _prefix in ("vineyard::DataFrame", "vineyard::Series",
                "vineyard::RangeIndex", "vineyard::Index"):
    lazy_resolver(_prefix, "vineyard.data.pandas")


def register_builtin_types(builder_ctx=None, resolver_ctx=None):
    """Registers every shipped builder in builder_ctx and resolver in
    resolver_ctx (either may be None). The default contexts have them
    already; registering again changes nothing."""
    for mod in (pickled, builtin, tensor):
        mod.register_types(builder_ctx, resolver_ctx)
    if builder_ctx is default_builder_context and \
            resolver_ctx in (None, default_resolver_context):
        return  # pandas registers itself there on first use
    try:
        from . import pandas
    except ImportError:
        return
    pandas.register_types(builder_ctx, resolver_ctx)


__all__ = ["register_builtin_types"]
