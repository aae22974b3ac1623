"""The names upstream Vineyard's package exposes from its C++ extension,
vineyard._C, so that `from vineyard._C import ObjectMeta` works here too.
Here they are the package's own classes over libvineyard; the exception
names are aliases of vineyard's errors (errors.py)."""
from ._blob import BlobBuilder
from ._object import Blob, Object
from ._types import ObjectID, ObjectMeta, ObjectName
from .core.client import Client as IPCClient
from .core.client import RPCClient
from .core.status import Status as InstanceStatus
from .errors import (ConnectionFailed, ConnectionLost, Error,
                     InvalidArgument, NameNotExists, NotAvailable,
                     NotEnoughMemory, ObjectExists, ObjectInUse,
                     ObjectNotExists, ProtocolError, Timeout,
                     UnsupportedType)

ObjectBuilder = BlobBuilder


class RemoteBlob(Blob):
    """Upstream's blob got over RPC. A get over TCP (RPCClient) gives Blobs
    holding a copy of the bytes; the class exists for isinstance checks
    and never has instances."""


class RemoteBlobBuilder(BlobBuilder):
    """Upstream's RPC blob builder: not available; over TCP, put bytes with
    RPCClient.put_blob or put (they go by copy)."""

    def __init__(self, *args, **kw):
        raise NotAvailable(95, "there is no RemoteBlobBuilder: over TCP, "
                           "store bytes with put_blob or put (by copy)")


# Upstream's exception names, as aliases of ours.
VineyardException = Error
ConnectionErrorException = ConnectionLost
ConnectionFailedException = ConnectionFailed
ObjectNotExistsException = ObjectNotExists
ObjectExistsException = ObjectExists
ObjectNotSealedException = ObjectInUse
ObjectSealedException = ObjectInUse
NotEnoughMemoryException = NotEnoughMemory
InvalidException = InvalidArgument
UserInputErrorException = InvalidArgument
KeyErrorException = ObjectNotExists
MetaTreeNameNotExistsException = NameNotExists
MetaTreeSubtreeNotExistsException = ObjectNotExists
MetaTreeInvalidException = ProtocolError
MetaTreeLinkInvalidException = ProtocolError
MetaTreeNameInvalidException = InvalidArgument
MetaTreeTypeInvalidException = ProtocolError
MetaTreeTypeNotExistsException = ProtocolError
TypeErrorException = UnsupportedType
NotImplementedException = NotAvailable
VineyardServerNotReadyException = ConnectionFailed
IOErrorException = Error
EndOfFileException = Error
UnknownErrorException = Error
AssertionFailedException = Error
EtcdErrorException = NotAvailable
ArrowErrorException = Error
InvalidStreamStateException = NotAvailable
StreamDrainedException = NotAvailable
StreamFailedException = NotAvailable


__all__ = [n for n in dir() if n.endswith("Exception")] + [
    "ObjectBuilder", "RemoteBlobBuilder"]


def connect(*args, **kw):
    from .core.client import connect as _connect
    return _connect(*args, **kw)


_connect = connect
