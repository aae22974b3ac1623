"""numpy arrays as vineyard::Tensor<T>, laid out as upstream Vineyard does:
fields value_type_ (the C++ element type name), shape_, order_ ("C" or
"F"), partition_index_, plus value_type_meta_ (numpy's dtype string, so
byte order and datetime units come back exactly); one blob member,
buffer_, with the elements in that order.

Every bool and numeric dtype (and datetime64/timedelta64) is stored this
way, any shape (0-d and empty included). Contiguous arrays are written
straight from their memory; others are copied once into the blob in C
order. A get gives a read-only array over the blob, without a copy.
Arrays of other dtypes (objects, strings, records) are pickled.
"""
import json

import numpy as np

from .._types import ObjectMeta
from ..errors import UnsupportedType
from ..core.builder import default_builder_context
from ..core.resolver import default_resolver_context

_CPP = {
    "bool": "bool", "int8": "int8", "int16": "int16", "int32": "int32",
    "int64": "int64", "uint8": "uint8", "uint16": "uint16",
    "uint32": "uint32", "uint64": "uint64", "float16": "float16",
    "float32": "float", "float64": "double", "longdouble": "long double",
    "complex64": "std::complex<float>", "complex128": "std::complex<double>",
    "clongdouble": "std::complex<long double>",
}
_FROM_CPP = {v: k for k, v in _CPP.items()}
_FROM_CPP.update({"int": "int32", "uint": "uint32", "long": "int64",
                  "float64": "float64", "float32": "float32"})
KINDS = "biufcmM"


def value_type(dtype):
    """The C++-style name of a numpy element type."""
    if dtype.kind in "mM":
        return dtype.name
    if dtype == np.longdouble and dtype.itemsize > 8:
        return _CPP["longdouble"]
    if dtype == np.clongdouble and dtype.itemsize > 16:
        return _CPP["clongdouble"]
    return _CPP.get(dtype.name, dtype.name)


def dtype_of(obj):
    """The numpy dtype a Tensor object's fields describe."""
    meta = obj.get("value_type_meta_")
    if isinstance(meta, str) and meta:
        return np.dtype(meta)
    vt = obj.get("value_type_")
    name = _FROM_CPP.get(vt, vt)
    try:
        return np.dtype(name)
    except TypeError:
        raise UnsupportedType("object %s: unknown value_type_ %r" % (
            obj.id, vt)) from None


def build_ndarray(value, ctx, **kw):
    if value.dtype.kind not in KINDS or value.dtype.fields is not None:
        from .pickled import build_pickle
        return build_pickle(value, ctx, **kw)
    order = "F" if value.flags.f_contiguous and not value.flags.c_contiguous \
        else "C"
    vt = value_type(value.dtype)
    meta = ObjectMeta("vineyard::Tensor<%s>" % vt)
    meta["value_type_"] = vt
    meta["value_type_meta_"] = value.dtype.str
    meta["shape_"] = [int(d) for d in value.shape]
    meta["order_"] = order
    meta["partition_index_"] = []
    meta.add_member("buffer_", value)
    return meta


def resolve_tensor(obj, ctx, **kw):
    dtype = dtype_of(obj)
    shape = obj["shape_"]
    if isinstance(shape, str):  # upstream writes it as JSON text
        shape = json.loads(shape)
    order = obj.get("order_", "C")
    if order not in ("C", "F"):
        raise UnsupportedType("object %s: order_ %r is neither C nor F" % (
            obj.id, order))
    return obj.member("buffer_").array(dtype, shape, order)


def resolve_blob(obj, ctx, **kw):
    return obj.buffer


def register_types(builder_ctx=None, resolver_ctx=None):
    """Registers this module's builders and resolvers in the contexts."""
    if builder_ctx is not None:
        builder_ctx.register_native(np.ndarray, build_ndarray,
                                    subclasses=False)
    if resolver_ctx is not None:
        resolver_ctx.register_native("vineyard::Tensor", resolve_tensor)
        resolver_ctx.register_native("vineyard::Blob", resolve_blob)


register_types(default_builder_context, default_resolver_context)


register_tensor_types = register_types  # upstream's name
