"""ByteStream: a stream of bytes in chunks that are blobs, as upstream's
vineyard.io.byte. The writer's next(size) gives a chunk to fill in place
(valid until the next call), write(data) copies; the reader's next()
returns each chunk as a read-only memoryview of the store's memory, with
no copy (it keeps the chunk mapped while it lives)."""
import ctypes

from .. import _capi
from .stream import BaseStream, _ms


class ByteStream(BaseStream):
    typename = "vineyard::ByteStream"
    objects = False

    class Reader(BaseStream.Reader):
        def next(self, timeout=None):
            """The next chunk's bytes (a read-only memoryview)."""
            return self.next_object(timeout).buffer

        def read_all(self, timeout=None):
            """Every remaining byte, joined (a copy)."""
            return b"".join(bytes(c) for c in iter(
                lambda: self._next_or_none(timeout), None))

        def _next_or_none(self, timeout):
            try:
                return self.next(timeout)
            except StopIteration:
                return None

    class Writer(BaseStream.Writer):
        def next(self, size):
            """A new chunk of size bytes to fill: a writable memoryview,
            valid until the next call (which appends it) or finish()."""
            self._flush()
            c, s = self._h.c()
            p = ctypes.c_void_p()
            _capi.check(_capi.stream_next_chunk(c, s, size, _ms(self.timeout),
                                                ctypes.byref(p)), c)
            self._pending = True
            return memoryview((ctypes.c_char * size).from_address(
                p.value)).cast("B")

        def write(self, data):
            """Appends a copy of data (bytes-like, non-empty) as one
            chunk."""
            self._flush()
            mv = memoryview(data).cast("B")
            if not mv.nbytes:
                return
            c, s = self._h.c()
            buf = (ctypes.c_char * mv.nbytes).from_buffer_copy(mv) \
                if mv.readonly else (ctypes.c_char * mv.nbytes).from_buffer(mv)
            _capi.check(_capi.stream_write(c, s, buf, mv.nbytes,
                                           _ms(self.timeout)), c)
