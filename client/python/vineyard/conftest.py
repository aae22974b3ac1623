"""pytest fixtures for code tested against vineyard, under the names
upstream Vineyard's vineyard.conftest gives them, so that its users' test
modules (``from vineyard.conftest import vineyard_client``) run as they
are.

vineyard_ipc_socket is $VINEYARD_IPC_SOCKET and vineyard_endpoint is
$VINEYARD_RPC_ENDPOINT (HOST:PORT of a vineyardd --rpc); a test that needs
one that is not set is skipped. A conftest.py of the tests may define
either fixture itself (starting a daemon, for example), which every fixture
here then uses. Each fixture also works imported alone into a test module:
what it needs and is not defined comes from the environment.
"""
import os

import pytest

import vineyard


def _from_env(var, what):
    value = os.environ.get(var)
    if not value:
        pytest.skip("no %s: set %s" % (what, var))
    return value


def _given(request, fixture, var, what):
    """The value of fixture where the tests define it, else $var."""
    try:
        return request.getfixturevalue(fixture)
    except pytest.FixtureLookupError:
        return _from_env(var, what)


def _socket(request):
    return _given(request, "vineyard_ipc_socket", "VINEYARD_IPC_SOCKET",
                  "vineyardd socket")


def _endpoint(request):
    return _given(request, "vineyard_endpoint", "VINEYARD_RPC_ENDPOINT",
                  "RPC endpoint (vineyardd --rpc HOST:PORT)")


@pytest.fixture(scope="session")
def vineyard_ipc_socket():
    return _from_env("VINEYARD_IPC_SOCKET", "vineyardd socket")


@pytest.fixture(scope="session")
def vineyard_ipc_sockets(request):
    return [_socket(request)]


@pytest.fixture(scope="session")
def vineyard_client(request):
    client = vineyard.connect(_socket(request))
    yield client
    client.close()


@pytest.fixture(scope="session")
def vineyard_endpoint():
    return _from_env("VINEYARD_RPC_ENDPOINT",
                     "RPC endpoint (vineyardd --rpc HOST:PORT)")


@pytest.fixture(scope="session")
def vineyard_endpoints(request):
    return [_endpoint(request)]


@pytest.fixture(scope="session")
def vineyard_rpc_client(request):
    client = vineyard.connect(_endpoint(request))
    yield client
    client.close()
