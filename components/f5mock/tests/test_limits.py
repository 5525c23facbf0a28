"""Memory and descriptors stay bounded whatever clients and members do (issue 12)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from f5mock.dataplane import DataPlane
from components.f5mock.tests.abuse import deaf_member, hanging_member, open_descriptors, resident_bytes
from components.f5mock.tests.loopback import ask, wait_healthy, wait_until
from tests.support.ports import free_port

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


class Accepted:
    """What the mock reads of a connection it accepted: the client's address and its own."""

    def __init__(self, peer: tuple[str, int], own: tuple[str, int]) -> None:
        self.addresses = {"peername": peer, "sockname": own}

    def get_extra_info(self, name: str) -> tuple[str, int]:
        return self.addresses[name]


def test_a_client_on_the_local_port_of_a_member_connection_is_no_loop_but_that_connection_coming_back_is():
    """The kernel gives one local port to connections to different places at once, so a client's connection
    to a virtual may come from the port of the mock's own connection to a member (seen under load: 50 clients
    taken for a loop). Only a connection from that port to that member's address is the mock's own."""
    async def seen() -> tuple[object, object, object]:
        plane = DataPlane()
        to_the_member = object()
        plane.outgoing[(("127.0.0.1", 40000), ("127.0.0.1", 8080))] = to_the_member  # type: ignore[assignment]
        client = await plane.forwarded_from(Accepted(("127.0.0.1", 40000), ("127.0.0.1", 9090)))  # type: ignore[arg-type]
        back = await plane.forwarded_from(Accepted(("127.0.0.1", 40000), ("127.0.0.1", 8080)))  # type: ignore[arg-type]
        return client, back, to_the_member

    client, back, to_the_member = asyncio.run(seen())
    assert client is None
    assert back is to_the_member


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


@pytest.fixture
def mock_process(tmp_path) -> Iterator[tuple[subprocess.Popen[str], httpx.Client, Path]]:
    """The mock in a process of its own (a crash shows as the process gone, not the test's), its
    API client and its log file."""
    port, log = free_port(), tmp_path / "f5.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("f5-mock")), "serve", "--listen", f"127.0.0.1:{port}",
             "--state-dir", str(tmp_path / "f5"), "--monitor-interval", "0.2"],
            stderr=stderr, text=True,
        )
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", auth=("admin", "admin"), verify=False) as client:
            wait_healthy(client)
            yield process, client, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def loop_virtuals(api: httpx.Client, groups: list[int]) -> dict[str, int]:
    """For each size in `groups`, that many virtuals each forwarding to the next, the last to the
    first (1: a virtual whose member is itself); returns their ports by name."""
    ports = {}
    for number, size in enumerate(groups):
        names = [f"loop{number}-{index}" for index in range(size)]
        ports.update({name: free_port() for name in names})
        for index, name in enumerate(names):
            member = f"127.0.0.1:{ports[names[(index + 1) % size]]}"
            assert api.post("/mgmt/tm/ltm/pool", json={"name": name, "members": [{"name": member}]}).status_code == 200
        for name in names:
            virtual = {"name": name, "destination": f"127.0.0.1:{ports[name]}", "pool": name}
            assert api.post("/mgmt/tm/ltm/virtual", json=virtual).status_code == 200
    return ports


def test_loops_under_concurrent_load_leave_the_mock_alive_serving_and_logging_them(mock_process, backends):
    process, api, log = mock_process
    ports = loop_virtuals(api, [1, 1, 1, 2, 2, 3])  # 10 virtuals in 6 loops
    backend = backends("end")
    healthy = serve(api, backend.port, "healthy")
    descriptors_before = len(os.listdir(f"/proc/{process.pid}/fd"))

    def hammer(worker: int) -> None:
        deadline, targets = time.monotonic() + 3.0, sorted(ports.values())
        while time.monotonic() < deadline:
            for port in targets[worker % 3 :: 3]:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
                        client.sendall(b"x" * 4096)
                        client.recv(1)
                except OSError:
                    pass

    with ThreadPoolExecutor(24) as pool:
        list(pool.map(hammer, range(24)))

    assert process.poll() is None, log.read_text()[-2000:]
    assert ask(healthy) == b"end:hello\n"
    looped = {json.loads(line)["virtual"] for line in log.read_text().splitlines() if '"event":"loop"' in line}
    assert looped == {f"/Common/{name}" for name in ports}
    wait_until(lambda: len(os.listdir(f"/proc/{process.pid}/fd")) <= descriptors_before + 4, what="descriptors back")


def short_idle_profile(api: httpx.Client) -> dict:
    profile = api.post("/mgmt/tm/ltm/profile/tcp", json={"name": "short", "idleTimeout": 1})
    assert profile.status_code == 200, profile.text
    return {"profiles": ["/Common/short"]}


def wait_closed(client: socket.socket, seconds: float) -> None:
    """Reads until the mock closes or resets `client`; fails if it is still open after `seconds`."""
    deadline = time.monotonic() + seconds
    try:
        while True:
            client.settimeout(max(deadline - time.monotonic(), 0.001))
            if not client.recv(65536):
                return
    except ConnectionResetError:
        return


@contextmanager
def trickling_member(interval: float) -> Iterator[int]:
    """A member that answers every connection with one byte every `interval` seconds, forever."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle(connection: socket.socket) -> None:
        with connection:
            while not stop.wait(interval):
                try:
                    connection.sendall(b".")
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=trickle, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def test_a_member_trickling_a_byte_at_a_time_is_closed_at_the_idle_timeout(api):
    with trickling_member(0.3) as member:
        port = serve(api, member, **short_idle_profile(api))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.1\r\n\r\n")
            started = time.monotonic()

            wait_closed(client, seconds=6)

        assert time.monotonic() - started < 4  # 1 s idle timeout, swept every second


def test_the_idle_sweeper_survives_a_descriptor_closed_under_it_and_keeps_sweeping(api, monkeypatch, caplog):
    from f5mock import dataplane

    reset = dataplane._Link.reset
    failed = []

    def reset_once_failing(link: dataplane._Link) -> None:
        if not failed:
            failed.append(link)
            raise OSError(9, "Bad file descriptor")
        reset(link)

    monkeypatch.setattr(dataplane._Link, "reset", reset_once_failing)
    with deaf_member() as member:
        port = serve(api, member, **short_idle_profile(api))
        first = socket.create_connection(("127.0.0.1", port), timeout=5)
        second = socket.create_connection(("127.0.0.1", port), timeout=5)
        with first, second:
            wait_closed(first, seconds=6)
            wait_closed(second, seconds=6)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as later:
                wait_closed(later, seconds=6)

    assert failed and any('"event":"sweep-failed"' in record.message for record in caplog.records)


def test_connections_no_member_takes_are_logged_with_the_reason(api, caplog):
    port = serve(api, free_port(), "refusing")  # nothing listens on the member's port

    assert ask_or_reset(port) == b""

    def refused() -> list[str]:
        return [r.message for r in caplog.records if '"event":"connection-refused"' in r.message]

    wait_until(refused, what="a connection-refused event")
    assert '"virtual":"/Common/refusing"' in refused()[0] and "Connection refused" in refused()[0]
