"""b63-tcpcopy: the baseline of b63-migrate. One process sends N bytes over
a loopback TCP connection to another, which receives them into a buffer it
has already written to (pre-faulted). Prints the receiver's seconds, from
accepting the connection to the last byte.

argv: N [huge]. With "huge" both buffers are anonymous mappings advised
MADV_HUGEPAGE before they are written (the memory a daemon started with
--huge-pages enable receives into); without, ordinary 4 KiB pages."""
import mmap
import os
import socket
import sys
import time

n = int(sys.argv[1])
huge = len(sys.argv) > 2 and sys.argv[2] == 'huge'


def buffer(fill):
    m = mmap.mmap(-1, n)
    if huge and hasattr(mmap, 'MADV_HUGEPAGE'):
        m.madvise(mmap.MADV_HUGEPAGE)
    step = 1 << 20
    block = fill * step
    for off in range(0, n, step):           # written: pre-faulted
        k = min(step, n - off)
        m[off:off + k] = block[:k]
    return m


srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen(1)
port = srv.getsockname()[1]
pid = os.fork()
if pid == 0:
    srv.close()
    data = memoryview(buffer(b'\x5a'))
    s = socket.create_connection(('127.0.0.1', port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(data)
    s.close()
    os._exit(0)
mv = memoryview(buffer(b'\x01'))
c, _ = srv.accept()
t = time.monotonic()
got = 0
while got < n:
    k = c.recv_into(mv[got:], n - got)
    if not k:
        break
    got += k
dt = time.monotonic() - t
os.waitpid(pid, 0)
if got != n:
    sys.exit("short copy: %d of %d bytes" % (got, n))
print("%.6f" % dt)
