"""Puts: the builders run into one ObjectMeta tree, every new blob of it
is created in one request and filled (pwrite for contiguous memory: no
page faults here), and the whole tree is created with one more request.
Trees deeper or larger than one request carries go in parts. Client
inherits these calls from PutCalls.
"""
import ctypes
import errno
import json
import os

import numpy as np

from .. import _capi
from .._types import ObjectID, ObjectMeta, _is_object
from .._object import store_blob
from ..errors import (InvalidArgument, ObjectNotExists, UnsupportedType,
                      from_errno)
from .builder import BuildContext, BuilderContext, _takes, get_current_builders

_MAX_DEPTH = 7        # tree nesting one put may carry (the daemon's is 8)
_MAX_NODES = 16384    # objects in one put; larger trees go in parts
_MAX_BATCH = 65536    # blobs per create request
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _name_bytes(name):
    if not isinstance(name, str):
        raise InvalidArgument(errno.EINVAL, "a name is a str, not %s" %
                              type(name).__name__)
    return name.encode("utf-8", "surrogateescape")

class _Payload:
    """A new blob to write, or an existing blob to reference (reuse)."""

    __slots__ = ("src", "nbytes", "arr", "reuse", "writer")

    def __init__(self, value):
        self.writer = None
        self.arr = None
        self.reuse = None
        if type(value) is bytes:
            self.src, self.nbytes = value, len(value)
            return
        if isinstance(value, np.ndarray):
            arr = value
        else:
            try:
                mv = memoryview(value)
            except TypeError:
                raise UnsupportedType(
                    "a member is an ObjectMeta, an ObjectID or a bytes-like "
                    "object, not %s" % type(value).__name__) from None
            try:
                arr = np.asarray(mv)
            except (ValueError, TypeError, NotImplementedError):
                arr = np.frombuffer(mv.tobytes(), np.uint8)
        if arr.dtype.hasobject:
            raise UnsupportedType("an array of Python objects is not "
                                  "bytes; build it instead of adding it "
                                  "as a blob")
        self.nbytes = arr.nbytes
        self.reuse = store_blob(arr)
        if arr.flags.c_contiguous or arr.flags.f_contiguous:
            self.src = arr.__array_interface__["data"][0]
        else:
            self.src = None  # copied into a mapping of the blob, C order
        self.arr = arr

    def fill(self, w):
        if self.nbytes == 0:
            return 0
        if self.src is not None:
            return _capi.writer_write(w, 0, self.src, self.nbytes)
        addr = _capi.writer_data(w)
        if not addr:
            return -errno.ENOMEM
        raw = (ctypes.c_char * self.nbytes).from_address(addr)
        dst = np.frombuffer(raw, self.arr.dtype).reshape(self.arr.shape)
        np.copyto(dst, self.arr)
        return 0


def _set_field(m, key, v):
    k = key.encode("utf-8") if isinstance(key, str) else None
    if k is None:
        raise InvalidArgument(errno.EINVAL, "field keys are str, not %r" %
                              (key,))
    t = type(v)
    if v is None:
        rc = _capi.meta_set_null(m, k)
    elif t is bool or isinstance(v, np.bool_):
        rc = _capi.meta_set_bool(m, k, bool(v))
    elif isinstance(v, (int, np.integer)):
        v = int(v)
        if not _INT64[0] <= v <= _INT64[1]:
            raise InvalidArgument(errno.ERANGE, "field %r: %d does not fit "
                                  "in 64 bits; store it as text" % (key, v))
        rc = _capi.meta_set_int(m, k, v)
    elif isinstance(v, (float, np.floating)):
        rc = _capi.meta_set_double(m, k, float(v))
    elif isinstance(v, str):
        if "\0" in v:
            raise InvalidArgument(errno.EINVAL, "field %r: text with a NUL "
                                  "character; store it as a blob" % key)
        try:
            b = v.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument(errno.EINVAL, "field %r: text that is not "
                                  "valid Unicode" % key) from None
        rc = _capi.meta_set_string(m, k, b)
    elif isinstance(v, (list, tuple)):
        if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool)
               for x in v):
            vals = [int(x) for x in v]
            if any(not _INT64[0] <= x <= _INT64[1] for x in vals):
                raise InvalidArgument(errno.ERANGE, "field %r: a number "
                                      "does not fit in 64 bits" % key)
            arr = (ctypes.c_int64 * len(vals))(*vals)
            rc = _capi.meta_set_int_array(m, k, arr, len(vals))
        elif all(isinstance(x, str) and "\0" not in x for x in v):
            arr = (ctypes.c_char_p * len(v))(*[x.encode("utf-8")
                                               for x in v])
            rc = _capi.meta_set_string_array(m, k, arr, len(v))
        else:
            rc = _set_json(m, k, key, v)
    else:
        rc = _set_json(m, k, key, v)
    if rc < 0:
        if rc == -errno.EEXIST:
            msg = "field %r set twice" % key
        elif rc == -errno.EINVAL:
            msg = "field %r: invalid key or value (keys are 1-255 " \
                  "bytes)" % key
        else:
            msg = "field %r: %s" % (key, os.strerror(-rc))
        raise from_errno(-rc, msg)


def _set_json(m, k, key, v):
    """Other values (dicts, lists of floats or of mixed types...) are kept
    as their JSON text, as upstream keeps every field."""
    try:
        text = json.dumps(v, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidArgument(errno.EINVAL, "field %r: %s is not a field "
                              "type (int, float, bool, None, str, a list "
                              "of ints or of strs, or anything JSON can "
                              "write)" % (key, type(v).__name__)) from None
    return _capi.meta_set_string(m, k, text.encode("utf-8"))


def _id_of(value):
    """The ObjectID behind an id, an Object or a created ObjectMeta."""
    if isinstance(value, ObjectMeta):
        if value.id is None:
            raise InvalidArgument(errno.EINVAL, "this ObjectMeta is not "
                                  "created yet (Client.create_metadata)")
        return value.id
    if _is_object(value):
        return value.id
    return ObjectID(value)


def _created(v):
    """True for a member that is already stored."""
    return isinstance(v, ObjectID) or _is_object(v) or \
        (isinstance(v, ObjectMeta) and v.id is not None)


class PutCalls:
    """put, put_blob, create and what they share; mixed into Client."""

    def put(self, value, builder=None, persist=False, name=None, mode=None,
            **kw):
        """Stores value; returns its ObjectID. name binds a name to it,
        persist makes it survive a daemon restart, mode (such as 0o644)
        says who may read and delete what the put creates (default 0o640:
        the owner and its group read, the owner deletes and names).
        builder (a BuilderContext, default: the one in effect) chooses the
        builders; extra keyword arguments go to them."""
        if builder is not None and not isinstance(builder, BuilderContext):
            if _takes(builder, "builder"):  # upstream: one builder
                kw["builder"] = get_current_builders()
            out = builder(self, value, **kw)
            meta = _id_of(out) if _created(out) else out
        else:
            meta = BuildContext(self, kw, builder).build(value)
        if isinstance(meta, ObjectID):
            if name is not None:
                self.put_name(meta, name)
            if persist:
                self.persist(meta)
            return meta
        return self.create(meta, name=name, persist=persist, mode=mode)

    def put_blob(self, data):
        """Stores the bytes of data (any bytes-like object) as one blob;
        returns its ObjectID. A get gives a read-only memoryview back."""
        p = _Payload(data)
        if p.reuse is not None:
            return ObjectID(p.reuse)
        if p.src is None:
            p = _Payload(np.ascontiguousarray(p.arr))
        c = self._h().handle()
        oid = ctypes.c_uint64()
        src = p.src if p.nbytes else None
        _capi.check(_capi.put_blob(c, src, p.nbytes, ctypes.byref(oid)), c)
        return ObjectID(oid.value)

    def create(self, meta, name=None, persist=False, mode=None):
        """Creates the object described by an ObjectMeta tree (as builders
        return); returns its ObjectID. mode as for put()."""
        if not isinstance(meta, ObjectMeta):
            raise InvalidArgument(errno.EINVAL, "create() takes an "
                                  "ObjectMeta")
        if meta.id is not None:
            oid = meta.id  # created already
            if name is not None:
                self.put_name(oid, name)
            if persist:
                self.persist(oid)
            return oid
        nameb = _name_bytes(name) if name is not None else None
        if mode is not None and (not isinstance(mode, int) or
                                 isinstance(mode, bool) or
                                 mode < 0 or mode & ~0o666):
            raise InvalidArgument(errno.EINVAL, "mode %r: read (4) and "
                                  "write (2) bits for the owner, the group "
                                  "and others, at most 0o666" % (mode,))
        conn = self._h()
        extra = []
        try:
            try:
                self._split(conn, meta, 0, extra, True, mode)
                return self._put_unit(conn, meta, nameb, persist, True,
                                      mode)
            except ObjectNotExists:
                # A reused blob went away meanwhile: copy instead.
                self._split(conn, meta, 0, extra, False, mode)
                return self._put_unit(conn, meta, nameb, persist, False,
                                      mode)
        except BaseException:
            if extra:
                self._delete_quietly(conn, extra)
            raise

    def _split(self, conn, meta, depth, extra, reuse, mode=None):
        """Puts apart the parts of a tree too deep or too large for one
        request, replacing them by their ids; returns the nodes left."""
        count = 1
        for key, v in list(meta.members.items()):
            if not isinstance(v, ObjectMeta) or v.id is not None:
                continue
            if depth + 1 >= _MAX_DEPTH:
                n = _MAX_NODES + 1
            else:
                n = self._split(conn, v, depth + 1, extra, reuse, mode)
            if depth + 1 >= _MAX_DEPTH or count + n > _MAX_NODES:
                if depth + 1 >= _MAX_DEPTH:
                    self._split(conn, v, 0, extra, reuse, mode)
                oid = self._put_unit(conn, v, None, False, reuse, mode)
                extra.append(oid)
                meta.members[key] = oid
            else:
                count += n
        return count

    def _put_unit(self, conn, meta, nameb, persist, reuse, mode=None):
        payloads = []
        self._collect(meta, payloads, reuse)
        new = [p for p in payloads if p.reuse is None]
        c = conn.handle()
        if conn.tcp:
            return self._put_copied(conn, c, meta, new, nameb, persist)
        root = None
        try:
            for i in range(0, len(new), _MAX_BATCH):
                part = new[i:i + _MAX_BATCH]
                lens = (ctypes.c_size_t * len(part))(*[p.nbytes
                                                       for p in part])
                ws = (ctypes.c_void_p * len(part))()
                _capi.check(_capi.blob_create_many(c, lens, len(part), ws),
                            c)
                for p, w in zip(part, ws):
                    p.writer = w
            for p in new:
                rc = p.fill(p.writer)
                if rc < 0:
                    raise from_errno(
                        -rc, "writing a blob: %s" % os.strerror(-rc))
            root = self._to_c(meta)
            if mode is not None:
                _capi.check(_capi.meta_set_mode(root, mode), None, "mode")
            oid = ctypes.c_uint64()
            rc = _capi.put_object(c, root, nameb, 1 if persist else 0,
                                  ctypes.byref(oid))
            for p in new:
                p.writer = None  # consumed by vy_put_object
            _capi.check(rc, c)
            return ObjectID(oid.value)
        finally:
            if root:
                _capi.meta_free(root)
            for p in new:
                if p.writer:
                    _capi.blob_abort(c, p.writer)
                    p.writer = None

    def _put_copied(self, conn, c, meta, new, nameb, persist):
        """Over TCP nothing is mapped: each new blob goes by copy first
        (vy_put_blob), then the tree refers to them by id. Blobs of a put
        that fails are deleted."""
        made = []
        root = None
        try:
            for p in new:
                keep = None
                src = p.src
                if src is None:
                    keep = np.ascontiguousarray(p.arr)
                    src = keep.__array_interface__["data"][0]
                oid = ctypes.c_uint64()
                _capi.check(_capi.put_blob(c, src if p.nbytes else None,
                                           p.nbytes, ctypes.byref(oid)), c)
                del keep
                made.append(oid.value)
                p.reuse = oid.value
            root = self._to_c(meta)
            oid = ctypes.c_uint64()
            _capi.check(_capi.put_object(c, root, nameb,
                                         1 if persist else 0,
                                         ctypes.byref(oid)), c)
            made = []
            return ObjectID(oid.value)
        finally:
            if root:
                _capi.meta_free(root)
            if made:
                self._delete_quietly(conn, made)

    def _collect(self, meta, out, reuse):
        for key, v in list(meta.members.items()):
            if _created(v):
                continue
            if isinstance(v, ObjectMeta):
                self._collect(v, out, reuse)
            elif isinstance(v, _Payload):
                if not reuse:
                    v.reuse = None
                out.append(v)
            else:
                p = _Payload(v)
                if not reuse:
                    p.reuse = None
                meta.members[key] = p
                out.append(p)

    def _to_c(self, meta):
        if meta.typename is None:
            raise InvalidArgument(errno.EINVAL, "the metadata has no "
                                  "typename: set meta['typename']")
        m = _capi.meta_new(meta.typename.encode("utf-8"))
        if not m:
            raise InvalidArgument(errno.EINVAL, "invalid typename %r" %
                                  meta.typename)
        try:
            for k, v in meta.fields.items():
                _set_field(m, k, v)
            for name, v in meta.members.items():
                nb = name.encode("utf-8") if isinstance(name, str) else b""
                if _created(v):
                    rc = _capi.meta_add_member(m, nb, _id_of(v))
                elif isinstance(v, ObjectMeta):
                    child = self._to_c(v)
                    rc = _capi.meta_add_member_meta(m, nb, child)
                    if rc < 0:
                        _capi.meta_free(child)
                elif v.reuse is not None:
                    rc = _capi.meta_add_member(m, nb, v.reuse)
                else:
                    rc = _capi.meta_add_member_writer(m, nb, v.writer)
                if rc < 0:
                    raise from_errno(-rc, "member %r of %s: %s" % (
                        name, meta.typename,
                        "invalid name (1-255 bytes, no '/', not data, "
                        "meta.json or typename)" if rc == -errno.EINVAL
                        else "added twice" if rc == -errno.EEXIST
                        else os.strerror(-rc)))
        except BaseException:
            _capi.meta_free(m)
            raise
        return m

    def _delete_quietly(self, conn, ids):
        try:
            c = conn.handle()
            arr = (ctypes.c_uint64 * len(ids))(*ids)
            _capi.delete(c, arr, len(ids), 0, None)
        except Exception:
            pass
