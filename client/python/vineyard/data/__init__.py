"""The builders and resolvers shipped with vineyard: numpy arrays
(tensor), Python's own types (builtin), the pickle fallback (pickled) and
pandas (loaded on first use, so importing vineyard does not import
pandas)."""
from . import pickled, tensor, builtin  # noqa: F401  (they register)
from ..registry import lazy_resolver

for _prefix in ("vineyard::DataFrame", "vineyard::Series",
                "vineyard::RangeIndex", "vineyard::Index"):
    lazy_resolver(_prefix, "vineyard.data.pandas")
