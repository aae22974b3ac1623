"""pytest fixtures for code tested against vineyard, under the names
upstream Vineyard's vineyard.conftest gives them, so that its users' test
modules (``from vineyard.conftest import vineyard_client``) run as they
are.

vineyard_ipc_socket is $VINEYARD_IPC_SOCKET (a test is skipped without
one); a conftest.py of the tests may define its own (starting a daemon, for
example), which the fixtures below then use. There is no RPC client: the
RPC fixtures skip the tests that ask for them.
"""
import os

import pytest

import vineyard


@pytest.fixture(scope="session")
def vineyard_ipc_socket():
    sock = os.environ.get("VINEYARD_IPC_SOCKET")
    if not sock:
        pytest.skip("no vineyardd: set VINEYARD_IPC_SOCKET")
    return sock


@pytest.fixture(scope="session")
def vineyard_ipc_sockets(vineyard_ipc_socket):
    return [vineyard_ipc_socket]


@pytest.fixture(scope="session")
def vineyard_client(vineyard_ipc_socket):
    client = vineyard.connect(vineyard_ipc_socket)
    yield client
    client.close()


@pytest.fixture(scope="session")
def vineyard_endpoint():
    pytest.skip("vineyardd has no RPC endpoint (UNIX socket only)")


@pytest.fixture(scope="session")
def vineyard_endpoints():
    pytest.skip("vineyardd has no RPC endpoint (UNIX socket only)")


@pytest.fixture(scope="session")
def vineyard_rpc_client():
    pytest.skip("vineyardd has no RPC client (UNIX socket only)")
