"""Many processes (and threads) putting and getting at the same time."""
import json
import threading

import numpy as np

from conftest import python

WORKER = r"""
import json, sys
import numpy as np, pandas as pd, vineyard
sock, me, rounds, nproc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = vineyard.connect(sock)
rng = np.random.default_rng(me)
checked = 0
for r in range(rounds):
    n = int(rng.integers(1, 300000))
    a = rng.standard_normal(n)
    df = pd.DataFrame({'k': np.arange(n % 1000), 'w': np.full(n % 1000, me)})
    oid = c.put(a, name='w%d-r%d' % (me, r))
    fid = c.put(df)
    assert np.array_equal(c.get(oid), a)
    assert c.get(fid).equals(df)
    # Someone else's object, waiting for it by name.
    other = (me + 1) % nproc
    b = c.get(name='w%d-r%d' % (other, r), timeout=60)
    assert b.dtype == np.float64 and not b.flags.writeable
    checked += 1
    if r % 3 == 0:
        c.delete(fid)
print(json.dumps({'me': me, 'checked': checked}))
"""


def test_many_processes_put_and_get(client):
    nproc, rounds = 8, 25
    procs = [python(WORKER, client.socket, str(i), str(rounds), str(nproc))
             for i in range(nproc)]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert json.loads(out)["checked"] == rounds
    names = client.list_names("w*")
    assert len(names) == nproc * rounds
    for me in range(nproc):  # replay each worker's random arrays
        rng = np.random.default_rng(me)
        for r in range(rounds):
            a = rng.standard_normal(int(rng.integers(1, 300000)))
            assert np.array_equal(client.get(names["w%d-r%d" % (me, r)]), a)
    st = client.status()
    assert st["clients"] == 1 and st["unsealed_blobs"] == 0


def test_threads_share_one_client(client):
    errors = []

    def work(i):
        try:
            for r in range(40):
                a = np.arange(i * 1000 + r)
                assert np.array_equal(client.get(client.put(a)), a)
                assert client.get(client.put({"i": i, "r": r})) == \
                    {"i": i, "r": r}
        except Exception as e:  # reported below
            errors.append(repr(e))
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
