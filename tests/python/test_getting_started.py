"""The issue's seed examples, as written: python3 -m vineyard, put/get of
an ndarray and a DataFrame, and the producer/consumer pair."""
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

import vineyard
from conftest import persist_available, python

SEED_DF = dict(u=[0, 0, 1, 2, 2, 3], v=[1, 2, 3, 3, 4, 4],
               weight=[1.5, 3.2, 4.7, 0.3, 0.8, 2.5])


def test_python_m_vineyard_starts_and_ctrl_c_stops(tmp_path):
    sock = str(tmp_path / "vineyard.sock")
    # A private data directory: the default one (/var/lib/vineyard for
    # root) is shared with every other daemon on the machine.
    proc = subprocess.Popen([sys.executable, "-m", "vineyard", "--socket",
                             sock, "--data-dir", str(tmp_path / "data")],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client = vineyard.connect(sock)
                break
            except vineyard.ConnectionFailed:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "no daemon answered"
                time.sleep(0.02)
        oid = client.put(np.arange(5))
        assert client.get(oid).tolist() == [0, 1, 2, 3, 4]
        client.close()
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not os.path.exists(sock)


def test_python_m_vineyard_without_daemon_binary(tmp_path):
    env = dict(os.environ, VINEYARDD=str(tmp_path / "missing"))
    r = subprocess.run([sys.executable, "-m", "vineyard", "--socket",
                        str(tmp_path / "s")], env=env, capture_output=True,
                       text=True, timeout=20)
    assert r.returncode != 0
    assert "cannot run" in r.stderr


def test_seed_ndarray(daemon):
    client = vineyard.connect(daemon.socket)
    value = np.random.rand(2, 4)
    object_id = client.put(value)
    assert re.fullmatch(r"o[0-9a-f]{16}", repr(object_id))
    assert vineyard.ObjectID(repr(object_id)) == object_id
    got = client.get(object_id)
    assert got.shape == (2, 4) and got.dtype == np.float64
    assert np.array_equal(got, value)


def test_seed_dataframe(client):
    df = pd.DataFrame(SEED_DF)
    got = client.get(client.put(df))
    pdt.assert_frame_equal(got, df)
    assert list(got.columns) == ["u", "v", "weight"]


PRODUCER = """
import sys, vineyard, pandas as pd
client = vineyard.connect(sys.argv[1])
df = pd.DataFrame({'u': [0, 0, 1, 2, 2, 3], 'v': [1, 2, 3, 3, 4, 4],
                   'weight': [1.5, 3.2, 4.7, 0.3, 0.8, 2.5]})
client.put(df, persist=sys.argv[2] == '1', name='dataset')
"""

CONSUMER = """
import sys, vineyard
client = vineyard.connect(sys.argv[1])
df = client.get(name='dataset')
print(df.sum().to_dict())
"""

# What the same frame, never stored, prints.
EXPECTED = str(pd.DataFrame(SEED_DF).sum().to_dict())


def _pair(sock, persist, first):
    """Starts producer and consumer (first one first, or together)."""
    procs = {}
    order = ["consumer", "producer"] if first == "consumer" \
        else ["producer", "consumer"]
    for who in order:
        code = PRODUCER if who == "producer" else CONSUMER
        procs[who] = python(code, sock, "1" if persist else "0")
        if first != "together":
            time.sleep(0.3)
    out = {}
    for who, p in procs.items():
        o, e = p.communicate(timeout=60)
        assert p.returncode == 0, "%s failed: %s" % (who, e)
        out[who] = o
    return out["consumer"].strip()


@pytest.mark.parametrize("first", ["consumer", "producer", "together",
                                   "together", "together"])
def test_producer_consumer(daemon, first):
    """A get by name waits for the name, so either process may start
    first."""
    c = vineyard.connect(daemon.socket)
    try:
        assert _pair(daemon.socket, False, first) == EXPECTED
        df = c.get(name="dataset")
        assert df["weight"].sum() == pytest.approx(13.0)
    finally:
        c.close()


@pytest.mark.parametrize("first", ["consumer", "producer", "together"])
def test_producer_consumer_persist(daemon, client, first):
    if not persist_available(client):
        pytest.skip("this vineyardd has no data directory (persistence "
                    "not built yet)")
    assert _pair(daemon.socket, True, first) == EXPECTED
    oid = client.get_name("dataset")
    assert any(o.id == oid and o.persisted for o in client.list_objects())


def test_persist_unavailable_is_a_clear_error(tmp_path):
    from conftest import Daemon, HAS_DATA_DIR
    d = Daemon(tmp_path, ["--data-dir", "none"] if HAS_DATA_DIR else [])
    d.start()
    try:
        client = vineyard.connect(d.socket)
        if persist_available(client):
            pytest.skip("this vineyardd persists")
        with pytest.raises(vineyard.NotAvailable, match="persist"):
            client.put(pd.DataFrame(SEED_DF), persist=True, name="dataset")
        # Nothing half-made is left behind.
        assert client.list_objects() == []
        assert client.list_names() == {}
        oid = client.put(np.arange(3))
        with pytest.raises(vineyard.NotAvailable):
            client.persist(oid)
        client.close()
    finally:
        d.stop()


def test_persist_survives_restart(tmp_path):
    from conftest import Daemon
    d = Daemon(tmp_path).start()
    try:
        c = vineyard.connect(d.socket)
        if not persist_available(c):
            pytest.skip("this vineyardd has no data directory")
        df = pd.DataFrame(SEED_DF)
        oid = c.put(df, persist=True, name="dataset")
        c.close()
        assert d.stop() == 0
        d.start()
        c = vineyard.connect(d.socket)
        assert c.get_name("dataset") == oid
        pdt.assert_frame_equal(c.get(name="dataset"), df)
        c.close()
    finally:
        d.stop()


def test_persist_a_list_is_one_group(tmp_path):
    """client.persist([...]) persists many objects as one group: all come
    back after a restart; a group with an unknown id persists none."""
    from conftest import Daemon
    d = Daemon(tmp_path).start()
    try:
        c = vineyard.connect(d.socket)
        if not persist_available(c):
            pytest.skip("this vineyardd has no data directory")
        arrays = [np.arange(i, i + 50) for i in range(20)]
        ids = [c.put(a) for a in arrays]
        lone = c.put(np.arange(7))
        with pytest.raises(vineyard.ObjectNotExists):
            c.persist([lone, vineyard.ObjectID(0xab)])
        assert c.status()["persisted_objects"] == 0
        c.persist(ids)
        c.persist([])
        c.close()
        assert d.stop() == 0
        d.start()
        c = vineyard.connect(d.socket)
        for oid, a in zip(ids, arrays):
            np.testing.assert_array_equal(c.get(oid), a)
        assert not c.exists(lone)
        c.close()
    finally:
        d.stop()
