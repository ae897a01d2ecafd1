"""The test suite talks to nothing but loopback: servers it starts, and the local
PostgreSQL. A test that tried to reach the internet fails instead of hanging on CI."""

import socket

import pytest
from pytest_socket import SocketConnectBlockedError

pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket")


def test_a_connection_beyond_loopback_is_refused():
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("198.51.100.7", 80), timeout=1)


def test_loopback_is_allowed():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    server.close()
