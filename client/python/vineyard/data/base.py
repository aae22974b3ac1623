"""Upstream's vineyard.data.base: Python's own types; here builtin.py."""
from .builtin import register_types as register_base_types  # noqa: F401
