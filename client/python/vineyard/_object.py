"""Objects got from the store, as resolvers see them.

A get returns one tree (struct vy_object) whose blobs are mapped read-only.
_Tree owns it: when the last Python reference to the tree goes, the tree
is released (unmapped, unpinned). Object wraps one node of a tree; Blob
wraps a blob node and is itself a read-only uint8 numpy array over the
blob's memory, so memoryview(blob), bytes(blob) and np.frombuffer(blob)
work as with upstream's Blob. BlobView lends a blob's memory to numpy
through __array_interface__ and holds the tree, so every array made from a
blob (and every view of such an array) keeps the mapping alive: nothing is
copied and nothing dangles.
"""
import ctypes
import json
import pickle

import numpy as np

from . import _capi
from ._types import ObjectID, ObjectMeta
from .errors import UnsupportedType


class _Tree:
    __slots__ = ("conn", "root", "client", "__weakref__")

    def __init__(self, conn, root, client=None):
        self.conn = conn
        self.root = root
        self.client = client  # the Client that got it (for meta.get_member)
        conn.trees.add(self)

    def __del__(self):
        root, self.root = self.root, None
        if root:
            try:
                self.conn.release(root)
            except Exception:
                pass  # interpreter shutdown


class BlobView:
    """The read-only memory of one blob, for numpy: ``np.asarray(view)``
    is a zero-copy read-only array whose base is the view."""

    __slots__ = ("__array_interface__", "tree", "blob_id", "address",
                 "size")

    def __init__(self, tree, blob_id, address, size, dtype, shape,
                 strides=None):
        self.tree = tree
        self.blob_id = blob_id
        self.address = address
        self.size = size
        self.__array_interface__ = {
            "version": 3, "data": (address, True), "shape": shape,
            "typestr": dtype.str, "strides": strides,
            "descr": dtype.descr if dtype.fields else [("", dtype.str)],
        }


def store_blob(arr):
    """If arr's memory is exactly one blob got from the store (same start,
    same length, contiguous), that blob's id; else None."""
    obj = arr
    for _ in range(32):
        if isinstance(obj, np.ndarray):
            nxt = obj.base
        elif isinstance(obj, memoryview):
            nxt = obj.obj
        elif isinstance(obj, pickle.PickleBuffer):
            with memoryview(obj) as m:
                nxt = m.obj
        elif isinstance(obj, BlobView):
            break
        else:
            return None
        if nxt is None:
            return None
        obj = nxt
    else:
        return None
    if not isinstance(obj, BlobView):
        return None
    if isinstance(arr, memoryview):
        if not arr.contiguous:
            return None
        arr = np.asarray(arr)
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        return None
    if arr.nbytes != obj.size or \
            arr.__array_interface__["data"][0] != obj.address:
        return None
    return obj.blob_id


class Object:
    """One object of a tree got from the store (upstream's Object).

    ``id``, ``typename``, ``nbytes``, ``meta`` (its ObjectMeta), ``is_blob``;
    fields by key (``obj['shape_']``, ``obj.fields``); members
    (``obj.member('buffer_')``, ``obj['buffer_']``, ``obj.members``). A
    blob member is a Blob. A blob's bytes: ``obj.buffer`` (read-only
    memoryview) or ``obj.array(dtype, shape, order)``, both zero-copy.
    Everything made from an Object keeps its tree mapped."""

    _vineyard_object = True

    def __init__(self, tree, ptr):
        self._tree = tree
        self._p = ptr
        self._fields = None
        self._meta = None

    @property
    def id(self):
        return ObjectID(_capi.object_id(self._p))

    @property
    def signature(self):
        return int(_capi.object_id(self._p))

    @property
    def typename(self):
        return _capi.object_typename(self._p).decode("utf-8", "replace")

    @property
    def nbytes(self):
        return _capi.object_nbytes(self._p)

    @property
    def is_blob(self):
        return bool(_capi.object_is_blob(self._p))

    @property
    def islocal(self):
        return True

    @property
    def isglobal(self):
        return False

    @property
    def ispersist(self):
        """Whether the object is persisted (asks the daemon)."""
        conn = self._tree.conn
        p = ctypes.c_void_p()
        c = conn.handle()
        _capi.check(_capi.meta_json(c, _capi.object_id(self._p),
                                    ctypes.byref(p)), c)
        return bool(json.loads(_capi.take_string(p.value)).get("persisted"))

    @property
    def fields(self):
        """All fields as a dict (NaN and infinities read as None here; use
        double() for exact floats)."""
        if self._fields is None:
            self._fields = json.loads(_capi.take_string(
                _capi.object_fields_json(self._p)))
        return self._fields

    def __getitem__(self, key):
        """A field's value, or else a member (as upstream's obj[name])."""
        fields = self.fields
        if key in fields:
            return fields[key]
        if isinstance(key, str) and \
                _capi.object_member_by_name(self._p, key.encode()):
            return self.member(key)
        raise KeyError(key)

    def __contains__(self, key):
        return key in self.fields or self.has_member(key)

    def get(self, key, default=None):
        return self.fields.get(key, default)

    def double(self, key):
        """Field key as a float, exactly (NaN and infinities included)."""
        v = ctypes.c_double()
        rc = _capi.object_field_double(self._p, key.encode(), ctypes.byref(v))
        if rc < 0:
            raise KeyError(key)
        return v.value

    def int(self, key):
        v = ctypes.c_int64()
        rc = _capi.object_field_int(self._p, key.encode(), ctypes.byref(v))
        if rc < 0:
            raise KeyError(key)
        return v.value

    @property
    def member_names(self):
        n = _capi.object_nmembers(self._p)
        return [_capi.object_member_name(self._p, i).decode()
                for i in range(n)]

    def has_member(self, name):
        return isinstance(name, str) and \
            bool(_capi.object_member_by_name(self._p, name.encode()))

    def member(self, name):
        p = _capi.object_member_by_name(self._p, name.encode())
        if not p:
            raise UnsupportedType("object %s (%s) has no member %r" % (
                self.id, self.typename, name))
        return wrap(self._tree, p)

    @property
    def members(self):
        n = _capi.object_nmembers(self._p)
        return {_capi.object_member_name(self._p, i).decode():
                wrap(self._tree, _capi.object_member(self._p, i))
                for i in range(n)}

    # ---- blobs ----

    @property
    def address(self):
        return _capi.object_data(self._p) or 0

    def _blob(self):
        if not _capi.object_is_blob(self._p):
            raise UnsupportedType("object %s is a %s, not a blob" % (
                self.id, self.typename))
        return _capi.object_data(self._p), _capi.object_nbytes(self._p)

    def array(self, dtype=np.uint8, shape=None, order="C"):
        """The blob as a read-only numpy array, without copying. shape
        defaults to all the bytes as one dimension; order is "C" or "F"."""
        addr, size = self._blob()
        dtype = np.dtype(dtype)
        if shape is None:
            if dtype.itemsize == 0 or size % dtype.itemsize:
                raise UnsupportedType("blob %s: %d bytes is not a whole "
                                      "number of %s" % (self.id, size, dtype))
            shape = (size // dtype.itemsize,)
        shape = tuple(int(d) for d in shape)
        n = dtype.itemsize
        for d in shape:
            n *= d
        if n != size:
            raise UnsupportedType("blob %s holds %d bytes; shape %s of %s "
                                  "needs %d" % (self.id, size, shape, dtype,
                                                n))
        if n == 0 or not addr:
            if n:
                raise UnsupportedType("blob %s is not mapped (metadata "
                                      "only)" % self.id)
            a = np.empty(shape, dtype, order=order)
            a.flags.writeable = False
            return a
        strides = None
        if order == "F" and len(shape) > 1:
            strides, acc = [], dtype.itemsize
            for d in shape:
                strides.append(acc)
                acc *= d
            strides = tuple(strides)
        view = BlobView(self._tree, _capi.object_id(self._p), addr, size,
                        dtype, shape, strides)
        return np.asarray(view)

    @property
    def buffer(self):
        """The blob's bytes as a read-only memoryview, without copying."""
        return memoryview(self.array())

    def _make_meta(self):
        m = ObjectMeta(self.typename, self.fields)
        m.id = self.id
        m.nbytes = self.nbytes
        m.is_blob = self.is_blob
        m._client = self._tree.client
        n = _capi.object_nmembers(self._p)
        for i in range(n):
            name = _capi.object_member_name(self._p, i).decode()
            child = Object(self._tree, _capi.object_member(self._p, i))
            m.members[name] = child.meta
        return m

    @property
    def meta(self):
        """This object and its members as ObjectMeta (no blob bytes)."""
        if self._meta is None:
            self._meta = self._make_meta()
        return self._meta

    def __repr__(self):
        return "Object(%s, %r)" % (self.id, self.typename)


class Blob(np.ndarray, Object):
    """A blob got from the store (upstream's Blob): its bytes as a read-only
    uint8 array over the shared memory, plus Object's accessors. ``size``,
    ``is_empty``, ``address``, ``buffer``, len(), iteration and integer
    indexing as upstream; slices and arithmetic give plain arrays."""

    def __new__(cls, *args, **kw):
        raise TypeError("a Blob comes from Client.get_blob or get_object; "
                        "Blob.empty() is the empty one")

    @staticmethod
    def empty():
        """An empty blob, not in any store."""
        arr = np.empty(0, np.uint8)
        arr.flags.writeable = False
        b = arr.view(Blob)
        b._tree = b._p = None
        b._fields, b._meta = {}, None
        return b

    @property
    def is_empty(self):
        return self.size == 0

    @property
    def id(self):
        return ObjectID(0) if self._p is None else Object.id.fget(self)

    @property
    def typename(self):
        return "vineyard::Blob"

    @property
    def is_blob(self):
        return True

    @property
    def address(self):
        return 0 if self._p is None else Object.address.fget(self)

    @property
    def buffer(self):
        return memoryview(self)

    def __bool__(self):
        return self.size > 0

    def __getitem__(self, key):
        if isinstance(key, str):
            return Object.__getitem__(self, key)
        r = self.view(np.ndarray)[key]
        return int(r) if isinstance(r, np.integer) else r

    def __iter__(self):
        return iter(self.view(np.ndarray).tolist())

    def __eq__(self, other):
        if isinstance(other, Blob):
            return self.id == other.id and self.size == other.size
        return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __hash__(self):
        return hash((Blob, int(self.id)))

    def __array_wrap__(self, arr, context=None, *args):
        return arr.view(np.ndarray)

    def __reduce__(self):
        return (bytes, (self.tobytes(),))

    def __repr__(self):
        return "Blob(%s, size=%d)" % (self.id, self.size)

    __str__ = __repr__


def wrap(tree, ptr):
    """The Object (or Blob) for node ptr of tree."""
    if not _capi.object_is_blob(ptr):
        return Object(tree, ptr)
    size = _capi.object_nbytes(ptr)
    addr = _capi.object_data(ptr)
    if size and addr:
        arr = np.asarray(BlobView(tree, _capi.object_id(ptr), addr, size,
                                  np.dtype(np.uint8), (size,)))
    else:  # empty, or a metadata-only tree: no bytes to show
        arr = np.empty(0, np.uint8)
        arr.flags.writeable = False
    b = arr.view(Blob)
    b._tree = tree
    b._p = ptr
    b._fields = None
    b._meta = None
    return b
