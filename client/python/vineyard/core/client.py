"""The Client: a connection to vineyardd and every operation on it, with
upstream Vineyard's IPCClient calls (create_metadata, get_object(s),
get_meta(s), create_blob, get_blob(s), fork, clear...) beside ours.

put() and create() are in put.py (PutCalls). get()
fetches a whole tree, blobs mapped, in one request and runs the
resolvers over it; the values share the store's memory.
"""
import ctypes
import errno
import json
import threading

from .. import _capi
from .._conn import _TCP, _Conn, busy, generation
from .._object import Object, _Tree, wrap
from .._types import ObjectID, ObjectInfo, ObjectMeta
from .address import address
from ..errors import (ConnectionLost, InvalidArgument, NameNotExists,
                      ObjectNotExists)
from .resolver import ResolveContext, ResolverContext
from .put import PutCalls, _created, _id_of, _name_bytes
from .status import Status
from .upstream_calls import UpstreamCalls

#: Seconds a get or get_name by name waits for the name to appear, unless
#: told otherwise with timeout=.
DEFAULT_NAME_TIMEOUT = 30.0



def _timeout_ms(timeout):
    if timeout is None:
        timeout = DEFAULT_NAME_TIMEOUT
    if timeout < 0:
        raise InvalidArgument(errno.EINVAL, "timeout must be >= 0 seconds")
    return int(min(timeout * 1000.0, 2 ** 31 - 1))


class Client(PutCalls, UpstreamCalls):
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
