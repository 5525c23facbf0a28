"""Memory and descriptors stay bounded whatever clients and members do (issue 12)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.f5mock.abuse import hanging_member, open_descriptors, resident_bytes
from tests.f5mock.loopback import free_port

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


def serve(api: httpx.Client, member_port: int, name: str = "vs", **virtual_fields: object) -> int:
    """Pool `<name>` with one loopback member, and a virtual `<name>` in front of it."""
    pool = {"name": name, "members": [{"name": f"127.0.0.1:{member_port}"}]}
    assert api.post("/mgmt/tm/ltm/pool", json=pool).status_code == 200
    port = free_port()
    virtual = {"name": name, "destination": f"127.0.0.1:{port}", "pool": name, **virtual_fields}
    answer = api.post("/mgmt/tm/ltm/virtual", json=virtual)
    assert answer.status_code == 200, answer.text
    return port


def push(port: int, seconds: float, cap: int) -> int:
    """Sends as fast as the mock takes it, for `seconds` or until `cap` bytes; returns the count."""
    chunk = b"x" * (256 * 1024)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.setblocking(False)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and sent < cap:
            try:
                sent += client.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
    return sent


def test_a_client_cannot_make_the_mock_buffer_while_it_connects_to_a_member(api):
    with hanging_member() as member:
        port = serve(api, member)
        memory_before = resident_bytes()

        sent = push(port, seconds=2.0, cap=256 * MiB)

        # Only the kernel's socket buffers (a few MiB) take bytes until a member answers.
        assert sent < 32 * MiB
        assert resident_bytes() - memory_before < 32 * MiB
