"""pandas DataFrame, Series and Index.

  DataFrame   vineyard::DataFrame, as upstream Vineyard lays it out: fields
              columns_ (the labels, JSON text), __values_-size and, per
              column i, __values_-key-<i> (its label, JSON text); members
              __values_-value-<i> (the column: a Tensor for numpy dtypes)
              and index_. Labels JSON cannot carry exactly (tuples,
              timestamps, numpy scalars...) go in member columns_index_.
  Series      vineyard::Series: field name_ (JSON), members value_, index_
  RangeIndex  vineyard::RangeIndex: fields start_, stop_, step_, name_
  Index       vineyard::Index: field name_, member value_ (a Tensor), for
              plain indexes of numpy numeric dtypes; other indexes
              (MultiIndex, strings, categories, with freq...) are pickled.

A get builds the frame with one block per column straight over the
store's memory: no column is copied. Extension-dtype columns (category,
nullable ints, tz-aware times) travel pickled, their buffers out of band.
Sparse columns are the exception on the way back: as upstream Vineyard
does, a frame's sparse columns come back dense (a numpy array of the
sparse dtype's subtype, the fill value written out, NaN for float), while
a SparseArray put on its own, or as a Series, comes back sparse.
"""
import json

import numpy as np
import pandas as pd

from .._types import ObjectMeta
from ..core.builder import default_builder_context
from ..core.resolver import default_resolver_context
from .pickled import build_pickle
from .tensor import KINDS

_JSON_TYPES = (str, int, float, bool, type(None))


def _label_json(x):
    """JSON text that reads back exactly as x, or None."""
    if type(x) not in _JSON_TYPES:
        return None
    return json.dumps(x)


def _labels_json(labels):
    if any(type(x) not in _JSON_TYPES for x in labels):
        return None
    return json.dumps(labels)


def _plain_index_of(labels, like):
    """True when pd.Index(labels) gives back an index equal in type, dtype
    and name to like."""
    if like.name is not None:
        return False
    try:
        again = pd.Index(labels)
    except Exception:
        return False
    return type(again) is type(like) and again.dtype == like.dtype


def _column_values(s):
    """A column's values: numpy arrays as they are (naive datetimes and
    timedeltas unwrapped, without a copy), extension arrays otherwise."""
    values = s._values
    if not isinstance(values, np.ndarray) and \
            isinstance(values.dtype, np.dtype) and values.dtype.kind in "mM":
        values = np.asarray(values)
    return values


def build_dataframe(df, ctx, **kw):
    meta = ObjectMeta("vineyard::DataFrame")
    cols = df.columns
    labels = cols.tolist()
    text = _labels_json(labels)
    if text is not None:
        meta["columns_"] = text
    if text is None or not _plain_index_of(labels, cols):
        meta.add_member("columns_index_", ctx.build(cols))
    meta["__values_-size"] = len(labels)
    for i, label in enumerate(labels):
        key = _label_json(label)
        if key is not None:
            meta["__values_-key-%d" % i] = key
        meta.add_member("__values_-value-%d" % i,
                        ctx.build(_column_values(df.iloc[:, i])))
    meta.add_member("index_", ctx.build(df.index))
    meta["partition_index_row_"] = -1
    meta["partition_index_column_"] = -1
    meta["row_batch_index_"] = -1
    return meta


def build_series(s, ctx, **kw):
    name = _label_json(s.name)
    if name is None:
        return build_pickle(s, ctx, **kw)
    meta = ObjectMeta("vineyard::Series")
    meta["name_"] = name
    meta.add_member("value_", ctx.build(_column_values(s)))
    meta.add_member("index_", ctx.build(s.index))
    return meta


def build_index(idx, ctx, **kw):
    name = _label_json(idx.name)
    if name is not None and type(idx) is pd.RangeIndex:
        meta = ObjectMeta("vineyard::RangeIndex")
        meta["start_"], meta["stop_"], meta["step_"] = \
            int(idx.start), int(idx.stop), int(idx.step)
        meta["name_"] = name
        return meta
    values = idx._values
    if name is not None and isinstance(values, np.ndarray) and \
            values.dtype.kind in KINDS and not getattr(idx, "freq", None) \
            and type(pd.Index(values[:0])) is type(idx):
        meta = ObjectMeta("vineyard::Index")
        meta["name_"] = name
        meta.add_member("value_", ctx.build(values))
        return meta
    return build_pickle(idx, ctx, **kw)


def _frame(arrays, columns, index):
    """A DataFrame with one block per column over arrays, not copied."""
    try:
        from pandas.core.internals import BlockManager
        from pandas.core.internals.api import make_block
        blocks = []
        for i, a in enumerate(arrays):
            if isinstance(a, np.ndarray):
                a = a.reshape(1, len(a))
            try:
                blocks.append(make_block(a, placement=[i], ndim=2))
            except ValueError:
                blocks.append(make_block(a.reshape(1, len(a)),
                                         placement=[i], ndim=2))
        mgr = BlockManager(blocks, [columns, index])
        if hasattr(pd.DataFrame, "_from_mgr"):
            return pd.DataFrame._from_mgr(mgr, axes=mgr.axes)
        return pd.DataFrame(mgr)
    except (ImportError, TypeError, AttributeError):
        # pandas moved its internals: build it the public way.
        df = pd.DataFrame({i: a for i, a in enumerate(arrays)}, index=index,
                          copy=False)
        df.columns = columns
        return df


def resolve_dataframe(obj, ctx, **kw):
    n = obj["__values_-size"]
    if obj.has_member("columns_index_"):
        columns = ctx.resolve(obj.member("columns_index_"))
    else:
        columns = pd.Index(json.loads(obj["columns_"]))
    arrays = [ctx.resolve(obj.member("__values_-value-%d" % i))
              for i in range(n)]
    arrays = [a.to_dense() if isinstance(a, pd.arrays.SparseArray) else a
              for a in arrays]
    if obj.has_member("index_"):
        index = ctx.resolve(obj.member("index_"))
    else:
        index = pd.RangeIndex(len(arrays[0]) if arrays else 0)
    return _frame(arrays, columns, index)


def resolve_series(obj, ctx, **kw):
    values = ctx.resolve(obj.member("value_"))
    index = ctx.resolve(obj.member("index_")) if obj.has_member("index_") \
        else None
    return pd.Series(values, index=index, name=json.loads(obj["name_"]),
                     copy=False)


def resolve_range_index(obj, ctx, **kw):
    return pd.RangeIndex(obj["start_"], obj["stop_"], obj["step_"],
                         name=json.loads(obj["name_"]))


def resolve_index(obj, ctx, **kw):
    return pd.Index(ctx.resolve(obj.member("value_")),
                    name=json.loads(obj["name_"]), copy=False)


def register_types(builder_ctx=None, resolver_ctx=None):
    """Registers this module's builders and resolvers in the contexts."""
    if builder_ctx is not None:
        builder_ctx.register_native(pd.DataFrame, build_dataframe,
                                    subclasses=False)
        builder_ctx.register_native(pd.Series, build_series,
                                    subclasses=False)
        builder_ctx.register_native(pd.Index, build_index)
    if resolver_ctx is not None:
        resolver_ctx.register_native("vineyard::DataFrame",
                                     resolve_dataframe)
        resolver_ctx.register_native("vineyard::Series", resolve_series)
        resolver_ctx.register_native("vineyard::RangeIndex",
                                     resolve_range_index)
        resolver_ctx.register_native("vineyard::Index", resolve_index)


register_types(default_builder_context, default_resolver_context)
