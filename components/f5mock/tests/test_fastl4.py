"""fastL4 virtuals are forwarded by the kernel (nftables DNAT), and nothing of it outlives the mock
(issue 25). Needs root and nft, as the container has them (NET_ADMIN)."""

from __future__ import annotations

import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from f5mock import fastpath
from f5mock.fastpath import table_name
from components.f5mock.tests.loopback import ask, wait_healthy, wait_until
from tests.support.ports import free_port
from tests.support.tools import installed_tool, missing

pytestmark = pytest.mark.slow
FASTL4 = ["/Common/fastL4"]


@pytest.fixture(autouse=True)
def kernel_forwarding() -> None:
    if os.geteuid() != 0:
        missing("root", "kernel forwarding needs root (the container has NET_ADMIN)", "run the tests as root")
    installed_tool("nft", package="nftables", part="nftables")


def tables() -> list[str]:
    listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    return [line.split()[-1] for line in listed.splitlines()]


def serve_fastl4(api: httpx.Client, *member_ports: int, monitor: str = "") -> int:
    pool = {"name": "web", "members": [{"name": f"127.0.0.1:{port}"} for port in member_ports]}
    if monitor:
        pool["monitor"] = monitor
    assert api.post("/mgmt/tm/ltm/pool", json=pool).status_code == 200
    port = free_port()
    virtual = {"name": "web", "destination": f"127.0.0.1:{port}", "pool": "web", "profiles": FASTL4}
    answer = api.post("/mgmt/tm/ltm/virtual", json=virtual)
    assert answer.status_code == 200, answer.text
    return port


def entries(api: httpx.Client, path: str) -> dict:
    (nested,) = api.get(f"{path}/stats").json()["entries"].values()
    return nested["nestedStats"]["entries"]


def test_a_fastl4_virtual_is_forwarded_by_the_kernel_round_robin_with_its_counters(api, f5, backends):
    first, second = backends("a"), backends("b")
    port = serve_fastl4(api, first.port, second.port)

    answers = [ask(port) for _ in range(4)]

    assert sorted(answers) == [b"a:hello\n"] * 2 + [b"b:hello\n"] * 2
    assert table_name(f5.server.state_dir) in tables()
    assert not f5.server.plane.links  # the userspace proxy carried none of them
    virtual = entries(api, "/mgmt/tm/ltm/virtual/~Common~web")
    assert virtual["status.statusReason"]["description"] == (
        "The virtual server is available (fastL4 forwarded by the kernel)"
    )
    assert virtual["clientside.totConns"]["value"] == 4
    assert virtual["clientside.bitsIn"]["value"] > 0 and virtual["clientside.bitsOut"]["value"] > 0
    pool = entries(api, "/mgmt/tm/ltm/pool/~Common~web")
    assert pool["serverside.totConns"]["value"] == 4
    member = entries(api, f"/mgmt/tm/ltm/pool/~Common~web/members/~Common~127.0.0.1:{first.port}")
    assert member["serverside.totConns"]["value"] == 2
    (profile,) = api.get("/mgmt/tm/ltm/virtual/~Common~web/profiles").json()["items"]
    assert profile["fullPath"] == "/Common/fastL4"
    assert api.get("/mgmt/tm/ltm/profile/fastl4/~Common~fastL4").json()["kind"] == "tm:ltm:profile:fastl4:fastl4state"


def answers(port: int, count: int = 4) -> set[bytes]:
    """What `count` connections through `port` get (b"" for a refused or reset one)."""
    got = set()
    for _ in range(count):
        try:
            got.add(ask(port))
        except OSError:
            got.add(b"")
    return got


def test_a_member_its_monitor_marks_down_gets_no_more_connections_from_the_kernel(api, backends):
    first, second = backends("a"), backends("b")
    port = serve_fastl4(api, first.port, second.port, monitor="tcp")
    wait_until(lambda: answers(port) == {b"a:hello\n", b"b:hello\n"}, what="both members up")

    second.stop()

    wait_until(lambda: answers(port) == {b"a:hello\n"}, what="the member down out of the kernel")
    assert answers(port, 10) == {b"a:hello\n"}


class _Echo(socketserver.ThreadingTCPServer):
    daemon_threads = allow_reuse_address = True


class _EchoHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while line := self.rfile.readline():
            self.wfile.write(self.server.name + b":" + line)  # type: ignore[attr-defined]


@pytest.fixture
def echo_servers() -> Iterator[list[_Echo]]:
    servers = []
    for name in (b"a", b"b"):
        server = _Echo(("127.0.0.1", 0), _EchoHandler)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_established_connections_survive_their_member_leaving_the_pool(api, echo_servers):
    first, second = (server.server_address[1] for server in echo_servers)
    port = serve_fastl4(api, first)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client, client.makefile("rwb") as stream:
        stream.write(b"one\n")
        stream.flush()
        assert stream.readline() == b"a:one\n"

        replaced = api.patch("/mgmt/tm/ltm/pool/~Common~web", json={"members": [{"name": f"127.0.0.1:{second}"}]})
        assert replaced.status_code == 200

        stream.write(b"two\n")
        stream.flush()
        assert stream.readline() == b"a:two\n"  # the open connection stays with its member
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"three\n")
        assert client.recv(64) == b"b:three\n"  # a new one goes to the new member


def test_without_nft_a_fastl4_virtual_is_served_by_the_userspace_proxy_and_says_so(tmp_path, monkeypatch, backends):
    from f5mock.server import run_in_thread

    monkeypatch.setattr(fastpath, "NFT", str(tmp_path / "no-nft"))
    backend = backends("a")
    with (
        run_in_thread(tmp_path / "f5") as f5,
        httpx.Client(base_url=f5.url, auth=("admin", "admin"), verify=False) as api,
    ):
        port = serve_fastl4(api, backend.port)

        assert ask(port) == b"a:hello\n"
        reason = entries(api, "/mgmt/tm/ltm/virtual/~Common~web")["status.statusReason"]["description"]
        assert reason.startswith("The virtual server is available (fastL4 forwarded by the userspace proxy: ")
        assert "No such file or directory" in reason
        assert table_name(f5.server.state_dir) not in tables()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_nothing_is_left_in_the_kernel_once_the_mock_stops_or_is_killed(tmp_path, backends, stop):
    port, state_dir = free_port(), tmp_path / "f5"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("f5-mock")), "serve", "--listen", f"127.0.0.1:{port}",
         "--state-dir", str(state_dir)],
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", auth=("admin", "admin"), verify=False) as api:
            wait_healthy(api)
            virtual = serve_fastl4(api, backends("a").port)
            assert ask(virtual) == b"a:hello\n"
            assert table_name(state_dir) in tables()
    finally:
        process.send_signal(stop)
        process.wait(timeout=30)

    wait_until(lambda: table_name(state_dir) not in tables(), timeout=10, what="the mock's table to be removed")
