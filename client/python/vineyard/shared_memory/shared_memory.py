"""SharedMemory and ShareableList backed by a blob of the store.

A block is created writable (``SharedMemory(client, create=True,
size=n)``), filled, then frozen: ``freeze()`` (or ``close()``) seals the
blob, which makes it visible to other processes and immutable. Another
process attaches with ``SharedMemory(client, name)``, the name being the
blob's id as text, and reads it zero-copy; its ``buf`` is read-only.
``unlink()`` deletes the blob (or drops it, when not frozen yet); readers
that still map it keep reading it.

ShareableList keeps a fixed-length list of int, float, bool, None, str and
bytes items in one such block. Its layout is this package's own: a header
(MAGIC, the item count), one entry per item (kind, offset, capacity: 8
bytes each) and the items' slots; a str or bytes slot holds its length
then the bytes, its capacity rounded up to 8 (so a later value up to that
length fits), any other slot 8 bytes.
"""
import struct

from .._types import ObjectID
from ..errors import InvalidArgument

MAGIC = b"VYSLIST1"
_HEAD = struct.Struct("<8sQ")
_ENTRY = struct.Struct("<QQQ")
_NONE, _INT, _FLOAT, _BOOL, _STR, _BYTES = range(6)
_KIND = {type(None): _NONE, int: _INT, float: _FLOAT, bool: _BOOL,
         str: _STR, bytes: _BYTES}


class SharedMemory:
    """A block of shared memory in the store: created writable and frozen
    (sealed) to share it, or attached read-only by name."""

    def __init__(self, vineyard_client, name=None, create=False, size=0):
        if size < 0:
            raise ValueError("'size' must be a positive integer")
        if create and size == 0:
            raise ValueError("'size' must be a positive number different "
                             "from zero")
        if create and name is not None:
            raise ValueError("'name' can only be None if create=True")
        if not create and name is None:
            raise ValueError("'name' cannot be None if create=False")
        self._client = vineyard_client
        self._builder = None
        self._blob = None
        if create:
            self._builder = vineyard_client.create_blob(size)
            self._id = self._builder.id
            self._size = size
            self._buf = self._builder.buffer
        else:
            self._blob = vineyard_client.get_blob(ObjectID(name))
            self._id = self._blob.id
            self._size = self._blob.size
            self._buf = memoryview(self._blob)

    @property
    def buf(self):
        """The block's memory as a memoryview (read-only once frozen)."""
        return self._buf

    @property
    def name(self):
        """The blob's id as text. A block of at most 4095 bytes gets its
        id when frozen; until then its name is None."""
        return repr(self._id) if self._id else None

    @property
    def size(self):
        return self._size

    def freeze(self):
        """Seals the block: visible to other processes, immutable."""
        if self._builder is not None:
            if self._buf is not None:
                self._buf.release()
            self._buf = None
            self._blob = self._builder.seal(self._client)
            self._builder = None
            self._id = self._blob.id
            self._buf = memoryview(self._blob)
        return self

    def close(self):
        """Freezes the block (a block is shared only once sealed)."""
        self.freeze()

    def unlink(self):
        """Deletes the block from the store (drops it if not frozen)."""
        if self._buf is not None:
            self._buf.release()
            self._buf = None
        if self._builder is not None:
            self._builder.abort(self._client)
            self._builder = None
        elif self._blob is not None:
            self._client.delete(self._blob.id)
            self._blob = None

    def __repr__(self):
        return "%s(%r, size=%d)" % (type(self).__name__, self.name,
                                    self._size)


def _encode(value):
    kind = _KIND.get(type(value))
    if kind is None:
        raise TypeError("a ShareableList holds int, float, bool, None, str "
                        "and bytes, not %s" % type(value).__name__)
    if kind == _STR:
        return kind, value.encode("utf-8")
    if kind == _BYTES:
        return kind, value
    if kind == _INT:
        return kind, struct.pack("<q", value)
    if kind == _FLOAT:
        return kind, struct.pack("<d", value)
    if kind == _BOOL:
        return kind, struct.pack("<q", int(value))
    return kind, b""


def _capacity(kind, raw):
    if kind in (_STR, _BYTES):
        return 8 + max(8, (len(raw) + 7) // 8 * 8)
    return 8


class ShareableList:
    """A list of fixed length in a SharedMemory block: items may be
    replaced (while the block is not frozen) by values that fit their
    slot, not added or removed."""

    def __init__(self, vineyard_client, sequence=None, *, name=None):
        if sequence is None and name is None:
            sequence = ()
        if sequence is not None:
            items = [_encode(v) for v in sequence]
            n = len(items)
            off = _HEAD.size + n * _ENTRY.size
            entries = []
            for kind, raw in items:
                cap = _capacity(kind, raw)
                entries.append((kind, off, cap))
                off += cap
            self.shm = SharedMemory(vineyard_client, create=True,
                                    size=max(off, 1))
            buf = self.shm.buf
            _HEAD.pack_into(buf, 0, MAGIC, n)
            for i, e in enumerate(entries):
                _ENTRY.pack_into(buf, _HEAD.size + i * _ENTRY.size, *e)
            self._len = n
            for i, v in enumerate(sequence):
                self[i] = v
        else:
            self.shm = SharedMemory(vineyard_client, name)
            magic, n = _HEAD.unpack_from(self.shm.buf, 0)
            if magic != MAGIC:
                raise InvalidArgument(22, "blob %s is not a ShareableList" %
                                      name)
            self._len = n

    def _entry(self, i):
        if not isinstance(i, int):
            raise TypeError("ShareableList indices are ints")
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("ShareableList index out of range")
        return i, _ENTRY.unpack_from(self.shm.buf,
                                     _HEAD.size + i * _ENTRY.size)

    def __getitem__(self, i):
        _, (kind, off, cap) = self._entry(i)
        buf = self.shm.buf
        if kind in (_STR, _BYTES):
            (n,) = struct.unpack_from("<Q", buf, off)
            raw = bytes(buf[off + 8:off + 8 + n])
            return raw.decode("utf-8") if kind == _STR else raw
        if kind == _INT:
            return struct.unpack_from("<q", buf, off)[0]
        if kind == _FLOAT:
            return struct.unpack_from("<d", buf, off)[0]
        if kind == _BOOL:
            return bool(struct.unpack_from("<q", buf, off)[0])
        return None

    def __setitem__(self, i, value):
        i, (_, off, cap) = self._entry(i)
        kind, raw = _encode(value)
        need = 8 + len(raw) if kind in (_STR, _BYTES) else len(raw)
        if need > cap:
            raise ValueError("%r needs %d bytes; item %d has room for %d" % (
                value, need, i, cap))
        buf = self.shm.buf
        if kind in (_STR, _BYTES):
            struct.pack_into("<Q", buf, off, len(raw))
            buf[off + 8:off + 8 + len(raw)] = raw
        else:
            buf[off:off + len(raw)] = raw
        _ENTRY.pack_into(buf, _HEAD.size + i * _ENTRY.size, kind, off, cap)

    def __len__(self):
        return self._len

    def __iter__(self):
        return (self[i] for i in range(self._len))

    def __reduce__(self):
        raise TypeError("a ShareableList is shared by its name: "
                        "ShareableList(client, name=lst.shm.name)")

    @property
    def format(self):
        """One struct-like letter per item (q int, d float, ? bool, s str,
        b bytes, x None)."""
        letters = {_NONE: "x", _INT: "q", _FLOAT: "d", _BOOL: "?",
                   _STR: "s", _BYTES: "b"}
        return "".join(letters[self._entry(i)[1][0]]
                       for i in range(self._len))

    def count(self, value):
        return sum(1 for v in self if v == value)

    def index(self, value):
        for i, v in enumerate(self):
            if v == value:
                return i
        raise ValueError("%r not in this ShareableList" % (value,))

    def freeze(self):
        """Seals the list's block: shared and immutable from now on."""
        self.shm.freeze()
        return self

    def __repr__(self):
        return "ShareableList(%r, name=%r)" % (list(self), self.shm.name)
