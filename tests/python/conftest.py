"""pytest fixtures: a real vineyardd per test on a private socket, and a
client connected to it. The package and library come from this source tree
(or from $VY_BUILD, as scripts/run-tests.sh sets it)."""
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("VY_BUILD") or os.path.join(ROOT, "build")
PYDIR = os.path.join(ROOT, "client", "python")

os.environ.setdefault("VINEYARD_LIBRARY",
                      os.path.join(BUILD, "libvineyard.so.0"))
os.environ.setdefault("VINEYARDD", os.path.join(BUILD, "vineyardd"))
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)
# Subprocesses started by tests import the same package.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [PYDIR] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
               if p and p != PYDIR])
os.environ.pop("VINEYARD_IPC_SOCKET", None)

import vineyard  # noqa: E402

VINEYARDD = os.environ["VINEYARDD"]


def _daemon_has(option):
    try:
        out = subprocess.run([VINEYARDD, "--help"], capture_output=True,
                             text=True, timeout=10).stdout
    except OSError:
        return False
    return option in out


HAS_DATA_DIR = _daemon_has("--data-dir")


class Daemon:
    """One vineyardd in the foreground, logging to dir/daemon.log."""

    def __init__(self, tmp, args=()):
        self.dir = str(tmp)
        self.socket = os.path.join(self.dir, "v.sock")
        self.log = os.path.join(self.dir, "daemon.log")
        self.args = list(args)
        if HAS_DATA_DIR and not any(a.startswith("--data-dir")
                                    for a in self.args):
            self.args += ["--data-dir", os.path.join(self.dir, "data")]
        # A smaller reserve pool than the default 1G: many short-lived
        # test daemons share this machine (tests/bats/helper.bash too).
        if not any(a.startswith(("--reserve", "--size", "-m"))
                   for a in self.args):
            self.args += ["--reserve", "64M"]
        self.proc = None

    def start(self):
        logf = open(self.log, "ab")
        env = dict(os.environ)
        # Under `make asan` the interpreter runs without leak checks; the
        # daemon keeps them (scripts/run-tests.sh).
        if "VY_DAEMON_ASAN_OPTIONS" in env:
            env["ASAN_OPTIONS"] = env["VY_DAEMON_ASAN_OPTIONS"]
        self.proc = subprocess.Popen(
            [VINEYARDD, "--foreground", "--socket", self.socket] + self.args,
            stdout=logf, stderr=subprocess.STDOUT, env=env)
        logf.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("vineyardd exited: %s" % self.log_text())
            try:
                vineyard.connect(self.socket).close()
                return self
            except vineyard.ConnectionFailed:
                time.sleep(0.02)
        raise RuntimeError("vineyardd did not answer: %s" % self.log_text())

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM, wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path).start()
    yield d
    rc = d.stop()
    assert rc in (0, None), "vineyardd exited %s: %s" % (rc, d.log_text())


@pytest.fixture
def make_daemon(tmp_path):
    """Starts extra daemons with options: make_daemon('--size', '16M')."""
    started = []

    def make(*args):
        sub = tmp_path / ("d%d" % len(started))
        sub.mkdir()
        d = Daemon(sub, args).start()
        started.append(d)
        return d
    yield make
    for d in started:
        d.stop()


@pytest.fixture
def client(daemon):
    c = vineyard.connect(daemon.socket)
    yield c
    c.close()


def persist_available(client):
    return client.status().get("data_dir") is not None


def python(code, *args, **kw):
    """Runs code in a fresh /usr/bin/python3 (the same interpreter)."""
    return subprocess.Popen([sys.executable, "-c", code] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)
