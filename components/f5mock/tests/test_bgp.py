"""Routes learned over BGP (`--bgp-asn`): what a peer announces is installed in the network
namespace the mock forwards from, beside the static routes, and goes when the peer withdraws
it, closes, or falls silent. The peer is ExaBGP, a real BGP implementation, on loopback;
routes go into a network namespace of the test's own (conftest.py)."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from f5mock.server import ThreadedF5Mock, run_in_thread
from f5mock.bgp import SessionError, parse_update
from f5mock.routing import ROUTE_PROTOCOL, KernelRoutes
from envbuilder.polling import wait_until
from components.f5mock.tests.bgp_peer import ExaBgpPeer
from components.f5mock.tests.conftest import kernel_routes

F5_ASN = 64513
ROUTES = "/mgmt/tm/net/route"


def wait_for(condition: Callable[[], object], timeout: float = 30) -> None:
    wait_until(condition, timeout=timeout, what="the condition", interval=0.05)


def bgp_health(f5: ThreadedF5Mock) -> dict:
    return httpx.get(f"{f5.url}/health", auth=("admin", "admin"), verify=False).json()["bgp"]


def learned(namespace: str) -> dict[str, str]:
    return {network: gateway for network, (gateway, protocol) in kernel_routes(namespace).items()
            if protocol == ROUTE_PROTOCOL}


@pytest.fixture
def f5(tmp_path, namespace) -> Iterator[ThreadedF5Mock]:
    with run_in_thread(tmp_path / "f5", routes=KernelRoutes(namespace), bgp_asn=F5_ASN, bgp_host="127.0.0.1",
                       bgp_port=0) as mock:
        yield mock


@pytest.fixture
def peer(tmp_path, f5: ThreadedF5Mock) -> Iterator[ExaBgpPeer]:
    started = ExaBgpPeer(tmp_path / "exabgp", f5.server.bgp.port, peer_asn=F5_ASN)
    try:
        wait_for(lambda: bgp_health(f5)["peers"].get("127.0.0.1", {}).get("state") == "established")
        yield started
    finally:
        started.stop()


# --- against a real peer -----------------------------------------------------------------


@pytest.mark.slow
def test_announced_routes_are_installed_shown_read_only_and_removed_when_withdrawn(f5, peer, namespace):
    peer.announce("10.244.1.0/24", "172.30.0.3")
    peer.announce("10.244.9.0/24", "172.31.0.3")  # a next hop on no attached network
    wait_for(lambda: learned(namespace) == {"10.244.1.0/24": "172.30.0.3"} and bgp_health(f5)["routesNotInstalled"])

    bgp = bgp_health(f5)
    assert bgp["routes"] == {"10.244.1.0/24": "172.30.0.3", "10.244.9.0/24": "172.31.0.3"}
    assert bgp["routesNotInstalled"] == {"10.244.9.0/24": "via 172.31.0.3: Network is unreachable"}
    assert bgp["peers"]["127.0.0.1"]["asn"] == 64600
    assert bgp["peers"]["127.0.0.1"]["prefixes"] == 2
    # BIG-IP's route collection holds static routes only.
    assert httpx.get(f"{f5.url}{ROUTES}", auth=("admin", "admin"), verify=False).json().get("items", []) == []

    peer.withdraw("10.244.1.0/24", "172.30.0.3")
    peer.withdraw("10.244.9.0/24", "172.31.0.3")
    wait_for(lambda: bgp_health(f5)["routes"] == {})
    assert learned(namespace) == {}
    assert bgp_health(f5)["routesNotInstalled"] == {}


@pytest.mark.slow
def test_a_static_route_wins_over_a_learned_one_to_the_same_network(f5, peer, namespace):
    with httpx.Client(base_url=f5.url, auth=("admin", "admin"), verify=False) as api:
        api.post(ROUTES, json={"name": "pods_b", "network": "10.244.2.0/24", "gw": "172.30.0.4"}).raise_for_status()
        peer.announce("10.244.2.0/24", "172.30.0.9")
        peer.announce("10.244.3.0/24", "172.30.0.5")
        wait_for(lambda: bgp_health(f5)["routes"].get("10.244.3.0/24"))
        assert learned(namespace) == {"10.244.2.0/24": "172.30.0.4", "10.244.3.0/24": "172.30.0.5"}

        api.delete(f"{ROUTES}/~Common~pods_b").raise_for_status()
        assert learned(namespace) == {"10.244.2.0/24": "172.30.0.9", "10.244.3.0/24": "172.30.0.5"}


@pytest.mark.slow
def test_a_peers_routes_go_when_its_session_closes(f5, peer, namespace):
    peer.announce("10.244.1.0/24", "172.30.0.3")
    wait_for(lambda: learned(namespace) == {"10.244.1.0/24": "172.30.0.3"})
    peer.stop()
    wait_for(lambda: learned(namespace) == {})
    assert bgp_health(f5) | {"listen": None} == {
        "asn": F5_ASN, "listen": None, "allowedPeers": "any", "peers": {}, "routes": {}, "routesNotInstalled": {}
    }


# --- a peer written by hand: what a real one does not do on purpose ------------------------


def message(kind: int, body: bytes) -> bytes:
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), kind) + body


def open_message(asn: int, hold_time: int, router_id: str) -> bytes:
    return message(1, struct.pack("!BHH4sB", 4, asn, hold_time, socket.inet_aton(router_id), 0))


def ipv4_update(network: str, prefix_length: int, next_hop: str) -> bytes:
    attributes = (
        bytes([0x40, 1, 1, 0])  # ORIGIN IGP
        + bytes([0x40, 2, 0])  # an empty AS_PATH (iBGP)
        + bytes([0x40, 3, 4]) + socket.inet_aton(next_hop)
    )
    nlri = bytes([prefix_length]) + socket.inet_aton(network)[: (prefix_length + 7) // 8]
    return message(2, struct.pack("!H", 0) + struct.pack("!H", len(attributes)) + attributes + nlri)


def read_messages(connection: socket.socket) -> list[tuple[int, bytes]]:
    data = b""
    while chunk := connection.recv(4096):
        data += chunk
    messages = []
    while data:
        length, kind = struct.unpack("!HB", data[16:19])
        messages.append((kind, data[19:length]))
        data = data[length:]
    return messages


@pytest.mark.slow
def test_a_peer_that_falls_silent_is_dropped_after_the_hold_time_with_its_routes(f5, namespace):
    with socket.create_connection(("127.0.0.1", f5.server.bgp.port), timeout=20) as connection:
        connection.sendall(open_message(64600, 3, "10.9.9.8") + message(4, b"")
                           + ipv4_update("10.244.4.0", 24, "172.30.0.6"))
        wait_for(lambda: learned(namespace) == {"10.244.4.0/24": "172.30.0.6"})
        started = time.monotonic()
        received = read_messages(connection)  # until the mock closes: nothing more is sent
        assert 2 <= time.monotonic() - started <= 10
    # its OPEN, KEEPALIVE, and End-of-RIB (an empty UPDATE: it has nothing to advertise) ...
    assert received[:3] == [(1, received[0][1]), (4, b""), (2, bytes(4))]
    assert received[-1] == (3, bytes([4, 0]))  # ... and at last a NOTIFICATION: hold timer expired
    wait_for(lambda: learned(namespace) == {})


def test_ipv6_routes_come_in_multiprotocol_attributes_with_a_global_and_link_local_next_hop():
    hop = socket.inet_pton(socket.AF_INET6, "fd00::3") + socket.inet_pton(socket.AF_INET6, "fe80::3")
    reach = struct.pack("!HBB", 2, 1, 32) + hop + b"\0" + bytes([64]) + socket.inet_pton(socket.AF_INET6, "fd10:1::")[:8]
    unreach = struct.pack("!HB", 2, 1) + bytes([64]) + socket.inet_pton(socket.AF_INET6, "fd10:2::")[:8]
    attributes = bytes([0x80, 14, len(reach)]) + reach + bytes([0x80, 15, len(unreach)]) + unreach
    body = struct.pack("!H", 0) + struct.pack("!H", len(attributes)) + attributes
    assert parse_update(body) == (["fd10:2::/64"], {"fd10:1::/64": "fd00::3"})


def test_an_update_whose_attribute_runs_past_its_end_is_refused():
    body = struct.pack("!H", 0) + struct.pack("!H", 3) + bytes([0x40, 3, 4])
    with pytest.raises(SessionError, match="runs past"):
        parse_update(body)


# --- who may peer --------------------------------------------------------------------------


def connect_and_read(allowed: list[str] | None) -> tuple[list[tuple[int, bytes]], dict]:
    """A peer on 127.0.0.1 connects and sends its OPEN; what the listener answered, and its view."""
    import asyncio

    from f5mock.bgp import BgpListener

    async def scenario() -> tuple[list[tuple[int, bytes]], dict]:
        async def on_change(routes: dict[str, str]) -> None:
            pass

        listener = BgpListener(F5_ASN, on_change, host="127.0.0.1", port=0, hold_time=3, peers=allowed)
        await listener.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            writer.write(open_message(64600, 3, "10.9.9.8"))
            await writer.drain()
            answered = []
            while len(answered) < 2:
                header = await asyncio.wait_for(reader.read(19), 5)
                if not header:
                    break
                body = await reader.readexactly(struct.unpack("!H", header[16:18])[0] - 19)
                answered.append((header[18], body))
            view = listener.view()
            writer.close()
            return answered, view
        finally:
            await listener.stop()

    return asyncio.run(scenario())


def test_a_peer_not_on_the_list_gets_a_notification_and_a_log_line_and_no_session(caplog):
    with caplog.at_level("WARNING", logger="envbuilder.f5mock"):
        answered, view = connect_and_read(["192.0.2.0/24", "node-that-does-not-resolve.invalid"])
    assert answered == [(3, bytes([6, 5]))]  # Cease: Connection Rejected, and nothing else
    assert view["peers"] == {}
    assert any('"event":"bgp-peer-refused"' in line and '"peer":"127.0.0.1"' in line for line in caplog.messages)


@pytest.mark.parametrize("allowed", [["127.0.0.1"], ["127.0.0.0/8"], ["localhost"], None],
                         ids=["address", "network", "host name", "no list: any"])
def test_a_peer_on_the_list_by_address_network_or_host_name_gets_a_session(allowed):
    answered, view = connect_and_read(allowed)
    assert [kind for kind, _ in answered] == [1, 4]  # its OPEN and a KEEPALIVE
    assert view["allowedPeers"] == (allowed if allowed is not None else "any")
