"""Routes learned over BGP: the mock listens, as the appliance does for Calico or kube-router,
for the cluster's nodes to advertise their pod address blocks, and installs what they advertise.

A receive-only speaker (RFC 4271) for IPv4 and IPv6 unicast: passive (the nodes connect), any
AS accepted (read from the peer's OPEN), nothing advertised back. Peers are the configured ones
only: addresses, networks or host names (a kind node's container name, resolved when it connects,
as its address is not known before the cluster runs); anyone else gets a NOTIFICATION (Cease,
Connection Rejected) and a log line. Without a list, any peer is taken (a local run). A peer's routes are dropped when it
withdraws them, sends a NOTIFICATION, closes, or stays silent past the hold time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from f5mock.events import log_event

BGP_PORT = 179
HOLD_TIME = 90  # seconds offered in our OPEN (RFC 4271's suggestion)
OPEN_WAIT = 30.0  # seconds a connection may take to send its OPEN
AS_TRANS = 23456  # the 2-octet AS field of a speaker whose AS does not fit (RFC 6793)
MAX_MESSAGE = 4096

MARKER = b"\xff" * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE = 1, 2, 3, 4
CAPABILITIES_PARAMETER = 2
CAP_MULTIPROTOCOL, CAP_GRACEFUL_RESTART, CAP_FOUR_OCTET_AS = 1, 64, 65
ATTR_NEXT_HOP, ATTR_MP_REACH, ATTR_MP_UNREACH = 3, 14, 15
AFI_IPV4, AFI_IPV6, SAFI_UNICAST = 1, 2, 1
FAMILIES = ((AFI_IPV4, SAFI_UNICAST), (AFI_IPV6, SAFI_UNICAST))  # what we take; any other is ignored
# NOTIFICATION codes we send: (code, subcode)
MESSAGE_HEADER_ERROR = (1, 0)
OPEN_UNSUPPORTED_VERSION = (2, 1)
OPEN_UNACCEPTABLE_HOLD_TIME = (2, 6)
UPDATE_MALFORMED = (3, 1)
HOLD_TIMER_EXPIRED = (4, 0)
FSM_ERROR = (5, 0)
CEASE = (6, 0)
CONNECTION_REJECTED = (6, 5)  # RFC 4486


class SessionError(Exception):
    """The session ends with this NOTIFICATION sent to the peer."""

    def __init__(self, code: tuple[int, int], reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass
class Peer:
    address: str
    asn: int = 0
    router_id: str = ""
    established_at: float | None = None  # wall clock
    routes: dict[str, str] = field(default_factory=dict)  # network -> next hop

    def view(self) -> dict:
        return {
            "asn": self.asn,
            "routerId": self.router_id,
            "state": "established" if self.established_at else "opensent",
            "establishedAt": self.established_at,
            "prefixes": len(self.routes),
        }


RoutesChanged = Callable[[dict[str, str]], Awaitable[None]]


class BgpListener:
    """Accepts BGP sessions on `host:port` and calls `on_change` with every learned route
    (network -> next hop) after each change; one session per peer address (a new connection
    from a peer replaces its old one). `peers`: who may connect (addresses, networks, host
    names); None: anyone."""

    def __init__(
        self, asn: int, on_change: RoutesChanged, *, host: str = "0.0.0.0", port: int = BGP_PORT, hold_time: int = HOLD_TIME,
        peers: Sequence[str] | None = None,
    ) -> None:
        if not 1 <= asn <= 0xFFFFFFFF:
            raise ValueError(f"AS number {asn} is not in 1..4294967295")
        self.asn = asn
        self.host = host
        self.port = port
        self.hold_time = hold_time
        self.on_change = on_change
        self.allowed_peers = tuple(peers) if peers is not None else None
        self.peers: dict[str, Peer] = {}
        self._sessions: dict[str, asyncio.Task] = {}
        self._server: asyncio.AbstractServer | None = None
        self._requested: dict[str, str] = {}  # the last routes handed to on_change
        self._learned: dict[str, str] = {}  # ... once it returned
        self._stopping = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log_event("bgp-listening", listen=f"{self.host}:{self.port}", asn=self.asn)

    async def stop(self) -> None:
        """Ends every session; the routes learned stay as they are (the process is going)."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
            self._server = None
        sessions = list(self._sessions.values())
        for task in sessions:
            task.cancel()
        await asyncio.gather(*sessions, return_exceptions=True)

    def learned(self) -> dict[str, str]:
        """One next hop per network: a network several peers advertise goes through the peer
        with the lowest address, so the choice does not depend on who connected first."""
        chosen: dict[str, str] = {}
        for address in sorted(self.peers, key=ipaddress.ip_address, reverse=True):
            chosen.update(self.peers[address].routes)
        return chosen

    def view(self) -> dict:
        return {
            "asn": self.asn,
            "listen": f"{self.host}:{self.port}",
            "allowedPeers": list(self.allowed_peers) if self.allowed_peers is not None else "any",
            "peers": {address: peer.view() for address, peer in sorted(self.peers.items())},
            "routes": dict(sorted(self._learned.items())),
        }

    async def _publish(self) -> None:
        if self._stopping:
            return
        learned = self.learned()
        if learned != self._requested:
            self._requested = learned
            await self.on_change(dict(learned))
            self._learned = learned  # shown once handed over (installed, or reported not installed)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        remote = writer.get_extra_info("peername")[0]
        if not await self._allowed(remote):
            # Before any session state: a stranger neither replaces a node's session nor shows as a peer.
            log_event("bgp-peer-refused", logging.WARNING, peer=remote, allowed=",".join(self.allowed_peers or ()))
            _send_quietly(writer, _notification(CONNECTION_REJECTED))
            writer.close()
            return
        previous = self._sessions.get(remote)
        if previous is not None:
            previous.cancel()
            await asyncio.gather(previous, return_exceptions=True)
        task = asyncio.current_task()
        assert task is not None
        self._sessions[remote] = task
        peer = Peer(remote)
        self.peers[remote] = peer
        try:
            await self._session(peer, reader, writer)
        except SessionError as error:
            log_event("bgp-session-error", logging.WARNING, peer=remote, error=str(error))
            _send_quietly(writer, _notification(error.code))
        except (OSError, asyncio.IncompleteReadError) as error:
            log_event("bgp-session-lost", logging.WARNING, peer=remote, error=str(error) or type(error).__name__)
        except asyncio.CancelledError:
            _send_quietly(writer, _notification(CEASE))
        finally:
            writer.close()
            if self._sessions.get(remote) is task:
                del self._sessions[remote]
            if self.peers.get(remote) is peer:
                del self.peers[remote]
                log_event("bgp-session-down", peer=remote, routes=len(peer.routes))
                await asyncio.shield(self._publish())

    async def _allowed(self, remote: str) -> bool:
        if self.allowed_peers is None:
            return True
        address = ipaddress.ip_address(remote)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        for entry in self.allowed_peers:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
                continue
            except ValueError:
                pass  # a host name
            try:
                found = await asyncio.get_running_loop().getaddrinfo(entry, None, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError):
                continue  # a node not (yet) running resolves to nothing
            if any(ipaddress.ip_address(info[4][0]) == address for info in found):
                return True
        return False

    async def _session(self, peer: Peer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        kind, body = await asyncio.wait_for(_read_message(reader), OPEN_WAIT)
        if kind != OPEN:
            raise SessionError(FSM_ERROR, f"expected OPEN, got message type {kind}")
        version, peer.asn, their_hold, peer.router_id, their_families = _parse_open(body)
        if version != 4:
            raise SessionError(OPEN_UNSUPPORTED_VERSION, f"BGP version {version}")
        if their_hold in (1, 2):
            raise SessionError(OPEN_UNACCEPTABLE_HOLD_TIME, f"hold time {their_hold}")
        hold = min(self.hold_time, their_hold)
        local = writer.get_extra_info("sockname")[0]
        writer.write(_open(self.asn, self.hold_time, _router_id(local, peer.router_id)) + _keepalive())
        await writer.drain()
        keepalives = asyncio.create_task(_send_keepalives(writer, hold / 3)) if hold else None
        try:
            while True:
                kind, body = await (asyncio.wait_for(_read_message(reader), hold) if hold else _read_message(reader))
                if kind == KEEPALIVE and peer.established_at is None:
                    peer.established_at = time.time()
                    log_event("bgp-session-up", peer=peer.address, asn=peer.asn, router_id=peer.router_id)
                    # Nothing to advertise: End-of-RIB at once, for each family both sides take.
                    writer.write(b"".join(_end_of_rib(family) for family in FAMILIES if family in their_families))
                    await writer.drain()
                elif kind == UPDATE:
                    if peer.established_at is None:
                        raise SessionError(FSM_ERROR, "UPDATE before the session was established")
                    withdrawn, announced = parse_update(body)
                    for network in withdrawn:
                        peer.routes.pop(network, None)
                    peer.routes.update(announced)
                    await self._publish()
                elif kind == NOTIFICATION:
                    code, subcode = body[0], body[1] if len(body) > 1 else 0
                    log_event("bgp-notification", logging.WARNING, peer=peer.address, code=code, subcode=subcode)
                    return
                elif kind == OPEN:
                    raise SessionError(FSM_ERROR, "a second OPEN")
        except TimeoutError:
            raise SessionError(HOLD_TIMER_EXPIRED, f"nothing from the peer in {hold} s") from None
        finally:
            if keepalives is not None:
                keepalives.cancel()


async def _send_keepalives(writer: asyncio.StreamWriter, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        writer.write(_keepalive())
        await writer.drain()


def _send_quietly(writer: asyncio.StreamWriter, message: bytes) -> None:
    try:
        writer.write(message)
    except (OSError, RuntimeError):
        pass  # the connection is already gone: nothing to tell the peer


async def _read_message(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(19)
    length, kind = struct.unpack("!HB", header[16:])
    if header[:16] != MARKER or not 19 <= length <= MAX_MESSAGE:
        raise SessionError(MESSAGE_HEADER_ERROR, f"bad message header (length {length})")
    return kind, await reader.readexactly(length - 19)


def _message(kind: int, body: bytes) -> bytes:
    return MARKER + struct.pack("!HB", 19 + len(body), kind) + body


def _keepalive() -> bytes:
    return _message(KEEPALIVE, b"")


def _end_of_rib(family: tuple[int, int]) -> bytes:
    """An UPDATE with nothing in it (IPv4 unicast), or an empty MP_UNREACH_NLRI (RFC 4724)."""
    if family == (AFI_IPV4, SAFI_UNICAST):
        return _message(UPDATE, struct.pack("!HH", 0, 0))
    unreach = struct.pack("!HB", *family)
    return _message(UPDATE, struct.pack("!HH", 0, 3 + len(unreach)) + bytes([0x80, ATTR_MP_UNREACH, len(unreach)]) + unreach)


def _notification(code: tuple[int, int]) -> bytes:
    return _message(NOTIFICATION, bytes(code))


def _open(asn: int, hold_time: int, router_id: str) -> bytes:
    # Graceful restart (RFC 4724), restart time 0 and no forwarding state kept: only that we send
    # End-of-RIB. A speaker that restarts with graceful restart on (kube-router's manifest turns it
    # on) defers its routes until every peer that can send End-of-RIB has, and then sends them
    # only to those peers (GoBGP): a peer without the capability gets nothing until the next change.
    graceful_restart = struct.pack("!H", 0) + b"".join(struct.pack("!HBB", afi, safi, 0) for afi, safi in FAMILIES)
    capabilities = b"".join(
        struct.pack("!BB", code, len(value)) + value
        for code, value in (
            *((CAP_MULTIPROTOCOL, struct.pack("!HBB", afi, 0, safi)) for afi, safi in FAMILIES),
            (CAP_GRACEFUL_RESTART, graceful_restart),
            (CAP_FOUR_OCTET_AS, struct.pack("!I", asn)),
        )
    )
    parameters = struct.pack("!BB", CAPABILITIES_PARAMETER, len(capabilities)) + capabilities
    two_octet = asn if asn <= 0xFFFF else AS_TRANS
    return _message(
        OPEN,
        struct.pack("!BHH4sB", 4, two_octet, hold_time, socket.inet_aton(router_id), len(parameters)) + parameters,
    )


def _parse_open(body: bytes) -> tuple[int, int, int, str, set[tuple[int, int]]]:
    """(version, AS (the 4-octet one when offered), hold time, BGP identifier, the address
    families it offers (IPv4 unicast alone when it names none))."""
    families: set[tuple[int, int]] = set()
    try:
        version, asn, hold, identifier, length = struct.unpack("!BHH4sB", body[:10])
        parameters = body[10 : 10 + length]
        while parameters:
            kind, size = parameters[0], parameters[1]
            value, parameters = parameters[2 : 2 + size], parameters[2 + size :]
            while kind == CAPABILITIES_PARAMETER and value:
                code, cap_size = value[0], value[1]
                if code == CAP_FOUR_OCTET_AS and cap_size == 4:
                    (asn,) = struct.unpack("!I", value[2:6])
                elif code == CAP_MULTIPROTOCOL and cap_size == 4:
                    afi, _reserved, safi = struct.unpack("!HBB", value[2:6])
                    families.add((afi, safi))
                value = value[2 + cap_size :]
    except (struct.error, IndexError):
        raise SessionError((2, 0), "malformed OPEN") from None
    return version, asn, hold, socket.inet_ntoa(identifier), families or {(AFI_IPV4, SAFI_UNICAST)}


def _router_id(local: str, theirs: str) -> str:
    """Ours is our IPv4 address on the session; a peer on loopback or IPv6 gets a fixed one
    that differs from its own (identical identifiers are a collision, RFC 6286)."""
    try:
        address = ipaddress.ip_address(local)
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv4Address) and not address.is_loopback and str(address) != theirs:
        return str(address)
    return "192.0.2.1" if theirs != "192.0.2.1" else "192.0.2.2"


def parse_update(body: bytes) -> tuple[list[str], dict[str, str]]:
    """(networks withdrawn, network -> next hop announced) of an UPDATE's IPv4 fields and its
    IPv4/IPv6 unicast multiprotocol attributes; other address families are ignored."""
    try:
        (withdrawn_length,) = struct.unpack("!H", body[:2])
        withdrawn = _prefixes(body[2 : 2 + withdrawn_length], socket.AF_INET)
        offset = 2 + withdrawn_length
        (attributes_length,) = struct.unpack("!H", body[offset : offset + 2])
        attributes = body[offset + 2 : offset + 2 + attributes_length]
        nlri = body[offset + 2 + attributes_length :]
        next_hop: str | None = None
        announced: dict[str, str] = {}
        while attributes:
            flags, code = attributes[0], attributes[1]
            if flags & 0x10:  # extended length
                (size,) = struct.unpack("!H", attributes[2:4])
                value, attributes = attributes[4 : 4 + size], attributes[4 + size :]
            else:
                size = attributes[2]
                value, attributes = attributes[3 : 3 + size], attributes[3 + size :]
            if len(value) != size:
                raise SessionError(UPDATE_MALFORMED, "an attribute runs past the message")
            if code == ATTR_NEXT_HOP and size == 4:
                next_hop = socket.inet_ntoa(value)
            elif code == ATTR_MP_REACH:
                afi, safi, hop_length = struct.unpack("!HBB", value[:4])
                family = _family(afi, safi)
                if family is not None:
                    hop = value[4 : 4 + min(hop_length, 4 if family == socket.AF_INET else 16)]
                    # after the next hop: one reserved octet, then the prefixes
                    for network in _prefixes(value[5 + hop_length :], family):
                        announced[network] = socket.inet_ntop(family, hop)
            elif code == ATTR_MP_UNREACH:
                afi, safi = struct.unpack("!HB", value[:3])
                family = _family(afi, safi)
                if family is not None:
                    withdrawn.extend(_prefixes(value[3:], family))
        if nlri:
            if next_hop is None:
                raise SessionError((3, 3), "IPv4 prefixes without a NEXT_HOP")
            announced.update(dict.fromkeys(_prefixes(nlri, socket.AF_INET), next_hop))
    except (struct.error, IndexError, ValueError, OSError):
        raise SessionError(UPDATE_MALFORMED, "malformed UPDATE") from None
    return withdrawn, announced


def _family(afi: int, safi: int) -> int | None:
    if safi != SAFI_UNICAST:
        return None
    return {AFI_IPV4: socket.AF_INET, AFI_IPV6: socket.AF_INET6}.get(afi)


def _prefixes(data: bytes, family: int) -> list[str]:
    size = 4 if family == socket.AF_INET else 16
    networks: list[str] = []
    while data:
        bits = data[0]
        octets = (bits + 7) // 8
        if bits > size * 8 or len(data) < 1 + octets:
            raise ValueError(f"prefix length {bits}")
        address = data[1 : 1 + octets].ljust(size, b"\0")
        networks.append(str(ipaddress.ip_network((socket.inet_ntop(family, address), bits), strict=False)))
        data = data[1 + octets :]
    return networks
