"""vineyard: numpy arrays, pandas frames and other Python values shared
zero-copy between processes through vineyardd.

    python3 -m vineyard --socket /tmp/vineyard.sock    # starts vineyardd

    >>> import vineyard, numpy as np
    >>> client = vineyard.connect('/tmp/vineyard.sock')
    >>> object_id = client.put(np.random.rand(2, 4))
    >>> client.get(object_id)     # same values, in the daemon's memory

A thin layer over libvineyard (the C client; it speaks the protocol).
Values become objects through builders and come back through resolvers,
both extensible: see register_builder and register_resolver. Code written
for upstream Vineyard's Python client finds its modules and names here too
(vineyard.core, vineyard.data, vineyard.shared_memory, vineyard._C);
vineyard-python(7) lists where the two differ. Arrays got
from the store are read-only views of shared memory that stay valid as
long as they live, even if the object is deleted meanwhile.
"""
from . import _capi
from ._blob import BlobBuilder
from ._object import Blob, Object
from ._types import ObjectID, ObjectInfo, ObjectMeta, ObjectName
from .core.builder import (BuildContext, BuilderContext, builder_context,
                           default_builder_context, register_builder,
                           unregister_builder)
from .core.client import DEFAULT_NAME_TIMEOUT, Client, connect
from .core.resolver import (ResolveContext, ResolverContext,
                            default_resolver_context, register_resolver,
                            resolver_context, unregister_resolver)
from .errors import (ConnectionFailed, ConnectionLost, DiskFull, Error,
                     InvalidArgument, NameNotExists, NotAvailable,
                     NotEnoughMemory, ObjectExists, ObjectInUse,
                     ObjectNotExists, ObjectNotLocal, PermissionDenied,
                     ProtocolError, StreamFailed, Timeout, TransferFailed,
                     UnsupportedType)
from . import core  # noqa: F401
from . import data  # noqa: F401  (registers the shipped builders)
from . import shared_memory  # noqa: F401
from . import io  # noqa: F401  (streams: vineyard.io.ByteStream...)
from ._C import *  # noqa: F401,F403  (upstream's exception names...)
from ._C import IPCClient, InstanceStatus, RemoteBlob  # noqa: F401
from ._C import RPCClient  # noqa: F401
from .data import register_builtin_types  # noqa: F401

#: The version of this package: that of the libvineyard it runs on, which
#: the Makefile's VERSION sets.
__version__ = _capi.version().decode()
LIBRARY_PATH = _capi.LIBRARY_PATH


def default_socket():
    """The socket path connect() uses without an argument."""
    return _capi.default_socket().decode()


__all__ = [
    "connect", "Client", "IPCClient", "RPCClient", "ObjectID", "ObjectName", "ObjectMeta",
    "ObjectInfo", "Object", "Blob", "BlobBuilder", "RemoteBlob",
    "InstanceStatus",
    "register_builder", "register_resolver", "unregister_builder",
    "unregister_resolver", "BuildContext", "ResolveContext",
    "BuilderContext", "ResolverContext", "builder_context",
    "resolver_context", "default_builder_context",
    "default_resolver_context", "register_builtin_types",
    "DEFAULT_NAME_TIMEOUT", "default_socket",
    "Error", "ObjectNotExists", "NameNotExists", "ObjectExists",
    "ObjectInUse", "NotEnoughMemory", "DiskFull", "InvalidArgument",
    "Timeout",
    "ConnectionFailed", "ConnectionLost", "ProtocolError", "NotAvailable",
    "UnsupportedType", "PermissionDenied", "StreamFailed", "ObjectNotLocal",
    "TransferFailed",
]
