#!/usr/bin/env bash
# The outside check of the Python package: upstream Vineyard's own test
# files for the client, the data types and shared memory, run unchanged
# against this tree's package and vineyardd. A developer's tool, not part
# of make check (it needs a copy of upstream's repository, which this one
# neither ships nor fetches):
#
#   scripts/upstream-check.sh UPSTREAM [pytest arguments...]
#
# UPSTREAM is a checkout of github v6d-io/v6d (or its python/ directory).
# Its python/vineyard/core/tests/test_client.py, data/tests/*.py and
# shared_memory/tests/*.py are copied to a scratch directory outside the
# repository, beside a conftest.py written here that gives upstream's
# fixtures over one vineyardd started on a private socket with --rpc on a
# free loopback port and a token for its TCP clients (tests parametrized
# over vineyard_rpc_client run over TCP). Where pytest-cases is not installed (it is not in Debian), a small
# stand-in for its parametrize over fixtures is written too. Test files
# whose imports are missing here (pyarrow for test_arrow and test_velox)
# are left out, and said so. The package and library come from BUILD
# (default build; run make first). KEEP=1 keeps the scratch directory.
# Exit status: pytest's. vineyard-python(7) lists the known differences.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-/usr/bin/python3}
BUILD=${BUILD:-build}

if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
	sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
	[ $# -ge 1 ] && exit 0
	exit 2
fi
UP=$1
shift
if [ -d "$UP/python/vineyard" ]; then
	UP=$UP/python/vineyard
elif [ -d "$UP/vineyard" ]; then
	UP=$UP/vineyard
else
	echo "upstream-check: no python/vineyard under $UP (give a checkout" \
	     "of v6d-io/v6d)" >&2
	exit 2
fi
for f in "$BUILD/vineyardd" "$BUILD/libvineyard.so.0"; do
	if [ ! -e "$f" ]; then
		echo "upstream-check: $f missing: run make (BUILD=$BUILD)" >&2
		exit 2
	fi
done

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/vineyard-upstream-check.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
	echo "upstream-check: scratch directory $SCRATCH (kept)"
else
	trap 'rm -rf "$SCRATCH"' EXIT
fi
mkdir -p "$SCRATCH/tests" "$SCRATCH/shim"

n=0
for f in "$UP"/core/tests/test_client.py "$UP"/data/tests/test_*.py \
	 "$UP"/shared_memory/tests/test_*.py; do
	[ -f "$f" ] || continue
	cp "$f" "$SCRATCH/tests/"
	n=$((n + 1))
done
if [ "$n" = 0 ]; then
	echo "upstream-check: no test files under $UP" >&2
	exit 2
fi

IGNORE=()
if ! "$PY" -c 'import pyarrow' 2>/dev/null; then
	for f in test_arrow.py test_velox.py; do
		if [ -f "$SCRATCH/tests/$f" ]; then
			echo "upstream-check: $f left out: pyarrow is not installed"
			IGNORE+=(--ignore "tests/$f")
		fi
	done
fi

cat > "$SCRATCH/conftest.py" <<'EOF'
"""Upstream's fixtures over one vineyardd on a private socket, with --rpc
on a free loopback port; started once for the session, stopped at its
end."""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import vineyard


def _start(tmp, sock):
    """vineyardd on sock and a free loopback port: (process, port). TCP
    clients present a token (through $VINEYARD_RPC_TOKEN): without one a
    TCP client is user nobody, who may not read what the socket's clients
    put (vineyardd(8), Users and access), and upstream's tests read over
    TCP what they put through the socket."""
    log = os.path.join(tmp, "daemon.log")
    token = os.path.join(tmp, "token")
    os.environ["VINEYARD_RPC_TOKEN"] = secrets.token_hex(16)
    with open(os.open(token, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(os.environ["VINEYARD_RPC_TOKEN"] + "\n")
    for _ in range(10):  # the probed port may be taken meanwhile
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(log, "ab") as f:
            proc = subprocess.Popen(
                [os.environ["VINEYARDD"], "--foreground", "--socket", sock,
                 "--data-dir", os.path.join(tmp, "data"),
                 "--rpc", "127.0.0.1:%d" % port,
                 "--rpc-token-file", token],
                stdout=f, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                vineyard.connect(sock).close()
                return proc, port
            except vineyard.ConnectionFailed:
                time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            pytest.fail("vineyardd did not answer; see %s" % log)
        with open(log) as f:
            if "cannot listen" not in f.read():
                pytest.fail("vineyardd exited; see %s" % log)
    pytest.fail("no free loopback port for vineyardd --rpc")


@pytest.fixture(scope="session")
def _daemon():
    tmp = tempfile.mkdtemp(prefix="daemon.", dir=os.environ["VY_SCRATCH"])
    sock = os.path.join(tmp, "v.sock")
    proc, port = _start(tmp, sock)
    yield sock, "127.0.0.1:%d" % port
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def vineyard_ipc_socket(_daemon):
    return _daemon[0]


@pytest.fixture(scope="session")
def vineyard_ipc_sockets(vineyard_ipc_socket):
    return [vineyard_ipc_socket]


@pytest.fixture(scope="session")
def vineyard_endpoint(_daemon):
    return _daemon[1]


@pytest.fixture(scope="session")
def vineyard_endpoints(vineyard_endpoint):
    return [vineyard_endpoint]


@pytest.fixture(scope="session")
def vineyard_client(vineyard_ipc_socket):
    client = vineyard.connect(vineyard_ipc_socket)
    yield client
    client.close()


@pytest.fixture(scope="session")
def vineyard_rpc_client(vineyard_endpoint):
    client = vineyard.connect(vineyard_endpoint)
    yield client
    client.close()
EOF

SHIM=
if ! "$PY" -c 'import pytest_cases' 2>/dev/null; then
	SHIM=$SCRATCH/shim
	cat > "$SHIM/pytest_cases.py" <<'EOF'
"""Stand-in for pytest-cases' parametrize over fixtures: parametrize('x',
[fixture_a, fixture_b]) runs the test once per fixture, x being that
fixture's value (the test gets an id naming the fixture)."""
import functools
import inspect

import pytest


def _name(f):
    if isinstance(f, str):
        return f
    info = getattr(f, "_pytestfixturefunction", None)
    return info.name if info is not None and info.name else f.__name__


def parametrize(argname, fixtures, **_):
    names = [_name(f) for f in fixtures]

    def decorate(test):
        sig = inspect.signature(test)
        keep = [p for p in sig.parameters.values() if p.name != argname]
        has_request = "request" in sig.parameters
        extra = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                 for n in ("request", "_which_fixture")
                 if n not in sig.parameters]

        @functools.wraps(test)
        def run(*args, **kw):
            request = kw["request"] if has_request else kw.pop("request")
            kw[argname] = request.getfixturevalue(kw.pop("_which_fixture"))
            return test(*args, **kw)
        run.__signature__ = sig.replace(parameters=keep + extra)
        del run.__wrapped__
        return pytest.mark.parametrize("_which_fixture", names,
                                       ids=names)(run)
    return decorate
EOF
	echo "upstream-check: pytest-cases not installed: using a stand-in"
fi

cd "$SCRATCH" || exit 2
echo "upstream-check: $n test files from $UP, against $ROOT ($BUILD)"
PYTHONPATH=${SHIM:+$SHIM:}$ROOT/client/python \
VINEYARD_LIBRARY=$ROOT/$BUILD/libvineyard.so.0 \
VINEYARDD=$ROOT/$BUILD/vineyardd VY_SCRATCH=$SCRATCH \
	timeout 1800 "$PY" -m pytest -p no:cacheprovider -q -rfEs \
	"${IGNORE[@]}" tests "$@"
