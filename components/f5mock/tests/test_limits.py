"""Memory and descriptors stay bounded whatever clients and members do (issue 12)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from components.f5mock.tests.abuse import deaf_member, hanging_member, open_descriptors, resident_bytes
from components.f5mock.tests.loopback import ask, free_port, wait_until

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


def ask_or_reset(port: int) -> bytes:
    """The answer through `port`, b"" when the connection is reset (which, depending on when
    it comes, fails the send, the half-close or the read)."""
    try:
        return ask(port)
    except OSError as error:
        if isinstance(error, TimeoutError):
            raise
        return b""


def virtual_entries(api: httpx.Client, name: str = "vs") -> dict:
    (nested,) = api.get(f"/mgmt/tm/ltm/virtual/~Common~{name}/stats").json()["entries"].values()
    return nested["nestedStats"]["entries"]


def test_connections_to_a_member_that_never_answers_end_at_the_profiles_idle_timeout(api):
    profile = api.post(
        "/mgmt/tm/ltm/profile/tcp", json={"name": "short", "defaultsFrom": "/Common/tcp", "idleTimeout": 1}
    )
    assert profile.status_code == 200, profile.text
    with deaf_member() as member:
        port = serve(api, member, profiles=[{"name": "/Common/short", "context": "all"}])
        descriptors_before = open_descriptors()

        clients = []
        for _ in range(50):  # each sends a line and closes normally; the member never reads
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.sendall(b"hello\n")
            client.shutdown(socket.SHUT_WR)
            clients.append(client)
        # All taken in (counted once open: with a 1 s idle timeout the first may end before the last opens).
        wait_until(lambda: virtual_entries(api)["clientside.totConns"]["value"] == 50, what="50 connections")
        for client in clients:
            client.close()

        wait_until(lambda: virtual_entries(api)["clientside.curConns"]["value"] == 0, timeout=10, what="idle timeout")
        assert open_descriptors() <= descriptors_before


def test_tcp_profiles_carry_bigips_idle_timeout_and_virtuals_list_theirs(api):
    assert api.get("/mgmt/tm/ltm/profile/tcp/~Common~tcp").json()["idleTimeout"] == 300
    api.post("/mgmt/tm/ltm/profile/tcp", json={"name": "long", "idleTimeout": "indefinite"})
    assert api.get("/mgmt/tm/ltm/profile/tcp/long").json()["idleTimeout"] == 4294967295
    assert api.post("/mgmt/tm/ltm/pool", json={"name": "web"}).status_code == 200
    virtual = {"name": "vs", "destination": f"127.0.0.1:{free_port()}", "pool": "web", "profiles": ["long"]}
    assert api.post("/mgmt/tm/ltm/virtual", json=virtual).status_code == 200

    (profile,) = api.get("/mgmt/tm/ltm/virtual/~Common~vs/profiles").json()["items"]
    assert (profile["fullPath"], profile["context"]) == ("/Common/long", "all")
    in_use = api.delete("/mgmt/tm/ltm/profile/tcp/~Common~long")
    assert in_use.status_code == 400 and "in use by a Virtual Server (/Common/vs)" in in_use.json()["message"]
    unknown = api.patch("/mgmt/tm/ltm/virtual/~Common~vs", json={"profiles": [{"name": "/Common/http"}]})
    assert unknown.status_code == 400
    assert "requested profile (/Common/http) was not found" in unknown.json()["message"]


def test_a_virtual_whose_member_is_its_own_address_is_a_loop_that_is_cut_and_logged(api, caplog):
    port = free_port()
    pool = {"name": "self", "members": [{"name": f"127.0.0.1:{port}"}]}
    assert api.post("/mgmt/tm/ltm/pool", json=pool).status_code == 200
    virtual = {"name": "self", "destination": f"127.0.0.1:{port}", "pool": "self"}
    assert api.post("/mgmt/tm/ltm/virtual", json=virtual).status_code == 200
    descriptors_before = open_descriptors()

    assert ask_or_reset(port) == b""

    wait_until(lambda: virtual_entries(api, "self")["clientside.curConns"]["value"] == 0, what="the chain to close")
    assert virtual_entries(api, "self")["clientside.totConns"]["value"] == 1  # the looped one is never served
    assert any('"event":"loop"' in record.message and "/Common/self" in record.message for record in caplog.records)
    wait_until(lambda: open_descriptors() <= descriptors_before, what="descriptors back")


def test_a_loop_through_two_virtuals_is_cut_but_a_chain_of_virtuals_is_served(api, backends):
    first, second, third = free_port(), free_port(), free_port()
    backend = backends("end")
    for name, member in (("a", second), ("b", first), ("c", backend.port)):
        assert (
            api.post("/mgmt/tm/ltm/pool", json={"name": name, "members": [{"name": f"127.0.0.1:{member}"}]}).status_code
            == 200
        )
    for name, port in (("a", first), ("b", second), ("c", third)):
        virtual = {"name": name, "destination": f"127.0.0.1:{port}", "pool": name}
        assert api.post("/mgmt/tm/ltm/virtual", json=virtual).status_code == 200

    assert ask_or_reset(first) == b""
    wait_until(lambda: virtual_entries(api, "b")["clientside.curConns"]["value"] == 0, what="the loop to close")
    assert virtual_entries(api, "a")["clientside.totConns"]["value"] == 1

    assert (
        api.patch("/mgmt/tm/ltm/pool/~Common~b", json={"members": [{"name": f"127.0.0.1:{third}"}]}).status_code == 200
    )
    assert ask(first) == b"end:hello\n"  # a -> b -> c -> backend


def test_reads_create_no_counters_and_deleted_objects_leave_no_table_entries(api, f5, backends):
    plane = f5.server.plane
    backend = backends("a")
    port = serve(api, backend.port)
    for url in (
        "/mgmt/tm/ltm/virtual/~Common~vs/stats",
        "/mgmt/tm/ltm/pool/~Common~vs/stats",
        f"/mgmt/tm/ltm/pool/~Common~vs/members/~Common~127.0.0.1:{backend.port}/stats",
        "/mgmt/tm/ltm/node/~Common~127.0.0.1/stats",
    ):
        assert api.get(url).status_code == 200
    assert len(plane.stats) == 0

    assert ask(port) == b"a:hello\n"
    assert len(plane.stats) == 4 and len(plane.last_chosen) == 1
    assert api.delete("/mgmt/tm/ltm/virtual/~Common~vs").status_code == 200
    assert api.delete("/mgmt/tm/ltm/pool/~Common~vs").status_code == 200
    assert api.delete("/mgmt/tm/ltm/node/~Common~127.0.0.1").status_code == 200
    assert len(plane.stats) == 0 and len(plane.last_chosen) == 0
