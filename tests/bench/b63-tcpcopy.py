"""b63-tcpcopy: the baseline of b63-migrate. One process sends N bytes over
a loopback TCP connection to another, which receives them into a buffer it
has already written to (pre-faulted). Prints the receiver's seconds, from
accepting the connection to the last byte."""
import os
import socket
import sys
import time

n = int(sys.argv[1])
srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen(1)
port = srv.getsockname()[1]
pid = os.fork()
if pid == 0:
    srv.close()
    data = memoryview(bytearray(b'\x5a') * n)   # written: pre-faulted
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(data)
    s.close()
    os._exit(0)
buf = bytearray(b'\x01') * n                      # written: pre-faulted
mv = memoryview(buf)
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
