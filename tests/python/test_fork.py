"""A client used after os.fork() in the child connects again (it never
writes to the parent's socket); the parent's connection is untouched."""
import multiprocessing
import os
import threading
import time

import numpy as np

import vineyard


def run_child(fn):
    """Runs fn() in a fork child; returns its exit status (0: passed)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if fn() else 2
        except BaseException:
            import traceback
            traceback.print_exc()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_child_reconnects_and_parent_is_untouched(client):
    a = np.random.rand(10000)
    oid = client.put(a)
    got = client.get(oid)

    def child():
        ok = np.array_equal(got, a)              # inherited mapping
        ok &= np.array_equal(client.get(oid), a)  # new connection
        mine = client.put(np.arange(5))
        ok &= client.get(mine).tolist() == [0, 1, 2, 3, 4]
        client.put_name(mine, "from-child")
        return ok
    for _ in range(3):
        assert run_child(child) == 0
    # The parent's stream is still in step and its mapping intact.
    assert np.array_equal(got, a)
    assert np.array_equal(client.get(oid), a)
    assert client.get(name="from-child").tolist() == [0, 1, 2, 3, 4]
    assert client.status()["clients"] == 1


def test_fork_while_another_thread_waits(client):
    """The C connection's lock is held by a waiting thread at fork time;
    the child must neither block on it nor use that socket."""
    result = {}

    def waiter():
        result["v"] = client.get(name="later", timeout=30)
    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)

    def child():
        return client.get(client.put("in child")) == "in child"
    assert run_child(child) == 0
    client2 = vineyard.connect(client.socket)
    client2.put(123, name="later")
    t.join(30)
    assert result["v"] == 123
    client2.close()


_global = {}


def _pool_task(i):
    c = _global["client"]
    return float(c.get(_global["oid"]).sum()) + c.get(c.put(i))


def test_multiprocessing_pool_with_fork(client):
    _global["client"] = client
    _global["oid"] = client.put(np.ones(1000))
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(3) as pool:
        out = pool.map(_pool_task, range(12))
    assert out == [1000.0 + i for i in range(12)]
    assert client.get(_global["oid"]).sum() == 1000
    _global.clear()
