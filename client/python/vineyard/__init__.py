"""vineyard: numpy arrays, pandas frames and other Python values shared
zero-copy between processes through vineyardd.

    python3 -m vineyard --socket /tmp/vineyard.sock    # starts vineyardd

    >>> import vineyard, numpy as np
    >>> client = vineyard.connect('/tmp/vineyard.sock')
    >>> object_id = client.put(np.random.rand(2, 4))
    >>> client.get(object_id)     # same values, in the daemon's memory

A thin layer over libvineyard (the C client; it speaks the protocol).
Values become objects through builders and come back through resolvers,
both extensible: see register_builder and register_resolver. Arrays got
from the store are read-only views of shared memory that stay valid as
long as they live, even if the object is deleted meanwhile.
"""
from . import _capi
from ._object import Object
from ._types import ObjectID, ObjectInfo, ObjectMeta
from .client import DEFAULT_NAME_TIMEOUT, Client, connect
from .errors import (ConnectionFailed, ConnectionLost, DiskFull, Error,
                     InvalidArgument, NameNotExists, NotAvailable,
                     NotEnoughMemory, ObjectExists, ObjectInUse,
                     ObjectNotExists, ProtocolError, Timeout,
                     UnsupportedType)
from .registry import (BuildContext, ResolveContext, register_builder,
                       register_resolver, unregister_builder,
                       unregister_resolver)
from . import data  # noqa: F401  (registers the shipped builders)

__version__ = "0.1.0"
LIBRARY_PATH = _capi.LIBRARY_PATH


def default_socket():
    """The socket path connect() uses without an argument."""
    return _capi.default_socket().decode()


__all__ = [
    "connect", "Client", "ObjectID", "ObjectMeta", "ObjectInfo", "Object",
    "register_builder", "register_resolver", "unregister_builder",
    "unregister_resolver", "BuildContext", "ResolveContext",
    "DEFAULT_NAME_TIMEOUT", "default_socket",
    "Error", "ObjectNotExists", "NameNotExists", "ObjectExists",
    "ObjectInUse", "NotEnoughMemory", "DiskFull", "InvalidArgument",
    "Timeout",
    "ConnectionFailed", "ConnectionLost", "ProtocolError", "NotAvailable",
    "UnsupportedType",
]
