#!/usr/bin/env bash
# b16-spill-rr (issue 15): a working set of 4 x --size read round-robin.
#   A daemon with --size S (default 256 MiB, BENCH_SPILL_MIB) and a mount
#   holds 8 blobs of S/2 (4 x S in all; half compressible, half random),
#   put from 8 plain files in the same file system (/var/tmp, where the
#   spill directory is). Each round reads every blob in turn and touches
#   every byte (a sum over its words); with LRU every read brings its blob
#   back from the spill file while older ones are dropped (their spill
#   files stay) to make room. Two ways, each against the same files read
#   the same way:
#   (a) a get over the socket (the blob mapped, then summed) vs
#       np.fromfile of the file (a new array; fresh pages, as a get's are);
#   (b) read() through the mount into a buffer faulted in ahead vs read()
#       of the file into that buffer.
# Both read from disk: a spill file is written with O_DIRECT and its page
# cache is dropped after a read back; the baseline drops each file's page
# cache (fsync + POSIX_FADV_DONTNEED) before reading it, untimed. The
# first round is a warm-up; figures are medians of the rounds after it
# (BENCH_ROUNDS, default 3).
set -u
B=$VY_BUILD
PY=${PYTHON:-/usr/bin/python3}
MIB=${BENCH_SPILL_MIB:-256}
ROUNDS=${BENCH_ROUNDS:-3}
D=$(mktemp -d /var/tmp/vy-bench16.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	if mountpoint -q "$D/mnt" 2>/dev/null; then
		fusermount3 -u "$D/mnt" 2>/dev/null || umount -l "$D/mnt"
	fi
	rm -rf "$D"
}
trap cleanup EXIT

mkdir "$D/mnt"
"$B/vineyardd" -f -s "$D/v.sock" --data-dir "$D/data" --size "${MIB}M" \
	--mount "$D/mnt" >>"$D/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
	"$B/vineyardctl" -s "$D/v.sock" status >/dev/null 2>&1 && break
	sleep 0.05
done
if ! "$B/vineyardctl" -s "$D/v.sock" status >/dev/null 2>&1; then
	echo "vineyardd did not start"; cat "$D/daemon.log"; exit 1
fi
echo "uptime: $(uptime)"
echo "mount: $(grep -o '"fs_mode": "[a-z]*"' "$D/mnt/status.json")"
PYTHONPATH=$(cd "$B/../client/python" && pwd) VINEYARD_LIBRARY=$B/libvineyard.so.0 \
	"$PY" - "$D/v.sock" "$MIB" "$ROUNDS" "$D" "$B/vineyardctl" <<'EOF'
import os, subprocess, sys, time
import numpy as np
import vineyard

sock, mib, rounds, d, ctl = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                             sys.argv[4], sys.argv[5])
nblobs = 8
n = (mib << 20) // 2          # 8 x S/2 = 4 x --size
c = vineyard.connect(sock)

def part(i):
    a = np.empty(n, dtype=np.uint8)
    a[: n // 2] = (np.arange(n // 2, dtype=np.uint64) * (i + 1)).astype(np.uint8)
    a[n // 2:] = np.random.default_rng(i).integers(0, 256, n - n // 2,
                                                   dtype=np.uint8)
    return a

files, sums = [], []
for i in range(nblobs):
    a = part(i)
    sums.append(int(a.view(np.uint64).sum(dtype=np.uint64)))
    f = os.path.join(d, "part%d.bin" % i)
    with open(f, "wb") as out:
        out.write(a.data)
        out.flush()
        os.fsync(out.fileno())
    files.append(f)
    del a
    subprocess.run([ctl, "-s", sock, "put", f, "--name", "p%d" % i],
                   stdout=subprocess.DEVNULL, check=True)
mnt = [os.path.join(d, "mnt", "names", "p%d" % i, "data")
       for i in range(nblobs)]

def drop(f):
    fd = os.open(f, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)

def get():
    t = time.perf_counter()
    for i in range(nblobs):
        v = c.get(name="p%d" % i)
        s = int(np.frombuffer(v, dtype=np.uint64).sum(dtype=np.uint64))
        del v
        assert s == sums[i], "blob %d came back different" % i
    return time.perf_counter() - t

def fromfile():
    dt = 0.0
    for i, f in enumerate(files):
        drop(f)               # not timed
        t = time.perf_counter()
        a = np.fromfile(f, dtype=np.uint8)
        s = int(a.view(np.uint64).sum(dtype=np.uint64))
        dt += time.perf_counter() - t
        assert a.size == n and s == sums[i], "file %d read short" % i
        del a
    return dt

buf = np.ones(n, dtype=np.uint8)   # faulted in
def readinto(paths, cold):
    dt = 0.0
    for i, f in enumerate(paths):
        if cold:
            drop(f)           # not timed
        t = time.perf_counter()
        with open(f, "rb", buffering=0) as src:
            got = src.readinto(buf.data)
        s = int(buf.view(np.uint64).sum(dtype=np.uint64))
        dt += time.perf_counter() - t
        assert got == n and s == sums[i], "%s read short" % f
    return dt

keys = ("get", "fromfile", "mount", "readinto")
r = {k: [] for k in keys}
for k in range(rounds + 1):
    x = (get(), fromfile(), readinto(mnt, False), readinto(files, True))
    if k:
        for key, v in zip(keys, x):
            r[key].append(v)
tot = nblobs * n
med = {k: sorted(v)[len(v) // 2] for k, v in r.items()}
for k in keys:
    print("  rounds (s), %-9s %s" % (k, " ".join("%.2f" % x for x in r[k])))
gb = lambda k: tot / med[k] / 1e9
print("round-robin reads of 8 x %d MiB (4 x --size %dM), cold, get + sum: "
      "%.2f GB/s   baseline the files, np.fromfile + sum: %.2f GB/s   ratio "
      "%.2f  (report)" % (n >> 20, mib, gb("get"), gb("fromfile"),
                          med["fromfile"] / med["get"]))
print("the same through the mount, read() into a buffer + sum: %.2f GB/s   "
      "baseline the files, read() into it + sum: %.2f GB/s   ratio %.2f  "
      "(report)" % (gb("mount"), gb("readinto"),
                    med["readinto"] / med["mount"]))
EOF
rc=$?
grep -i "warn\|error" "$D/daemon.log" | head -5
exit $rc
