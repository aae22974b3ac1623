"""One libvineyard connection (struct vy_client) and its life across
fork(): the Python side of the C handle's ownership.

A _Conn is shared by its Client and by every tree of objects got through
it; the C handle is closed when the last of them goes, so closing a Client
never unmaps memory that a live array still shows.

fork(): the child must never use the parent's socket. An at-fork hook
closes every inherited handle in the child (vy_close in a child closes the
descriptor and leaves the shared mappings alone) and bumps a generation
counter; a Client sees the new generation and connects again. Trees
inherited from the parent stay readable in the child and are simply never
released there (their mappings belong to the parent's pins).

A _Conn reaches the daemon through its UNIX socket (a path) or through its
TCP front (a _TCP address: host, port, token), where blob bytes go by copy.
"""
import ctypes
import os
import threading
import weakref

from . import _capi
from .errors import ConnectionFailed, ConnectionLost

_gen = 0                       # bumped in every fork child
_live = weakref.WeakSet()      # every open _Conn of this process
_tls = threading.local()       # .busy: a _Conn whose C lock this thread holds


def _after_fork_child():
    global _gen
    _gen += 1
    for conn in list(_live):
        conn._drop_inherited()
    _live.clear()


os.register_at_fork(after_in_child=_after_fork_child)


def generation():
    return _gen


class _TCP(tuple):
    """A TCP address: (host, port, token or None)."""

    __slots__ = ()

    def __new__(cls, host, port, token=None):
        return tuple.__new__(cls, (host, port, token))

    def __str__(self):
        return "%s:%d" % (self[0], self[1])


class _Conn:
    __slots__ = ("ptr", "path", "gen", "pending", "trees", "writers", "tcp",
                 "__weakref__")

    def __init__(self, path):
        self.ptr = None
        self.pending = []
        # Live trees and blob builders, for Client.find_shared_memory.
        self.trees = weakref.WeakSet()
        self.writers = weakref.WeakSet()
        handle = ctypes.c_void_p()
        err = ctypes.create_string_buffer(512)
        self.tcp = isinstance(path, _TCP)
        if self.tcp:
            host, port, token = path
            rc = _capi.connect_tcp(host.encode("utf-8"), port,
                                   token.encode("utf-8") if token else None,
                                   ctypes.byref(handle), err, len(err))
        else:
            arg = os.fsencode(path) if path is not None else None
            rc = _capi.connect_err(arg, ctypes.byref(handle), err, len(err))
        if rc < 0:
            msg = err.value.decode("utf-8", "replace") or os.strerror(-rc)
            raise ConnectionFailed(-rc, msg)
        self.ptr = handle.value
        self.path = path if self.tcp else \
            os.fsdecode(_capi.socket_path(self.ptr))
        self.gen = _gen
        _live.add(self)

    def usable(self):
        return self.ptr is not None and self.gen == _gen

    def handle(self):
        """The C handle, releasing first whatever was deferred."""
        if self.ptr is None:
            raise ConnectionLost(32, "the connection to vineyardd at %s "
                                 "is closed" % self.path)
        if self.pending:
            self._release_pending()
        return self.ptr

    def release(self, root):
        """Releases a got tree (unmap + unpin). Called from finalizers,
        which may run in any thread and even inside a libvineyard callback
        of this thread (when the C lock is held): then it is deferred to
        the next call."""
        if not self.usable():
            return  # fork child or closed: the mappings stay as they are
        if getattr(_tls, "busy", None) is self:
            self.pending.append(root)
            return
        _capi.object_release(self.ptr, root)

    def _release_pending(self):
        while True:
            try:
                root = self.pending.pop()  # atomic: threads may race here
            except IndexError:
                return
            _capi.object_release(self.ptr, root)

    def _drop_inherited(self):
        # In a fork child: vy_close closes our copy of the socket and frees
        # the struct; it unmaps nothing because the pid differs.
        ptr, self.ptr = self.ptr, None
        self.pending = []
        if ptr:
            _capi.close(ptr)

    def close(self):
        ptr, self.ptr = self.ptr, None
        if not ptr:
            return
        _live.discard(self)
        if self.gen == _gen:
            for root in self.pending:
                _capi.object_release(ptr, root)
            self.pending = []
            _capi.close(ptr)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass  # interpreter shutdown


class busy:
    """Context manager marking that this thread holds conn's C lock while
    Python code runs (libvineyard list callbacks)."""

    __slots__ = ("conn", "prev")

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.prev = getattr(_tls, "busy", None)
        _tls.busy = self.conn

    def __exit__(self, *exc):
        _tls.busy = self.prev
