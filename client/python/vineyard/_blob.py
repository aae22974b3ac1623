"""BlobBuilder: a blob being written in place (upstream's BlobBuilder), made
by Client.create_blob and made immutable by seal().

copy() writes through libvineyard (pwrite into the blob: no page faults
here, as put does). ``buffer``, ``address``, item access and ``[a:b] =``
map the blob writable on first use; the arrays and memoryviews made from
``buffer`` keep that mapping alive. The kernel seals a blob only once no
writable mapping of it is left, so seal() with such views still alive
stores a copy of the bytes instead (a new id) and drops the written blob
when the last view goes: the views stay valid and the sealed blob stays
immutable whatever they write afterwards.
"""
import ctypes
import errno
import sys
import weakref

import numpy as np

from . import _capi
from ._types import ObjectID
from .errors import InvalidArgument, from_errno


class _Mapping:
    """The writable mapping of a blob, lent to numpy."""

    __slots__ = ("__array_interface__", "__weakref__")

    def __init__(self, address, size):
        self.__array_interface__ = {
            "version": 3, "data": (address, False), "shape": (size,),
            "typestr": "|u1"}


def _drop_writer(conn, writer):
    # Runs when the last view of a blob sealed by copy goes.
    try:
        if conn.usable():
            _capi.blob_abort(conn.handle(), writer)
    except Exception:
        pass  # closed meanwhile: the mapping stays until the process ends


class BlobBuilder:
    """A blob of ``size`` bytes being written. ``copy(offset, data)`` or
    ``copy(offset, address, size)`` fills it; ``buffer`` is a writable
    memoryview; ``seal(client)`` makes it an immutable Blob; ``abort()``
    drops it. ``id`` is known from the start for blobs over 4095 bytes;
    smaller ones get theirs at seal."""

    def __init__(self, client, conn, writer):
        self._client = client
        self._conn = conn
        self._w = writer
        self._size = _capi.writer_size(writer)
        self._id = ObjectID(_capi.writer_id(writer))
        self._arr = None
        self._map = None
        conn.writers.add(self)

    def _writer(self):
        if self._w is None:
            raise InvalidArgument(errno.EINVAL, "blob builder %s is already "
                                  "sealed or aborted" % self._id)
        return self._w

    @property
    def id(self):
        return self._id

    @property
    def size(self):
        return self._size

    def __len__(self):
        return self._size

    @property
    def issealed(self):
        return self._w is None

    def _array(self):
        if self._arr is None:
            addr = _capi.writer_data(self._writer())
            if not addr:
                if self._size == 0:
                    self._arr = np.zeros(0, np.uint8)
                    return self._arr
                raise from_errno(ctypes.get_errno() or errno.ENOMEM,
                                 "cannot map blob %s" % self._id)
            self._map = _Mapping(addr, self._size)
            self._arr = np.asarray(self._map)
        elif self._w is None:
            raise InvalidArgument(errno.EINVAL, "blob builder %s is already "
                                  "sealed or aborted" % self._id)
        return self._arr

    @property
    def address(self):
        """The writable memory's address (valid until seal or abort)."""
        return self._array().__array_interface__["data"][0]

    @property
    def buffer(self):
        """The blob's memory as a writable memoryview, without copying."""
        return memoryview(self._array())

    def __getitem__(self, key):
        r = self._array()[key]
        return int(r) if isinstance(r, np.integer) else r

    def __setitem__(self, key, value):
        arr = self._array()
        if isinstance(key, slice):
            arr[key] = np.frombuffer(value, np.uint8) \
                if not isinstance(value, (int, np.ndarray)) else value
        else:
            arr[key] = value

    def __iter__(self):
        return iter(self._array().tolist())

    def copy(self, offset, data, size=None):
        """Copies data (any bytes-like object) to offset; or, given size,
        size bytes from the address data."""
        w = self._writer()
        if size is not None:
            if not isinstance(data, int):
                raise InvalidArgument(errno.EINVAL, "copy(offset, address, "
                                      "size) takes an int address")
            src, n = data, int(size)
        else:
            arr = data if isinstance(data, np.ndarray) else None
            if arr is None:
                try:
                    arr = np.frombuffer(data, np.uint8)
                except (ValueError, TypeError):
                    arr = np.frombuffer(memoryview(data).tobytes(), np.uint8)
            if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
                arr = np.ascontiguousarray(arr)
            src, n = arr.__array_interface__["data"][0], arr.nbytes
        if offset < 0 or n < 0 or offset + n > self._size:
            raise InvalidArgument(errno.EINVAL, "copy of %d bytes at %d: the "
                                  "blob holds %d" % (n, offset, self._size))
        if n:
            rc = _capi.writer_write(w, offset, src, n)
            if rc < 0:
                raise from_errno(-rc, "writing blob %s" % self._id)

    def _exported(self):
        """True when arrays or memoryviews of the mapping are still alive
        outside this builder (CPython reference counts: ours plus the
        call's argument)."""
        if self._map is None:
            return False
        return sys.getrefcount(self._map) > 3 or \
            sys.getrefcount(self._arr) > 2

    def seal(self, client=None):
        """Seals the blob (immutable from now on); returns it as a Blob."""
        w = self._writer()
        client = client if client is not None else self._client
        conn = self._conn
        c = conn.handle()
        oid = ctypes.c_uint64()
        if self._exported():
            # Views are alive: keep their mapping, store a copy.
            rc = _capi.put_blob(c, self._arr.__array_interface__["data"][0],
                                self._size, ctypes.byref(oid))
            _capi.check(rc, c)
            weakref.finalize(self._map, _drop_writer, conn, w)
        else:
            self._arr = self._map = None
            rc = _capi.blob_seal(c, w, ctypes.byref(oid))
            self._w = None
            _capi.check(rc, c)
        self._w = None
        self._arr = None
        self._map = None
        self._id = ObjectID(oid.value)
        return client.get_blob(self._id)

    def abort(self, client=None):
        """Drops the unsealed blob."""
        w = self._w
        if w is None:
            return
        self._w = None
        if self._exported():
            weakref.finalize(self._map, _drop_writer, self._conn, w)
        else:
            _capi.blob_abort(self._conn.handle(), w)
        self._arr = self._map = None

    def shrink(self, client=None, size=None):
        raise InvalidArgument(errno.ENOTSUP, "a blob's size is fixed at "
                              "create_blob")

    def __del__(self):
        try:
            if self._w is not None and self._conn.usable():
                self.abort()
        except Exception:
            pass

    def __repr__(self):
        return "BlobBuilder(%s, size=%d%s)" % (
            self._id, self._size, ", sealed" if self._w is None else "")
