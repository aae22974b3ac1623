"""Upstream's vineyard.data.index: pandas indexes (kept in pandas.py)."""
from .pandas import (build_index, resolve_index,  # noqa: F401
                     resolve_range_index)
from .pandas import register_types as register_index_types  # noqa: F401
