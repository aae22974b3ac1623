"""PickledReader and PickledWriter (upstream's vineyard.data.pickle): a
Python value as a stream of bytes read in blocks, and back, without
copying large buffers on the way out.

The reader pickles the value (protocol 5) with its buffers out of band and
serves, block by block: a header, the pickle stream, then each buffer
straight from the value's own memory. bytes and memoryviews are served as
they are, with no header. The writer collects the blocks into one
preallocated buffer and, at close(), unpickles over slices of it (the
arrays it gives back share that buffer), or gives the raw bytes as a
memoryview when there is no header.

Header, all integers 8 bytes little-endian: MAGIC, the stream length, the
number of buffers, each buffer's length; then the stream; then each
buffer, every part starting on a 64-byte boundary so that arrays read
back are aligned.
"""
import pickle as _pickle
import struct

import numpy as np

MAGIC = b"VYPKL\x00v1"
_ALIGN = 64


def _pad(n):
    return -n % _ALIGN


def _aligned(n):
    """n writable bytes starting on an _ALIGN boundary."""
    raw = np.empty(n + _ALIGN, np.uint8)
    off = -raw.__array_interface__["data"][0] % _ALIGN
    return raw[off:off + n]


class PickledReader:
    """Serves value as blocks: read(block_size) until it returns b''."""

    def __init__(self, value):
        self._value = value
        if isinstance(value, (bytes, memoryview)):
            self._chunks = [memoryview(value).cast("B")]
        else:
            bufs = []
            stream = _pickle.dumps(value, protocol=5,
                                   buffer_callback=bufs.append)
            raws = []
            for b in bufs:
                try:
                    raws.append(b.raw())
                except BufferError:  # not contiguous: copy it once
                    raws.append(memoryview(memoryview(b).tobytes()))
            head = MAGIC + struct.pack("<QQ", len(stream), len(raws)) + \
                b"".join(struct.pack("<Q", r.nbytes) for r in raws)
            head += b"\0" * _pad(len(head))
            chunks = [memoryview(head), memoryview(stream),
                      memoryview(b"\0" * _pad(len(stream)))]
            for r in raws:
                chunks.append(r)
                chunks.append(memoryview(b"\0" * _pad(r.nbytes)))
            self._chunks = [c for c in chunks if c.nbytes]
        self._store_size = sum(c.nbytes for c in self._chunks)
        self._i = 0
        self._off = 0

    @property
    def value(self):
        return self._value

    @property
    def store_size(self):
        """The total number of bytes read() serves."""
        return self._store_size

    def read(self, block_size=-1):
        """The next block: at most block_size bytes (-1: the rest of the
        current part) as a memoryview; b'' at the end."""
        while self._i < len(self._chunks) and \
                self._off == self._chunks[self._i].nbytes:
            self._i += 1
            self._off = 0
        if self._i >= len(self._chunks):
            return b""
        chunk = self._chunks[self._i]
        end = chunk.nbytes if block_size is None or block_size < 0 \
            else min(chunk.nbytes, self._off + block_size)
        out = chunk[self._off:end]
        self._off = end
        return out


class PickledWriter:
    """Takes the blocks a PickledReader served; value is None until
    close()."""

    def __init__(self, store_size=-1):
        self._buf = _aligned(store_size if store_size > 0 else 0)
        self._len = 0
        self._value = None

    @property
    def value(self):
        return self._value

    def write(self, block):
        src = np.frombuffer(block, np.uint8)
        end = self._len + src.nbytes
        if end > len(self._buf):  # no size given: grow by doubling
            bigger = _aligned(max(end, 2 * len(self._buf)))
            bigger[:self._len] = self._buf[:self._len]
            self._buf = bigger
        self._buf[self._len:end] = src
        self._len = end

    def close(self):
        data = memoryview(self._buf[:self._len])
        if self._len < len(MAGIC) + 16 or \
                bytes(data[:len(MAGIC)]) != MAGIC:
            self._value = data
            return
        off = len(MAGIC)
        slen, nbuf = struct.unpack_from("<QQ", data, off)
        off += 16
        sizes = struct.unpack_from("<%dQ" % nbuf, data, off)
        off += 8 * nbuf
        off += _pad(off)
        stream = data[off:off + slen]
        off += slen + _pad(slen)
        bufs = []
        for n in sizes:
            bufs.append(data[off:off + n])
            off += n + _pad(n)
        if off > self._len:
            raise ValueError("PickledWriter: the blocks end before the "
                             "value does (%d of %d bytes)" % (self._len,
                                                              off))
        self._value = _pickle.loads(stream, buffers=bufs)


__all__ = ["PickledReader", "PickledWriter"]
