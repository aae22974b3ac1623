"""The calls of upstream Vineyard's IPCClient that the Client has on top of
its own (client.py): creating metadata and blobs the upstream way, getting
several objects, fork/clear/memory_trim, shallow copies, finding the blob
behind a pointer, listing metadata, and the small properties.

A mixin: every method runs on a Client (self._h(), self.get_object...).
"""
import ctypes
import errno
import re

import numpy as np

from .. import _capi
from .._blob import BlobBuilder
from .._object import Blob
from .._types import ObjectID, ObjectMeta
from ..errors import (InvalidArgument, ObjectInUse, ObjectNotExists,
                      UnsupportedType)


def _pointer(p):
    """An address from an int or anything exposing memory."""
    if isinstance(p, (int, np.integer)):
        return int(p)
    if isinstance(p, np.ndarray):
        return p.__array_interface__["data"][0]
    try:
        with memoryview(p) as mv:
            return np.asarray(mv).__array_interface__["data"][0]
    except (TypeError, ValueError):
        raise InvalidArgument(errno.EINVAL, "a pointer is an int address "
                              "or a buffer") from None


class UpstreamCalls:
    # ---- metadata ----

    def create_metadata(self, metadata, instance_id=None):
        """Creates the object an ObjectMeta (or a list of them) describes;
        returns its metadata as stored, with ``id`` set (the given one gets
        its ``id`` too). Members are ObjectIDs, Objects, created
        ObjectMetas, new ObjectMetas (created with it) or buffers."""
        if isinstance(metadata, (list, tuple)):
            return [self.create_metadata(m) for m in metadata]
        if not isinstance(metadata, ObjectMeta):
            raise InvalidArgument(errno.EINVAL, "create_metadata takes an "
                                  "ObjectMeta, not %s" %
                                  type(metadata).__name__)
        if (metadata.isglobal and metadata.id is None
                and self.status.deployment == "distributed"):
            oid = self.create_global(metadata)
        else:
            # A daemon without --etcd is a cluster of one, as upstream's
            # standalone vineyardd, which takes global metadata too: the
            # object is an ordinary local one (vineyard-python(7)).
            oid = self.create(metadata)
        metadata.id = oid
        return self.get_meta(oid)

    def get_objects(self, object_ids, sync_remote=True):
        return [self.get_object(i) for i in object_ids]

    def get_metas(self, object_ids, sync_remote=False):
        return [self.get_meta(i) for i in object_ids]

    def list_metadatas(self, pattern="*", regex=False, limit=5,
                       nobuffer=False):
        """ObjectMeta of up to limit objects whose typename matches pattern
        (a glob, or a regular expression with regex=True), in id order;
        nobuffer leaves blobs out."""
        if regex:
            rx = re.compile(pattern)
            rows = [r for r in self.list_objects() if rx.match(r.typename)]
        else:
            rows = self.list_objects(pattern)
        out = []
        for r in rows:
            if limit is not None and len(out) >= limit:
                break
            if nobuffer and r.is_blob:
                continue
            try:
                out.append(self.get_meta(r.id))
            except ObjectNotExists:
                pass  # deleted meanwhile
        return out

    def shallow_copy(self, object_id, extra_metadata=None):
        """A new object with the same typename, fields (plus
        extra_metadata) and members as object_id: the members are shared,
        not copied. A blob has no shallow copy: its own id comes back."""
        meta = self.get_meta(object_id)
        if meta.is_blob:
            if extra_metadata:
                raise InvalidArgument(errno.EINVAL, "a blob has no fields")
            return meta.id
        copy = ObjectMeta(meta.typename, meta.fields)
        for k, v in (extra_metadata or {}).items():
            copy.fields[k] = v
        for name, member in meta.members.items():
            copy.members[name] = member.id
        return self.create(copy)

    # ---- blobs ----

    def create_blob(self, size):
        """A BlobBuilder of size bytes (a list of sizes: a list of them,
        made in one round trip)."""
        sizes = list(size) if isinstance(size, (list, tuple)) else [size]
        for n in sizes:
            if not isinstance(n, (int, np.integer)) or n < 0:
                raise InvalidArgument(errno.EINVAL, "a blob size is an int "
                                      ">= 0, not %r" % (n,))
        conn = self._h()
        c = conn.handle()
        lens = (ctypes.c_size_t * len(sizes))(*[int(n) for n in sizes])
        ws = (ctypes.c_void_p * len(sizes))()
        _capi.check(_capi.blob_create_many(c, lens, len(sizes), ws), c)
        out = [BlobBuilder(self, conn, w) for w in ws]
        return out if isinstance(size, (list, tuple)) else out[0]

    def create_empty_blob(self):
        return self.create_blob(0)

    def get_blob(self, object_id, unsafe=False):
        """The blob object_id, its bytes mapped read-only (a Blob)."""
        obj = self.get_object(object_id)
        if not isinstance(obj, Blob):
            raise UnsupportedType("object %s is a %s, not a blob" % (
                obj.id, obj.typename))
        return obj

    def get_blobs(self, object_ids, unsafe=False):
        return [self.get_blob(i) for i in object_ids]

    def allocated_size(self, object_id):
        oid = object_id.id if hasattr(object_id, "id") else object_id
        return self.get_meta(oid)["nbytes"]

    def find_shared_memory(self, pointer):
        """The ObjectID of the blob whose memory, as this client maps it,
        holds pointer (an address, or a buffer); None when none does."""
        addr = _pointer(pointer)
        conn = self._h()
        for w in list(conn.writers):
            m = w._map
            if m is not None:
                start = m.__array_interface__["data"][0]
                if start <= addr < start + w.size:
                    return w.id
        for tree in list(conn.trees):
            root = tree.root
            if root:
                hit = _find_in(root, addr)
                if hit is not None:
                    return ObjectID(hit)
        return None

    def is_shared_memory(self, pointer):
        """True when pointer lies in a blob this client maps."""
        return self.find_shared_memory(pointer) is not None

    # ---- the store as a whole ----

    def clear(self):
        """Deletes every object and name in the store."""
        for name in self.list_names():
            try:
                self.drop_name(name)
            except ObjectNotExists:
                pass
        ids = [r.id for r in self.list_objects()]
        # An object that others reference goes once they are gone: a few
        # passes, each deleting what nothing references any more.
        for _ in range(16):
            left = []
            for oid in ids:
                try:
                    self.delete(oid, deep=False)
                except ObjectInUse:
                    left.append(oid)
                except ObjectNotExists:
                    pass
            if not left or len(left) == len(ids):
                ids = left
                break
            ids = left
        if ids:
            raise ObjectInUse(errno.EBUSY, "clear: %d objects are still "
                              "referenced" % len(ids))

    def memory_trim(self):
        """Upstream returns freed memory to the system here; vineyardd does
        it as soon as a deleted blob is no longer mapped. Returns True."""
        self._h()
        return True

    def fork(self):
        """A new client to the same daemon (for a child process, or a
        thread of its own)."""
        return type(self)(self._path)

    def release_object(self, object_id):
        """Values release their memory when they go; nothing to do."""

    def release_objects(self, object_ids):
        """Values release their memory when they go; nothing to do."""

    def sync_meta(self):
        """One daemon: always in sync."""

    # ---- small properties ----

    @property
    def instance_id(self):
        """The daemon's instance id in its cluster (vineyardd --etcd), 0
        when it is not in one (or has not joined yet)."""
        return self.status.instance_id

    remote_instance_id = instance_id  # upstream's RPCClient name

    @property
    def ipc_socket(self):
        return "" if self.is_rpc else self._path

    @property
    def rpc_endpoint(self):
        """"HOST:PORT" of a client over TCP, else ""."""
        return str(self._path) if self.is_rpc else ""

    @property
    def connected(self):
        return self._conn is not None

    @property
    def is_ipc(self):
        return not self.is_rpc

    @property
    def is_rpc(self):
        """True for a client over TCP (connect(host, port))."""
        return isinstance(self._path, tuple)

    @property
    def version(self):
        """The version of libvineyard in use."""
        return _capi.version().decode()


def _find_in(node, addr):
    """The id of the blob under node whose mapping holds addr, or None."""
    if _capi.object_is_blob(node):
        data = _capi.object_data(node)
        if data and data <= addr < data + _capi.object_nbytes(node):
            return _capi.object_id(node)
        return None
    for i in range(_capi.object_nmembers(node)):
        hit = _find_in(_capi.object_member(node, i), addr)
        if hit is not None:
            return hit
    return None
