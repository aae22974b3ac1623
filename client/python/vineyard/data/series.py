"""Upstream's vineyard.data.series: pandas Series (kept in pandas.py)."""
from .pandas import build_series, resolve_series  # noqa: F401
from .pandas import register_types as register_series_types  # noqa: F401
