"""The Client: a connection to vineyardd and every operation on it, with
upstream Vineyard's IPCClient calls (create_metadata, get_object(s),
get_meta(s), create_blob, get_blob(s), fork, clear...) beside ours.

put() runs the builders into one ObjectMeta tree, creates every new blob
of it in one request, fills them (pwrite for contiguous memory: no page
faults here), and creates the whole tree with one more request. get()
fetches a whole tree, blobs mapped, in one request and runs the
resolvers over it; the values share the store's memory.
"""
import ctypes
import errno
import json
import os
import threading

import numpy as np

from .. import _capi
from .._blob import BlobBuilder
from .._conn import _TCP, _Conn, busy, generation
from .._object import Blob, Object, _Tree, store_blob, wrap
from .._types import ObjectID, ObjectInfo, ObjectMeta, _is_object
from .address import address
from ..errors import (ConnectionLost, InvalidArgument, NameNotExists,
                      from_errno, ObjectNotExists, UnsupportedType)
from .builder import (BuildContext, BuilderContext, _takes,
                      get_current_builders)
from .resolver import ResolveContext, ResolverContext
from .status import Status
from .upstream_calls import UpstreamCalls

#: Seconds a get or get_name by name waits for the name to appear, unless
#: told otherwise with timeout=.
DEFAULT_NAME_TIMEOUT = 30.0

_MAX_DEPTH = 7        # tree nesting one put may carry (the daemon's is 8)
_MAX_NODES = 16384    # objects in one put; larger trees go in parts
_MAX_BATCH = 65536    # blobs per create request
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _timeout_ms(timeout):
    if timeout is None:
        timeout = DEFAULT_NAME_TIMEOUT
    if timeout < 0:
        raise InvalidArgument(errno.EINVAL, "timeout must be >= 0 seconds")
    return int(min(timeout * 1000.0, 2 ** 31 - 1))


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


class Client(UpstreamCalls):
    """A connection to vineyardd. Make one with vineyard.connect(); use it
    as a context manager or call close(). One client may be used by many
    threads; their calls take turns, so a thread waiting long for a name
    holds up the others: give such a thread a client of its own. After
    os.fork() a client used in the child connects again by itself (the
    parent's connection is never touched there)."""

    def __init__(self, socket=None, port=None, host=None, endpoint=None,
                 token=None, **upstream):
        path = address(socket, port, host, endpoint, token, upstream)
        conn = _Conn(path)
        self._conn = conn
        self._path = conn.path
        self._lock = threading.Lock()

    # ---- connection ----

    @property
    def socket(self):
        """The path of the daemon's socket ("HOST:PORT" over TCP)."""
        return str(self._path)

    @property
    def closed(self):
        return self._conn is None

    def _h(self):
        conn = self._conn
        if conn is None:
            raise ConnectionLost(errno.EPIPE, "this client is closed")
        if conn.gen != generation():
            with self._lock:
                conn = self._conn
                if conn is not None and conn.gen != generation():
                    conn = self._conn = _Conn(self._path)
            if conn is None:
                raise ConnectionLost(errno.EPIPE, "this client is closed")
        return conn

    def reconnect(self):
        """Connects again to the same socket (after the daemon restarted,
        say). Values got through the old connection stay valid."""
        self._conn = _Conn(self._path)

    def close(self):
        """Closes the connection. Values got through it stay valid: the
        connection really closes when the last of them is gone."""
        self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<vineyard.%s %s%s>" % (
            "RPCClient" if isinstance(self._path, _TCP) else "Client",
            self._path, " (closed)" if self._conn is None else "")

    # ---- put ----

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

    # ---- get ----

    def get(self, object_id=None, name=None, timeout=None, resolver=None,
            fetch=True, **kw):
        """The value of an object, by id or by name. A get by name waits up
        to timeout seconds (default DEFAULT_NAME_TIMEOUT) for the name to
        appear. Arrays in the value share the store's memory (read-only)
        and keep it mapped while they live. resolver (a ResolverContext,
        default: the one in effect) chooses the resolvers; extra keyword
        arguments go to them. In a cluster, an object another instance
        holds is copied here first (fetch=True, the default); with
        fetch=False that is ObjectNotLocal instead."""
        obj = self.get_object(object_id, name, timeout, fetch=fetch)
        if resolver is not None and not isinstance(resolver,
                                                   ResolverContext):
            return resolver(obj, **kw)  # upstream: one resolver
        return ResolveContext(self, kw, resolver).resolve(obj)

    def get_object(self, object_id=None, name=None, timeout=None,
                   sync_remote=True, fetch=True):
        """The object itself (a vineyard.Object, or a Blob), without
        resolving it. fetch: as for get."""
        out = ctypes.c_void_p()
        flags = 0 if fetch else _capi.GET_NOFETCH
        if name is not None:
            if object_id is not None:
                raise InvalidArgument(errno.EINVAL, "give an object id or a "
                                      "name, not both")
            nameb = _name_bytes(name)
            ms = _timeout_ms(timeout)
            conn = self._h()
            c = conn.handle()
            rc = _capi.get_opts(c, 0, nameb, ms, flags, ctypes.byref(out))
            if rc == -errno.ENOENT:
                raise NameNotExists(errno.ENOENT, _capi.errmsg(c).decode(
                    "utf-8", "replace") or "no object named %r" % name)
        else:
            if object_id is None:
                raise InvalidArgument(errno.EINVAL, "give an object id or "
                                      "name=")
            try:
                oid = _id_of(object_id)
            except InvalidArgument as e:
                raise InvalidArgument(e.errno, "%s (to get by name, say "
                                      "name=)" % e.strerror) from None
            conn = self._h()
            c = conn.handle()
            rc = _capi.get_opts(c, oid, None, 0, flags, ctypes.byref(out))
        _capi.check(rc, c)
        return wrap(_Tree(conn, out.value, self), out.value)

    def migrate(self, object_id):
        """Copies an object another instance of the cluster holds (and
        everything it references) into this daemon, unless it is here
        already, and returns the id of the local copy (the same id: ids
        are unique in a cluster). NotEnoughMemory when it does not fit,
        ObjectNotLocal when its instance is gone, TransferFailed when the
        transfer broke off (nothing is kept)."""
        oid = _id_of(object_id)
        c = self._h().handle()
        out = ctypes.c_uint64()
        _capi.check(_capi.migrate(c, oid, ctypes.byref(out)), c)
        return ObjectID(out.value)

    def get_meta(self, object_id, sync_remote=False, fetch=False):
        """The metadata of an object and its members, as ObjectMeta; no
        blob is mapped. In a cluster, also of an object published by
        another instance or of a global object (its members wherever they
        live): ``meta.islocal`` and ``meta.instance_id`` say where."""
        oid = _id_of(object_id)
        conn = self._h()
        c = conn.handle()
        out = ctypes.c_void_p()
        rc = _capi.get_meta(c, oid, ctypes.byref(out))
        if rc == -errno.EREMOTE:
            return self._remote_meta(oid, 0)
        _capi.check(rc, c)
        tree = _Tree(conn, out.value, self)
        try:
            return Object(tree, out.value).meta
        finally:
            del tree

    def _remote_meta(self, oid, depth):
        """ObjectMeta of an object this daemon does not hold, from the
        record the cluster published (meta.json)."""
        d = json.loads(self.meta_json(oid))
        m = ObjectMeta(d["typename"])
        for k, v in (d.get("fields") or {}).items():
            m.fields[k] = v
        m.id = ObjectID(d["id"])
        m.nbytes = d.get("nbytes", 0)
        m.is_blob = bool(int(m.id) >> 63)
        m._global = bool(d.get("global"))
        m._instance = d.get("instance")
        m._local = False
        m._client = self
        if depth >= 64:
            raise InvalidArgument(errno.ELOOP, "metadata nested too deep")
        for name, mid in (d.get("members") or {}).items():
            try:
                child = self._member_meta(mid, depth + 1)
            except ObjectNotExists:
                child = ObjectID(mid)  # withdrawn meanwhile: the id only
            m.members[name] = child
        return m

    def _member_meta(self, mid, depth):
        oid = ObjectID(mid)
        c = self._h().handle()
        out = ctypes.c_void_p()
        rc = _capi.get_meta(c, oid, ctypes.byref(out))
        if rc == -errno.EREMOTE:
            return self._remote_meta(oid, depth)
        _capi.check(rc, c)
        tree = _Tree(self._h(), out.value, self)
        try:
            return Object(tree, out.value).meta
        finally:
            del tree

    def create_global(self, meta):
        """Creates a global object (meta.set_global(), or upstream's
        create_metadata of such a meta): metadata only, published to the
        whole cluster at once, whose members are objects persisted on any
        instance (given by id, Object or created ObjectMeta). Returns its
        ObjectID. Needs a daemon in a cluster (vineyardd --etcd)."""
        for name, v in meta.members.items():
            if not _created(v):
                raise InvalidArgument(errno.EINVAL, "member %r of a global "
                                      "object: its members are stored "
                                      "objects (ids), not new ones" % name)
        c = self._h().handle()
        root = self._to_c(meta)
        try:
            oid = ctypes.c_uint64()
            _capi.check(_capi.put_global(c, root, ctypes.byref(oid)), c)
        finally:
            _capi.meta_free(root)
        return ObjectID(oid.value)

    # ---- names ----

    def put_name(self, object_id, name):
        """Binds name to object_id; an existing name is re-pointed."""
        oid = _id_of(object_id)
        nameb = _name_bytes(name)
        c = self._h().handle()
        _capi.check(_capi.name_put(c, nameb, oid), c)

    def get_name(self, name, wait=False, timeout=None):
        """The ObjectID bound to name. With wait, waits up to timeout
        seconds (default DEFAULT_NAME_TIMEOUT) for it to appear."""
        nameb = _name_bytes(name)
        ms = _timeout_ms(timeout) if wait else 0
        c = self._h().handle()
        oid = ctypes.c_uint64()
        rc = _capi.name_get(c, nameb, ms, ctypes.byref(oid))
        if rc == -errno.ENOENT:
            raise NameNotExists(errno.ENOENT, _capi.errmsg(c).decode(
                "utf-8", "replace") or "no object named %r" % name)
        _capi.check(rc, c)
        return ObjectID(oid.value)

    def drop_name(self, name):
        """Unbinds name (the object stays)."""
        nameb = _name_bytes(name)
        c = self._h().handle()
        rc = _capi.name_drop(c, nameb)
        if rc == -errno.ENOENT:
            raise NameNotExists(errno.ENOENT, _capi.errmsg(c).decode(
                "utf-8", "replace") or "no object named %r" % name)
        _capi.check(rc, c)

    def list_names(self, pattern=None):
        """{name: ObjectID} for every name matching the glob pattern."""
        conn = self._h()
        c = conn.handle()
        out = {}

        def cb(ctx, name, oid):
            out[name.decode("utf-8", "surrogateescape")] = oid
            return 0

        fn = _capi.NAME_FN(cb)
        with busy(conn):
            rc = _capi.name_list(c, pattern.encode() if pattern else None,
                                 fn, None)
        _capi.check(rc, c)
        return {k: ObjectID(v) for k, v in out.items()}

    # ---- the rest ----

    def delete(self, object_id, force=False, deep=True, memory_trim=False):
        """Deletes an object (or a list of them); unless deep is False, its
        members go too when nothing else uses them. Values already got stay
        readable. Returns how many objects went. force and memory_trim are
        upstream's; here an object another one references is never
        deleted (force or not), and memory goes back to the system as soon
        as no reader maps it."""
        ids = object_id if isinstance(object_id, (list, tuple, set)) \
            else [object_id]
        ids = [_id_of(i) for i in ids]
        c = self._h().handle()
        arr = (ctypes.c_uint64 * len(ids))(*ids)
        n = ctypes.c_size_t()
        _capi.check(_capi.delete(c, arr, len(ids),
                                 0 if deep else _capi.DELETE_SHALLOW,
                                 ctypes.byref(n)), c)
        return n.value

    def persist(self, object_id):
        """Makes an object (an id, Object or created ObjectMeta) and
        everything it references survive a daemon restart (needs a daemon
        with a data directory). A list or tuple of them persists as one
        group, all or none, synced together: much faster than one call
        each for many small objects."""
        c = self._h().handle()
        if isinstance(object_id, (list, tuple)):
            ids = [_id_of(i) for i in object_id]
            if not ids:
                return
            arr = (ctypes.c_uint64 * len(ids))(*ids)
            _capi.check(_capi.persist_many(c, arr, len(ids)), c)
            return
        _capi.check(_capi.persist(c, _id_of(object_id)), c)

    # ---- spilling (vineyardd --spill-dir), upstream's names ----

    def _spill_ids(self, objects):
        ids = objects if isinstance(objects, (list, tuple, set)) \
            else [objects]
        ids = [_id_of(i) for i in ids]
        return (ctypes.c_uint64 * len(ids))(*ids), len(ids)

    def evict(self, objects):
        """Writes the blobs of these objects to the daemon's spill
        directory now and frees their memory; they stay listed and named
        and come back on the next get. Blobs a reader maps stay in
        memory."""
        arr, n = self._spill_ids(objects)
        c = self._h().handle()
        _capi.check(_capi.evict(c, arr, n), c)

    def load(self, objects, pin=False):
        """Reads spilled objects back into memory (a get does that by
        itself); with pin=True they are never spilled until unpin."""
        arr, n = self._spill_ids(objects)
        c = self._h().handle()
        _capi.check(_capi.load(c, arr, n, 1 if pin else 0), c)

    def unpin(self, objects):
        """Lets objects pinned by load(..., pin=True) be spilled again."""
        arr, n = self._spill_ids(objects)
        c = self._h().handle()
        _capi.check(_capi.unhold(c, arr, n), c)

    def is_spilled(self, object_id):
        """True when some blob of the object is on disk only."""
        oid = _id_of(object_id)
        c = self._h().handle()
        v = ctypes.c_int()
        _capi.check(_capi.is_spilled(c, oid, ctypes.byref(v)), c)
        return bool(v.value)

    def exists(self, object_id):
        """True when the object is in the store."""
        oid = _id_of(object_id)
        c = self._h().handle()
        p = ctypes.c_void_p()
        rc = _capi.meta_json(c, oid, ctypes.byref(p))
        if rc == -errno.ENOENT:
            return False
        _capi.check(rc, c)
        _capi.free(p.value)
        return True

    def list_objects(self, pattern=None):
        """ObjectInfo for every object (blobs included) whose typename
        matches the glob pattern, in id order."""
        conn = self._h()
        c = conn.handle()
        out = []

        def cb(ctx, ep):
            e = ep.contents
            names = tuple(e.names[i].decode("utf-8", "surrogateescape")
                          for i in range(e.nnames))
            out.append(ObjectInfo(ObjectID(e.id), e.typename.decode(
                "utf-8", "replace"), e.nbytes, bool(e.is_blob),
                bool(e.persisted), names))
            return 0

        fn = _capi.LIST_FN(cb)
        with busy(conn):
            rc = _capi.list(c, pattern.encode() if pattern else None, fn,
                            None)
        _capi.check(rc, c)
        return out

    def meta_json(self, object_id):
        """meta.json of an object as the daemon renders it (text)."""
        oid = _id_of(object_id)
        c = self._h().handle()
        p = ctypes.c_void_p()
        _capi.check(_capi.meta_json(c, oid, ctypes.byref(p)), c)
        return _capi.take_string(p.value)

    @property
    def status(self):
        """The daemon's figures: a dict of ours (objects, used_bytes,
        limit_bytes...) whose attributes are upstream's (memory_usage,
        memory_limit, ipc_connections...). Calling it, as in
        client.status(), gives the same."""
        c = self._h().handle()
        p = ctypes.c_void_p()
        _capi.check(_capi.status_json(c, ctypes.byref(p)), c)
        return Status(json.loads(_capi.take_string(p.value)))


def connect(*args, **kw):
    """Connects to vineyardd: ``connect(path)`` through its UNIX socket
    (default $VINEYARD_IPC_SOCKET, else /var/run/vineyard.sock), or
    ``connect(host, port)``, ``connect('host:port')``,
    ``connect(endpoint=(host, port))`` through its TCP front (vineyardd
    --rpc; also $VINEYARD_RPC_ENDPOINT when no socket is set), with
    ``token=`` (else $VINEYARD_RPC_TOKEN) when the daemon asks for one.
    Over TCP blob bytes go by copy. Raises vineyard.ConnectionFailed (with
    the reason) when no daemon answers there."""
    return Client(*args, **kw)


class RPCClient(Client):
    """Upstream's name for a client over TCP: ``RPCClient(host, port)``
    is ``connect(host, port)``."""

    def __init__(self, host=None, port=None, endpoint=None, token=None,
                 **upstream):
        if isinstance(host, _TCP):
            super().__init__(host)
            return
        if host is not None and port is None and endpoint is None:
            host, endpoint = None, host
        if host is None and port is None and endpoint is None:
            raise InvalidArgument(errno.EINVAL, "an RPCClient needs a host "
                                  "and port, or an endpoint")
        super().__init__(None, port, host, endpoint, token, **upstream)
