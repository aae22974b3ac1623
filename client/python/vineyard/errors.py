"""Exceptions raised by the vineyard package.

Every failure reported by the daemon or by libvineyard is a vineyard.Error,
which is an OSError: `e.errno` is the errno libvineyard returned and
`e.strerror` its sentence. Subclasses name the common cases and also derive
from the matching built-in exception, so `except KeyError` catches a
missing object and `except TimeoutError` a name that never appeared.
"""
import errno as _errno


class Error(OSError):
    """Base class of every error the vineyard package raises."""

    def __init__(self, code, message):
        super().__init__(code, message)

    def __str__(self):
        return self.strerror or super().__str__()


class ObjectNotExists(Error, KeyError):
    """No object with that id (ENOENT)."""


class NameNotExists(ObjectNotExists):
    """No object bound to that name (ENOENT)."""


class ObjectExists(Error):
    """Something with that key or name already exists (EEXIST)."""


class ObjectInUse(Error):
    """The object is a member of another, or otherwise busy (EBUSY, EPERM)."""


class PermissionDenied(Error, PermissionError):
    """The object or name belongs to another user and its mode does not
    allow this (EACCES)."""


class NotEnoughMemory(Error):
    """The daemon's memory limit (--size) is reached (ENOSPC)."""


class DiskFull(Error):
    """The disk of the daemon's data directory is full (or over quota), so
    a persist could not be written; the object stays in memory (EDQUOT).
    Not a NotEnoughMemory: freeing memory does not help."""


class InvalidArgument(Error, ValueError):
    """A bad id, name, key or metadata value (EINVAL, ENAMETOOLONG)."""


class Timeout(Error, TimeoutError):
    """A name did not appear in time (ETIMEDOUT)."""


class ConnectionFailed(Error, ConnectionError):
    """Cannot reach vineyardd: no socket, nobody answering, refused."""


class ConnectionLost(Error, ConnectionError):
    """vineyardd went away, or the connection can no longer be used."""


class ProtocolError(Error):
    """Malformed message or metadata, or mismatched versions."""


class NotAvailable(Error):
    """The daemon lacks the feature (e.g. persistence without a data
    directory) (ENOTSUP)."""


class ObjectNotLocal(Error):
    """The object lives on another instance of the cluster and was not
    fetched (get with fetch=False), or its instance is gone (EREMOTE)."""


class TransferFailed(Error):
    """Fetching an object from another instance failed on the way (its
    instance died or the link dropped, EREMOTEIO); nothing was kept, and a
    later try may succeed."""


class UnsupportedType(Error, TypeError):
    """No builder for the value and it cannot be pickled either, or an
    object's metadata does not describe what its typename promises."""

    def __init__(self, message):
        super().__init__(_errno.EINVAL, message)


class StreamFailed(Error):
    """The stream failed (its writer failed it, or went away before
    finishing): raised to a reader after the chunks sealed before."""


_BY_ERRNO = {
    _errno.ENOENT: ObjectNotExists,
    _errno.EEXIST: ObjectExists,
    _errno.EBUSY: ObjectInUse,
    _errno.EPERM: ObjectInUse,
    _errno.ENOSPC: NotEnoughMemory,
    _errno.EDQUOT: DiskFull,
    _errno.EACCES: PermissionDenied,
    _errno.EINVAL: InvalidArgument,
    _errno.ENAMETOOLONG: InvalidArgument,
    _errno.ETIMEDOUT: Timeout,
    _errno.ECONNREFUSED: ConnectionFailed,
    _errno.EPIPE: ConnectionLost,
    _errno.ECONNRESET: ConnectionLost,
    _errno.ECHILD: ConnectionLost,
    _errno.EPROTO: ProtocolError,
    _errno.EBADMSG: ProtocolError,
    _errno.EMSGSIZE: InvalidArgument,
    _errno.ENOTSUP: NotAvailable,
    _errno.ENOSYS: NotAvailable,
    _errno.EREMOTE: ObjectNotLocal,
    _errno.EREMOTEIO: TransferFailed,
}


def from_errno(code, message, default=Error):
    """The exception instance for a positive errno code."""
    if code == _errno.ENOMEM:
        return MemoryError(message)
    return _BY_ERRNO.get(code, default)(code, message)
