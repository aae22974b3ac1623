"""The package as a user installs and finds it: pip install with Debian's
pip, its version (the Makefile's), the one module that locates libvineyard
and vineyardd, and the PYTHONPATH line `make run` prints."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

import vineyard
from conftest import BUILD, PYDIR, ROOT

PKG = os.path.join(PYDIR, "vineyard")


def makefile_version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        return re.search(r"^VERSION = (\S+)$", f.read(), re.M).group(1)


def test_version_is_the_makefiles():
    assert vineyard.__version__ == makefile_version()


def test_one_module_locates_the_library_and_the_daemon():
    owners = set()
    for d, _, files in os.walk(PKG):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(d, name)
                with open(path) as f:
                    text = f.read()
                if re.search(r"VINEYARD_LIBRARY|[\"']VINEYARDD[\"']|"
                             r"_config\b|libvineyard\.so", text):
                    owners.add(os.path.relpath(path, PKG))
    assert owners == {"_locate.py"}


def test_locate_order(monkeypatch, tmp_path):
    from vineyard import _locate
    monkeypatch.setenv("VINEYARD_LIBRARY", "/x/lib.so")
    assert _locate.library_candidates() == ["/x/lib.so"]
    monkeypatch.delenv("VINEYARD_LIBRARY")
    cands = _locate.library_candidates()
    assert cands[-1] == "libvineyard.so.0"
    assert cands[0] == os.path.join(ROOT, "build", "libvineyard.so.0") or \
        not os.path.exists(os.path.join(ROOT, "build", "libvineyard.so.0"))
    monkeypatch.setenv("VINEYARDD", "/x/vineyardd")
    assert _locate.find_vineyardd() == "/x/vineyardd"
    monkeypatch.delenv("VINEYARDD")
    monkeypatch.setenv("PATH", str(tmp_path))
    found = _locate.find_vineyardd()
    assert found is None or os.access(found, os.X_OK)


@pytest.mark.skipif(not shutil.which("pip3") and
                    subprocess.run([sys.executable, "-m", "pip", "--version"],
                                   capture_output=True).returncode != 0,
                    reason="no pip (Debian's python3-pip)")
def test_pip_install(tmp_path, daemon):
    # A copy of the tree's package and Makefile, so the build leaves
    # nothing in the source tree; a venv that sees Debian's numpy.
    src = tmp_path / "src"
    shutil.copytree(PYDIR, src / "client" / "python",
                    ignore=shutil.ignore_patterns("__pycache__", "build",
                                                  "*.egg-info"))
    shutil.copy(os.path.join(ROOT, "Makefile"), src / "Makefile")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                    str(venv)], check=True, timeout=300)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                        "--no-index", "--no-build-isolation",
                        str(src / "client" / "python")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["VINEYARD_LIBRARY"] = os.path.join(BUILD, "libvineyard.so.0")
    code = ("import vineyard, importlib.metadata as m, sys; "
            "c = vineyard.connect(sys.argv[1]); "
            "print(vineyard.__file__, vineyard.__version__, "
            "m.version('vineyard'), c.get(c.put(41)) + 1)")
    r = subprocess.run([str(venv / "bin" / "python"), "-c", code,
                        daemon.socket], capture_output=True, text=True,
                       env=env, cwd=str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    path, version, dist_version, answer = r.stdout.split()
    assert path.startswith(str(venv)) and answer == "42"
    assert version == dist_version == makefile_version()


@pytest.mark.skipif(not shutil.which("make") or not os.path.exists(
    "/dev/fuse"), reason="needs make and FUSE")
def test_make_run_prints_a_working_pythonpath_line(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        ["make", "-s", "--no-print-directory", "run", "RUN_DIR=%s" % run_dir,
         "RUN_OPTS=--data-dir %s" % (tmp_path / "data"), "BUILD=%s" % BUILD],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    try:
        exports = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.strip().startswith("export "):
                exports.append(line.split("#")[0].strip())
            if "PYTHONPATH=" in line:
                break
        assert any("PYTHONPATH=" in e for e in exports), exports
        sock = str(run_dir / "vineyard.sock")
        for _ in range(400):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "VINEYARD_IPC_SOCKET")}
        script = "; ".join(exports) + "; cd /; " + sys.executable + \
            " -c 'import vineyard; c = vineyard.connect(); " \
            "print(c.get(c.put(\"ok\")))'"
        r = subprocess.run(["sh", "-c", script], capture_output=True,
                           text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "ok"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(60)
