"""Upstream's vineyard.data.default: the pickle fallback; here
pickled.py."""
from .pickled import register_types as register_default_types  # noqa: F401
