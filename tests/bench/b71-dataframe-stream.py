"""DataFrame stream benchmark (run by b71-dataframe-stream.sh; prints the
ratio against a baseline measured in the same run).

100 DataFrames of 10 MiB (8 float64 columns) go from a producer process to
a consumer process, timed from the producer handing over the first frame
until the consumer holds the last one, usable (it checks each frame's
shape and first value, so every frame is really there, in order):
    vineyard   a DataframeStream: the producer writes each frame (put and
               append), the consumer iterates a reader (zero copy)
    Queue      multiprocessing.Queue.put(df) / get() (pickled through a
               pipe), the baseline
Frames are made before the clock starts; medians of BENCH_RUNS stream runs
(default 3) and BENCH_QUEUE_RUNS Queue runs (default 1: a Queue takes
20-30 s per GiB on a busy 2-vCPU VM, a ratio far from the bar).

usage: b71-dataframe-stream.py SOCKET
"""
import multiprocessing as mp
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd

import vineyard
from vineyard.io import DataframeStream

SOCK = sys.argv[1]
FRAMES = int(os.environ.get("BENCH_FRAMES", "100"))
FRAME_BYTES = 10 << 20
NCOLS = 8
NROWS = FRAME_BYTES // 8 // NCOLS
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
QUEUE_RUNS = int(os.environ.get("BENCH_QUEUE_RUNS", "1"))
now = time.monotonic  # one clock for every process


def make_frames():
    base = np.arange(NROWS, dtype=np.float64)
    return [pd.DataFrame({"c%d" % j: base + (i * NCOLS + j)
                          for j in range(NCOLS)}) for i in range(FRAMES)]


def check(df, i):
    if df.shape != (NROWS, NCOLS) or df["c0"].iat[0] != i * NCOLS:
        raise SystemExit("frame %d came wrong: shape %s, first %r"
                         % (i, df.shape, df["c0"].iat[0]))


# ---- consumers (children): report when the last frame is held ----

def consume_stream(conn, name):
    client = vineyard.connect(SOCK)
    reader = DataframeStream.get(client, name, timeout=60).open_reader()
    conn.send("ready")
    n = 0
    for df in reader:
        check(df, n)
        n += 1
        del df
    conn.send((now(), n))
    reader.close()
    client.close()


def consume_queue(q, conn):
    conn.send("ready")
    for i in range(FRAMES):
        df = q.get()
        check(df, i)
        del df
    conn.send((now(), FRAMES))


# ---- producers: one hand-over of every frame ----

def run_stream(frames, r):
    client = vineyard.connect(SOCK)
    name = "b71-%d-%d" % (os.getpid(), r)
    s = DataframeStream.new(client, name=name)
    a, b = mp.Pipe()
    p = mp.Process(target=consume_stream, args=(b, name))
    p.start()
    assert a.recv() == "ready"
    t0 = now()
    with s.open_writer() as w:
        for df in frames:
            w.write(df)
    t1, n = a.recv()
    p.join()
    assert p.exitcode == 0 and n == FRAMES, (p.exitcode, n)
    client.delete(s.id)
    client.close()
    return t1 - t0


def run_queue(frames):
    q = mp.Queue()
    a, b = mp.Pipe()
    p = mp.Process(target=consume_queue, args=(q, b))
    p.start()
    assert a.recv() == "ready"
    t0 = now()
    for df in frames:
        q.put(df)
    t1, n = a.recv()
    p.join()
    assert p.exitcode == 0 and n == FRAMES, (p.exitcode, n)
    return t1 - t0


def main():
    mp.set_start_method("fork")
    frames = make_frames()
    st, qt = [], []
    for r in range(RUNS):
        st.append(run_stream(frames, r))
        line = "  run %d: stream %.3f s" % (r + 1, st[-1])
        if r < QUEUE_RUNS:
            qt.append(run_queue(frames))
            line += ", Queue %.3f s" % qt[-1]
        print(line, flush=True)
    s, q = statistics.median(st), statistics.median(qt)
    gib = FRAMES * FRAME_BYTES / (1 << 30)
    print("dataframe stream, %d frames of 10 MiB: %.3f s (%.2f GiB/s)  "
          "baseline (multiprocessing.Queue, pickled): %.3f s (%.2f GiB/s)  "
          "ratio: %.1f  (target >= 10)"
          % (FRAMES, s, gib / s, q, gib / q, q / s))


if __name__ == "__main__":
    main()
