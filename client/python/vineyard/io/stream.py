"""Streams of sealed chunks (vineyard-python(7), STREAMS), in the shape of
upstream Vineyard's vineyard.io: a stream object (BaseStream) that opens
readers and a writer. Readers are iterators: next() returns the next chunk
and raises StopIteration at the end of a finished stream, StreamFailed
after the last chunk of a failed one. The waiting happens in the daemon;
a reader waiting holds its client, so give each waiting thread a client.
"""
import ctypes
import errno

from .. import _capi
from .._object import _Tree, wrap
from .._types import ObjectID
from ..core.client import _id_of, _name_bytes
from ..errors import InvalidArgument, StreamFailed

STATES = {1: "open", 2: "finished", 3: "failed"}


def _ms(timeout):
    """Seconds (None: no end) as the library's milliseconds."""
    if timeout is None:
        return -1
    if timeout < 0:
        raise InvalidArgument(errno.EINVAL, "timeout must be >= 0 seconds")
    return int(min(timeout * 1000.0, 2 ** 31 - 1))


class _Handle:
    """A vy_stream handle on one connection, closed once."""

    __slots__ = ("conn", "ptr")

    def __init__(self, conn, ptr):
        self.conn = conn
        self.ptr = ptr

    def close(self):
        ptr, self.ptr = self.ptr, None
        if ptr and self.conn.usable():
            _capi.stream_close(self.conn.handle(), ptr)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass  # interpreter shutdown, or the daemon gone

    def c(self):
        if self.ptr is None:
            raise InvalidArgument(errno.EBADF, "the stream handle is closed")
        return self.conn.handle(), self.ptr


def _open(client, stream_id, name, write, timeout):
    conn = client._h()
    c = conn.handle()
    out = ctypes.c_void_p()
    nameb = _name_bytes(name) if name is not None else None
    rc = (_capi.stream_open_writer if write else _capi.stream_open_reader)(
        c, 0 if name is not None else _id_of(stream_id), nameb,
        _ms(timeout), ctypes.byref(out))
    _capi.check(rc, c)
    return _Handle(conn, out.value)


class BaseStream:
    """A stream: its id, its typename and the client it was got with."""

    typename = None      # set by each kind
    objects = False      # chunks are objects (else blobs)

    class Reader:
        """Takes the stream's chunks in order; its own position."""

        def __init__(self, client, stream, timeout=None):
            self._client = client
            self._stream = stream
            self._h = _open(client, stream.id, None, False, timeout)

        def next_object(self, timeout=None):
            """The next chunk as a vineyard.Object (a Blob for byte
            streams); StopIteration at the end."""
            c, s = self._h.c()
            out = ctypes.c_void_p()
            rc = _capi.stream_read(c, s, _ms(timeout), ctypes.byref(out))
            if rc == -errno.EIO:
                raise StreamFailed(errno.EIO, _capi.errmsg(c).decode(
                    "utf-8", "replace"))
            _capi.check(rc, c)
            if not out.value:
                raise StopIteration("no more chunks")
            return wrap(_Tree(self._h.conn, out.value, self._client),
                        out.value)

        def next(self, timeout=None):
            return self.next_object(timeout)

        def __iter__(self):
            return self

        def __next__(self):
            return self.next()

        def close(self):
            """Stops reading: chunks this reader held back may go."""
            self._h.close()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

        def __repr__(self):
            return "<%s.Reader of %s>" % (type(self._stream).__name__,
                                          self._stream.id)

    class Writer:
        """The stream's one writer. As a context manager it finishes the
        stream on success and fails it on an exception."""

        def __init__(self, client, stream):
            self._client = client
            self._stream = stream
            self._h = _open(client, stream.id, None, True, None)
            self._pending = False
            self.timeout = 60.0  # seconds to wait for room (backpressure)

        def _flush(self):
            if self._pending:
                c, s = self._h.c()
                self._pending = False
                _capi.check(_capi.stream_append(c, s, 0, _ms(self.timeout)),
                            c)

        def append(self, chunk):
            """Appends a sealed object (an object stream's chunk)."""
            self._flush()
            c, s = self._h.c()
            _capi.check(_capi.stream_append(c, s, _id_of(chunk),
                                            _ms(self.timeout)), c)

        def finish(self):
            """Ends the stream: readers get StopIteration after the last
            chunk."""
            self._flush()
            c, s = self._h.c()
            _capi.check(_capi.stream_finish(c, s), c)
            self._h.close()

        def fail(self, why=None):
            """Ends the stream as failed: readers get StreamFailed (with
            why) after the chunks sealed so far."""
            c, s = self._h.c()
            self._pending = False
            whyb = str(why).encode("utf-8", "replace")[:239] if why else None
            _capi.check(_capi.stream_fail(c, s, whyb), c)
            self._h.close()

        def close(self):
            """Closes the writer; a stream not finished fails."""
            self._h.close()

        def __enter__(self):
            return self

        def __exit__(self, et, ev, tb):
            if self._h.ptr is None:
                return
            if et is None:
                self.finish()
            else:
                try:
                    self.fail("%s: %s" % (et.__name__, ev))
                except Exception:
                    self.close()

        def __repr__(self):
            return "<%s.Writer of %s>" % (type(self._stream).__name__,
                                          self._stream.id)

    def __init__(self, client, stream_id, typename=None):
        self._client = client
        self._id = ObjectID(int(_id_of(stream_id)))
        if typename is not None:
            self.typename = typename

    @classmethod
    def new(cls, client, params=None, meta=None, name=None):
        """Creates a stream (named name, if given). params and meta are
        upstream's; accepted, not stored."""
        conn = client._h()
        c = conn.handle()
        out = ctypes.c_uint64()
        nameb = _name_bytes(name) if name is not None else None
        _capi.check(_capi.stream_create(c, cls.typename.encode(),
                                        1 if cls.objects else 0, nameb,
                                        ctypes.byref(out)), c)
        return cls(client, out.value)

    @classmethod
    def get(cls, client, name, timeout=None):
        """The stream named name (or with that id), waiting up to timeout
        seconds (None: no end) for the name."""
        if isinstance(name, str):
            info = _info(client, None, name, timeout)
        else:
            info = _info(client, name, None, None)
        return cls(client, info.id, info.typename.decode())

    @property
    def id(self):
        return self._id

    @property
    def meta(self):
        return self._client.get_meta(self._id)

    def info(self):
        """The stream's state as a dict: state ("open", "finished",
        "failed"), readers, writer, chunks appended and held, bytes..."""
        i = _info(self._client, self._id, None, None)
        return {"state": STATES.get(i.state, "?"), "writer": bool(i.writer),
                "readers": i.readers, "appended": i.appended,
                "first": i.first, "held": i.held,
                "held_bytes": i.held_bytes, "bytes": i.bytes,
                "why": i.why.decode("utf-8", "replace"),
                "typename": i.typename.decode()}

    def open_reader(self, client=None, timeout=None):
        return self.Reader(client or self._client, self, timeout)

    def open_writer(self, client=None):
        return self.Writer(client or self._client, self)

    def drop(self, client=None):
        """Deletes the stream and the chunks it holds."""
        (client or self._client).delete(self._id)

    def __repr__(self):
        return "<%s %s>" % (type(self).__name__, self._id)


def _info(client, stream_id, name, timeout):
    conn = client._h()
    c = conn.handle()
    if name is not None and timeout != 0:
        # wait for the name as a get would, then ask
        client.get_name(name, wait=True, timeout=2.0 ** 31 / 1000
                        if timeout is None else timeout)
    info = _capi.StreamInfo()
    _capi.check(_capi.stream_info(
        c, 0 if name is not None else _id_of(stream_id),
        _name_bytes(name) if name is not None else None,
        ctypes.byref(info)), c)
    return info
