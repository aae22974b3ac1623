"""Streams through vineyard.io (upstream's shape): byte streams of 0 B, 1 B
and several chunks, byte-identical; a reader before and after the writer;
a writer in another process that fails its stream or is killed; a stream
of 100 DataFrames read back in order. Every wait has a timeout."""
import gc
import os
import signal
import threading

import numpy as np
import pandas as pd
import pytest

import vineyard
from vineyard.io import ByteStream, DataframeStream, StreamFailed

from conftest import python


def _read_all(reader):
    return b"".join(bytes(c) for c in reader)


@pytest.mark.parametrize("sizes", [[], [1], [4096, 1, 100000, 3 << 20]])
def test_bytes_identical_reader_first(daemon, client, sizes):
    data = [os.urandom(n) for n in sizes]
    s = ByteStream.new(client)
    reader = s.open_reader(vineyard.connect(daemon.socket), timeout=10)
    out = []
    t = threading.Thread(target=lambda: out.append(_read_all(reader)))
    t.start()
    w = s.open_writer()
    for d in data:
        w.write(d)
    w.finish()
    t.join(30)
    assert not t.is_alive()
    assert out == [b"".join(data)]
    assert s.info()["state"] == "finished"


def test_reader_after_writer_and_in_place_chunks(client):
    s = ByteStream.new(client, name="later")
    with s.open_writer() as w:
        for i in range(5):
            buf = w.next(1000)
            buf[:] = bytes([i]) * 1000
    got = ByteStream.get(client, "later", timeout=5)
    assert got.id == s.id
    chunks = list(got.open_reader())
    assert [bytes(c) for c in chunks] == [bytes([i]) * 1000
                                          for i in range(5)]
    # chunks are read-only views of the store's memory
    with pytest.raises(TypeError):
        chunks[0][0] = 1
    # that reader moved past them all: freed; the stream remains
    del chunks
    gc.collect()
    assert got.info()["held"] == 0
    assert client.status()["stream_held_bytes"] == 0


def test_dataframe_stream_of_100_frames(daemon, client):
    s = DataframeStream.new(client, name="frames")
    rd = s.open_reader(vineyard.connect(daemon.socket))
    frames = [pd.DataFrame({"a": np.arange(i, i + 50),
                            "b": np.full(50, i * 0.5),
                            "c": np.full(50, i, dtype=np.int32)})
              for i in range(100)]
    p = python("""
import sys, vineyard, numpy as np, pandas as pd
from vineyard.io import DataframeStream
c = vineyard.connect(sys.argv[1])
s = DataframeStream.get(c, "frames", timeout=10)
with s.open_writer() as w:
    for i in range(100):
        w.write(pd.DataFrame({"a": np.arange(i, i + 50),
                              "b": np.full(50, i * 0.5),
                              "c": np.full(50, i, dtype=np.int32)}))
""", daemon.socket)
    got = []
    for df in rd:
        got.append(df)
    assert p.wait(30) == 0, p.stderr.read()
    assert len(got) == 100
    for a, b in zip(got, frames):
        pd.testing.assert_frame_equal(a, b)
    # zero copy: the columns are read-only views
    assert not got[7]["a"].to_numpy().flags.writeable


def test_fail_reaches_readers_after_the_sealed_chunks(client):
    s = ByteStream.new(client)
    r = s.open_reader()
    w = s.open_writer()
    w.write(b"one")
    w.fail("the source went bad")
    assert bytes(r.next(timeout=5)) == b"one"
    with pytest.raises(StreamFailed, match="the source went bad"):
        r.next(timeout=5)
    assert s.info()["state"] == "failed"


def test_writer_killed_fails_the_stream(daemon, client):
    p = python("""
import sys, time, vineyard
from vineyard.io import ByteStream
c = vineyard.connect(sys.argv[1])
w = ByteStream.new(c, name="dying").open_writer()
w.write(b"a" * 5000)
w.write(b"b" * 5000)
print("written", flush=True)
time.sleep(60)
""", daemon.socket)
    assert p.stdout.readline().strip() == "written"
    s = ByteStream.get(client, "dying", timeout=10)
    r = s.open_reader()
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    assert bytes(r.next(timeout=10)) == b"a" * 5000
    assert bytes(r.next(timeout=10)) == b"b" * 5000
    with pytest.raises(StreamFailed, match="went away"):
        r.next(timeout=10)


def test_reader_times_out_and_writer_rules(client):
    s = ByteStream.new(client)
    r = s.open_reader()
    with pytest.raises(vineyard.Timeout):
        r.next(timeout=0.2)
    w = s.open_writer()
    with pytest.raises(vineyard.ObjectInUse):  # one writer at a time
        s.open_writer(vineyard.connect(client.socket))
    with pytest.raises(vineyard.InvalidArgument):
        w.append(client.put(b"not a blob chunk"))
    w.finish()
    with pytest.raises(StopIteration):
        r.next(timeout=1)
    with pytest.raises(vineyard.Error):
        ByteStream.get(client, "no-such-stream", timeout=0)


def test_byte_stream_listed_with_its_state(client):
    s = ByteStream.new(client, name="listed")
    w = s.open_writer()
    w.write(b"x" * 10)
    st = client.status()
    assert st["streams"] == 1 and st["streams_open"] == 1
    w.finish()
    assert client.status()["streams_open"] == 0
    s.drop()
    assert client.status()["streams"] == 0
