"""Upstream's vineyard.data.dataframe: the DataFrame builder and resolver
(kept in pandas.py) and NDArrayArray, a pandas column whose every row is a
numpy array (a 2-D array seen as a column of its rows).

An NDArrayArray column is stored like every extension-dtype column: pickled
with its array out of band, so the array itself travels as one blob and
comes back zero-copy.
"""
import numpy as np
from pandas.api.extensions import (ExtensionArray, ExtensionDtype,
                                   register_extension_dtype, take)

from .pandas import build_dataframe, resolve_dataframe  # noqa: F401
from .pandas import register_types as register_dataframe_types  # noqa: F401


@register_extension_dtype
class NDArrayDtype(ExtensionDtype):
    """The dtype of an NDArrayArray: every element is a numpy array."""

    name = "ndarray"
    type = np.ndarray
    kind = "O"
    na_value = None

    @classmethod
    def construct_array_type(cls):
        return NDArrayArray


class NDArrayArray(ExtensionArray):
    """A column of equally shaped numpy arrays, backed by one array whose
    first axis is the rows: ``NDArrayArray(np.zeros((1000, 10)))`` is 1000
    rows of 10 values."""

    def __init__(self, values, copy=False):
        values = np.array(values, copy=copy) if copy else np.asarray(values)
        if values.ndim < 1:
            raise ValueError("NDArrayArray needs at least one dimension")
        self._data = values

    @classmethod
    def _from_sequence(cls, scalars, dtype=None, copy=False):
        if isinstance(scalars, cls):
            return cls(scalars._data, copy=copy)
        return cls(np.stack([np.asarray(x) for x in scalars]))

    @classmethod
    def _from_factorized(cls, values, original):
        return cls._from_sequence(values)

    @classmethod
    def _concat_same_type(cls, to_concat):
        return cls(np.concatenate([a._data for a in to_concat]))

    @property
    def dtype(self):
        return NDArrayDtype()

    @property
    def nbytes(self):
        return self._data.nbytes

    def __len__(self):
        return len(self._data)

    def __getitem__(self, item):
        if isinstance(item, (int, np.integer)):
            return self._data[item]
        return type(self)(self._data[item])

    def __array__(self, dtype=None):
        out = np.empty(len(self), dtype=object)
        for i in range(len(self)):
            out[i] = self._data[i]
        return out

    def isna(self):
        return np.zeros(len(self), dtype=bool)

    def take(self, indices, allow_fill=False, fill_value=None):
        rows = take(np.arange(len(self)), indices, allow_fill=allow_fill,
                    fill_value=-1)
        out = self._data[np.where(rows < 0, 0, rows)]
        if allow_fill and (rows < 0).any():
            out = out.astype(np.result_type(out.dtype, np.float64))
            out[rows < 0] = np.nan if fill_value is None else fill_value
        return type(self)(out)

    def copy(self):
        return type(self)(self._data.copy())

    def __eq__(self, other):
        if isinstance(other, NDArrayArray):
            return np.array([np.array_equal(a, b) for a, b in
                             zip(self._data, other._data)])
        return NotImplemented
