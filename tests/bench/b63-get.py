#!/usr/bin/env python3
"""b63-get: a get of an object fetched from another instance, once it is
here, against a get of an object put on the same daemon (issue 13: ratio
<= 1.2). Driven by b63-migrate.sh: the fetched blob and a local blob of the
same size, both on B; gets (vy_get then vy_object_release, through
libvineyard) alternate between the two so both see the same load.

argv: LIBVINEYARD B_SOCK FETCHED_ID LOCAL_ID [N]
Prints: median microseconds of each, and their ratio."""
import ctypes
import statistics
import sys
import time

lib_path, sock, fid, lid = sys.argv[1:5]
n = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
lib = ctypes.CDLL(lib_path)
P = ctypes.c_void_p
lib.vy_connect_err.argtypes = [ctypes.c_char_p, ctypes.POINTER(P),
                               ctypes.c_char_p, ctypes.c_size_t]
lib.vy_get.argtypes = [P, ctypes.c_uint64, ctypes.POINTER(P)]
lib.vy_object_release.argtypes = [P, P]
lib.vy_object_release.restype = None


def ident(s):
    return int(s[1:], 16) if s.startswith('o') else int(s)


c = P()
err = ctypes.create_string_buffer(600)
if lib.vy_connect_err(sock.encode(), ctypes.byref(c), err, 600):
    sys.exit("connect: %s" % err.value.decode())
ids = {'fetched': ident(fid), 'local': ident(lid)}
times = {'fetched': [], 'local': []}
o = P()
for i in range(n):
    for k in (('fetched', 'local') if i % 2 else ('local', 'fetched')):
        t = time.perf_counter()
        rc = lib.vy_get(c, ids[k], ctypes.byref(o))
        lib.vy_object_release(c, o)
        times[k].append(time.perf_counter() - t)
        if rc:
            sys.exit("vy_get of the %s object: %d" % (k, rc))
f = statistics.median(times['fetched']) * 1e6
l = statistics.median(times['local']) * 1e6
print("%.1f %.1f %.3f" % (f, l, f / l))
