"""What vineyard.connect()'s arguments mean: a socket path (or the
default one), or a TCP host and port of a vineyardd --rpc, however
upstream's connect() spells them (connect(path), connect(host, port),
connect('host:port'), endpoint=(host, port), $VINEYARD_IPC_SOCKET,
$VINEYARD_RPC_ENDPOINT, $VINEYARD_RPC_TOKEN).
"""
import errno
import os

from .._conn import _TCP
from ..errors import InvalidArgument

# Upstream's connect() arguments that mean nothing here.
_UPSTREAM_IGNORED = ("session", "username", "password", "config",
                     "rdma_endpoint")


def _tcp_pair(text):
    """(host, port) of "HOST:PORT" (the first of a comma-separated list, as
    upstream's endpoints), or None when text is not one."""
    text = text.split(",")[0].strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host or "/" in text or not port.isdigit():
        return None
    return host.strip("[]"), port


def address(socket, port, host, endpoint, token, upstream=()):
    """What to connect to: a socket path (or None: the default), or a _TCP
    address, from connect()'s arguments as upstream takes them; upstream
    holds its other keywords, which must be ones that mean nothing here."""
    for k in upstream:
        if k not in _UPSTREAM_IGNORED:
            raise TypeError("connect() got an unexpected keyword "
                            "argument %r" % k)
    if isinstance(socket, _TCP):
        return socket
    if socket is not None and port is not None and host is None:
        socket, host = None, socket          # connect('host', port)
    if socket is not None and host is None and endpoint is None and \
            isinstance(socket, str) and _tcp_pair(socket):
        socket, endpoint = None, socket      # connect('host:port')
    if socket is None and host is None and port is None and \
            endpoint is None and not os.environ.get("VINEYARD_IPC_SOCKET"):
        endpoint = os.environ.get("VINEYARD_RPC_ENDPOINT") or None
    if endpoint is not None:
        if isinstance(endpoint, (tuple, list)) and len(endpoint) == 2:
            host, port = endpoint
        elif isinstance(endpoint, str) and _tcp_pair(endpoint):
            host, port = _tcp_pair(endpoint)
        else:
            raise InvalidArgument(errno.EINVAL, "an endpoint is 'HOST:PORT' "
                                  "or (host, port), not %r" % (endpoint,))
    if host is None and port is None:
        path = os.fspath(socket) if socket is not None else None
        if path is not None and not isinstance(path, (str, bytes)):
            raise InvalidArgument(errno.EINVAL, "socket is a path")
        return path
    if socket is not None:
        raise InvalidArgument(errno.EINVAL, "give a socket path or a TCP "
                              "host and port, not both")
    if not isinstance(host, str) or not host:
        raise InvalidArgument(errno.EINVAL, "a TCP host is a non-empty str")
    try:
        port = int(port)
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536:
        raise InvalidArgument(errno.EINVAL, "a TCP port is 1 to 65535")
    if token is None:
        token = os.environ.get("VINEYARD_RPC_TOKEN") or None
    return _TCP(host, port, token)
