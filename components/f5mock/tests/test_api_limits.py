"""API clients that stall are timed out, so they cannot hold descriptors (issue 12)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest

from f5mock import api, server
from f5mock.server import ThreadedF5Mock, run_in_thread
from components.f5mock.tests.abuse import open_descriptors
from components.f5mock.tests.loopback import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def impatient_f5(tmp_path, monkeypatch) -> Iterator[ThreadedF5Mock]:
    monkeypatch.setattr(server, "API_HANDSHAKE_TIMEOUT", 1.0)
    monkeypatch.setattr(server, "API_IDLE_TIMEOUT", 1.0)
    monkeypatch.setattr(api, "BODY_TIMEOUT", 1.0)
    with run_in_thread(tmp_path / "f5") as mock:
        yield mock


def tls_connection(port: int) -> ssl.SSLSocket:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))


def read_until_closed(connection: socket.socket) -> bytes:
    """All the server sends until it closes or resets the connection (each read bounded by the
    socket's timeout, so a connection left open fails the test with a TimeoutError)."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except (ConnectionResetError, ssl.SSLEOFError):
        pass
    return received


def test_stalled_handshakes_headers_and_bodies_are_closed_and_their_descriptors_freed(impatient_f5):
    port = impatient_f5.server.port
    descriptors_before = open_descriptors()
    no_handshake, partial_headers, partial_body = [], [], []
    for _ in range(10):
        no_handshake.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        headers = tls_connection(port)
        headers.sendall(b"GET /mgmt/tm/ltm/pool HTTP/1.1\r\nHost: f5\r\nX-Partial: ")
        partial_headers.append(headers)
        body = tls_connection(port)
        body.sendall(
            b"POST /mgmt/tm/ltm/pool HTTP/1.1\r\nHost: f5\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name": '
        )
        partial_body.append(body)

    try:
        for connection in no_handshake + partial_headers:
            assert read_until_closed(connection) == b""
        for connection in partial_body:
            assert read_until_closed(connection).startswith(b"HTTP/1.1 408 ")
    finally:
        for connection in no_handshake + partial_headers + partial_body:
            connection.close()
    wait_until(lambda: open_descriptors() <= descriptors_before, what="the mock's descriptors to be freed")
