"""The data plane: virtual servers really listen and forward TCP connections to members.

Each accepted connection is paired with one to a member chosen when it arrives (so API
changes apply to the next connection at once). Bytes are spliced with two asyncio
protocols that hand every received buffer straight to the other socket's transport
(no StreamReader/Writer buffering, no extra copy), with transport flow control so a
slow side pauses the fast one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import struct
from collections import Counter
from dataclasses import dataclass

from f5mock.events import log_event
from f5mock.fastpath import FastVirtual, KernelCounters, KernelForwarding, Target, is_ipv4
from f5mock.models import (
    BUILTIN_FASTL4_PROFILE,
    BUILTIN_TCP_PROFILE,
    DEFAULT_IDLE_TIMEOUT,
    INDEFINITE,
    Config,
    MemberRecord,
    PoolRecord,
    VirtualRecord,
)
from f5mock.names import join_service, parse_destination

CONNECT_TIMEOUT = 3.0
IDLE_SWEEP_INTERVAL = 1.0  # seconds: idle timeouts are whole seconds, as on BIG-IP
LOG_INTERVAL = 1.0  # seconds between two `loop` or `connection-refused` events of one virtual
Address = tuple[str, int]
Ends = tuple[Address, Address]  # a TCP connection's (local, remote) addresses
# Bytes a member must send to restart the idle timer (a client's every byte restarts it):
# a member trickling a byte every few seconds is idle, a download is not (docs/f5-mock.md).
MEMBER_PROGRESS = 1024


@dataclass(slots=True, eq=False)
class Counters:
    """Connection counters of one virtual, pool, member or node."""

    current: int = 0
    total: int = 0
    bytes_in: int = 0  # received by the F5 on this side
    bytes_out: int = 0  # sent by the F5 on this side


@dataclass(frozen=True, slots=True)
class Bind:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def member_key(pool: PoolRecord, member: MemberRecord) -> str:
    return f"{pool.path.full_path} {member.path.full_path}"


def connect_host(address: str) -> str:
    """The IP to connect to: route-domain suffixes only matter on a real BIG-IP."""
    return address.partition("%")[0]


class Stats:
    """Counters by kind ("virtual", "pool", "member", "node") and key; created by traffic
    only (a read must not grow the table) and dropped with their object."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], Counters] = {}

    def __len__(self) -> int:
        return len(self._counters)

    def peek(self, kind: str, key: str) -> Counters:
        """The counters if there are any, else zeros (not stored)."""
        return self._counters.get((kind, key)) or Counters()

    def of(self, kind: str, key: str) -> Counters:
        counters = self._counters.get((kind, key))
        if counters is None:
            counters = self._counters[(kind, key)] = Counters()
        return counters

    def drop(self, kind: str, key: str) -> None:
        """Forgets a deleted object's counters (a re-created object starts from zero)."""
        self._counters.pop((kind, key), None)


class HealthMonitor:
    """TCP connect probes of the members of pools that have a monitor."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.changed = asyncio.Event()  # set when a member's status changes
        self._status: dict[tuple[str, int], bool] = {}
        self._targets: Counter[tuple[str, int]] = Counter()  # by the number of monitored pools naming it
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def is_up(self, host: str, port: int) -> bool | None:
        """True/False after the first probe, None before it."""
        return self._status.get((host, port))

    def replace(self, old: PoolRecord | None, new: PoolRecord | None) -> None:
        """Follows one pool's change (None: absent), at the cost of the members it changed:
        a pool's copy shares the member records it did not change (`ConfigEdit`)."""
        before = old.members if old is not None and old.monitor else []
        after = new.members if new is not None and new.monitor else []
        before_ids, after_ids = set(map(id, before)), set(map(id, after))
        added = []
        for members, changed, step in ((before, before_ids - after_ids, -1), (after, after_ids - before_ids, 1)):
            if not changed:
                continue
            for member in members:
                if id(member) in changed:
                    target = (connect_host(member.address), member.port)
                    self._targets[target] += step
                    if self._targets[target] <= 0:
                        del self._targets[target]  # no pool names it any more
                    elif step > 0:
                        added.append(target)
        if any(target not in self._status for target in added):
            self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before probing: a change made meanwhile wakes the next round at once
            targets = sorted(self._targets)
            results = await asyncio.gather(*(self._probe(*target) for target in targets))
            for target, up in zip(targets, results):
                if self._status.get(target) != up:
                    log_event("monitor", member=f"{target[0]}:{target[1]}", status="up" if up else "down")
                    self.changed.set()
                self._status[target] = up
            for target in self._status.keys() - self._targets:
                del self._status[target]
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass

    async def _probe(self, host: str, port: int) -> bool:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(asyncio.Protocol, host, port), max(self.interval, 1.0)
            )
        except (OSError, TimeoutError):
            return False
        transport.close()
        return True


class _Pending:
    """Stands in for the member's transport until it is connected. The client is paused at
    its first bytes, so what is kept is one read at most: a client that goes on sending
    fills its own socket buffers, not the mock's memory. (uvloop starts reading after
    `connection_made`, so pausing there would not hold.)"""

    __slots__ = ("chunks", "eof", "client")

    def __init__(self, client: asyncio.Transport) -> None:
        self.chunks: list[bytes] = []
        self.eof = False
        self.client = client

    def write(self, data: bytes) -> None:
        self.chunks.append(data)
        self.client.pause_reading()

    def write_eof(self) -> None:
        self.eof = True

    def is_closing(self) -> bool:
        return False


class _Closed:
    """Where a half writes once its link is closed: nowhere."""

    __slots__ = ()

    def write(self, data: bytes) -> None:
        pass

    def write_eof(self) -> None:
        pass

    def is_closing(self) -> bool:
        return True


_CLOSED = _Closed()


class _Half(asyncio.Protocol):
    """One socket of a forwarded connection: what it receives is written to `out`, the
    other socket's transport. The hot path is `data_received`: a count and a write."""

    __slots__ = ("link", "transport", "out", "received")

    def __init__(self, link: _Link) -> None:
        self.link = link
        self.transport: asyncio.Transport | None = None
        self.out: asyncio.Transport | _Pending | _Closed = _CLOSED
        self.received = 0  # bytes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        self.out.write(data)

    def eof_received(self) -> bool:
        out = self.out
        if out.is_closing():
            return False
        out.write_eof()
        self.link.eofs += 1
        if self.link.eofs == 2:
            self.link.close()
        return True  # keep the other direction open (TCP half-close)

    def pause_writing(self) -> None:
        self.link.other(self).pause_reading()

    def resume_writing(self) -> None:
        self.link.other(self).resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.close()


class _ClientHalf(_Half):
    """The accepted side: its first bytes wait in `_Pending` until a member connection is made."""

    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.out = _Pending(transport)  # type: ignore[arg-type]
        self.link.accepted()


class _ServerHalf(_Half):
    """The side towards the member."""

    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.link.connected()


class _Link:
    """A client connection to a virtual and the connection made for it to a member."""

    __slots__ = (
        "plane",
        "client",
        "server",
        "eofs",
        "virtual_counters",
        "server_counters",
        "task",
        "counted",
        "closed",
        "virtual",
        "idle_timeout",
        "seen",
        "active_at",
        "hops",
        "member_port",
        "opened",
        "ends",
    )

    def __init__(self, plane: DataPlane, virtual: str) -> None:
        self.plane = plane
        self.client = _ClientHalf(self)
        self.server = _ServerHalf(self)
        self.eofs = 0
        self.virtual_counters = plane.stats.of("virtual", virtual)
        self.server_counters: tuple[Counters, ...] = ()  # pool, member, node once connected
        self.task: asyncio.Task[None] | None = None  # deciding, then connecting to a member
        self.counted = False  # in its virtual's counters (a loop never is)
        self.closed = False
        self.virtual = virtual
        self.idle_timeout = plane.idle_timeout(virtual)
        self.seen = (0, 0)  # (client, member) bytes when the idle timer last restarted
        self.active_at = asyncio.get_running_loop().time()
        self.hops: frozenset[str] = frozenset((virtual,))  # the virtuals this connection came through
        self.member_port = 0  # while connecting: the port connected to
        self.opened: asyncio.Future[None] | None = None  # done once that connect has ended
        self.ends: Ends | None = None  # the member connection's (local, remote) addresses

    def other(self, half: _Half) -> asyncio.Transport:
        transport = (self.server if half is self.client else self.client).transport
        return transport if transport is not None else _NO_TRANSPORT  # type: ignore[return-value]

    def accepted(self) -> None:
        self.plane.track(self)
        self.task = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        """A connection that is one of our own member connections (a pool member is one of our
        virtuals) carries the virtuals it came through; one that comes back to a virtual it
        has passed is a loop, reset before it is counted or forwarded."""
        parent = await self.plane.forwarded_from(self.client.transport)  # type: ignore[arg-type]
        if parent is not None:
            if self.virtual in parent.hops:
                self.plane.loop_detected(self.virtual, parent.hops)
                self.reset()
                return
            self.hops = parent.hops | self.hops
        self.counted = True
        self.virtual_counters.total += 1
        self.virtual_counters.current += 1
        await self._connect()

    async def _connect(self) -> None:
        failures = []
        for pool, member in self.plane.candidates(self.virtual):
            stats = self.plane.stats
            self.server_counters = (
                stats.of("pool", pool.path.full_path),
                stats.of("member", member_key(pool, member)),
                stats.of("node", member.node),
            )
            try:
                await asyncio.wait_for(self._open(connect_host(member.address), member.port), CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as error:
                failures.append(f"{join_service(connect_host(member.address), member.port)}: {_reason(error)}")
                continue
            return
        self.server_counters = ()
        self.plane.refused(self.virtual, self.client.transport, failures)  # type: ignore[arg-type]
        _reset(self.client.transport)  # type: ignore[arg-type]  # no member: reset, as BIG-IP does

    async def _open(self, host: str, port: int) -> None:
        """Connects to the member. While it connects, a connection accepted on that port waits
        for the connect to end (`DataPlane.forwarded_from`), so that it can be recognised as
        ours by its peer address even when its accept is seen first. The event loop makes and
        owns the socket: the mock never closes a descriptor the loop has."""
        self.member_port = port
        self.opened = asyncio.get_running_loop().create_future()
        self.plane.connecting.add(self)
        try:
            await asyncio.get_running_loop().create_connection(lambda: self.server, host, port)
        finally:
            self.plane.connecting.discard(self)
            self.opened.set_result(None)

    def connected(self) -> None:
        """The member accepted: count it, pass on what the client already sent, splice."""
        server_transport = self.server.transport
        if self.closed:
            server_transport.close()  # type: ignore[union-attr]
            return
        local = server_transport.get_extra_info("sockname")  # type: ignore[union-attr]
        remote = server_transport.get_extra_info("peername")  # type: ignore[union-attr]
        if local and remote:
            self.ends = (tuple(local[:2]), tuple(remote[:2]))  # type: ignore[assignment]
            self.plane.outgoing[self.ends] = self  # type: ignore[index]
        for counters in self.server_counters:
            counters.total += 1
            counters.current += 1
        pending = self.client.out
        assert isinstance(pending, _Pending)
        self.client.out, self.server.out = server_transport, self.client.transport  # type: ignore[assignment]
        for chunk in pending.chunks:
            server_transport.write(chunk)  # type: ignore[union-attr]
        if pending.eof:
            server_transport.write_eof()  # type: ignore[union-attr]
        if pending.chunks:
            self.client.transport.resume_reading()  # type: ignore[union-attr]

    def live_bytes(self, counters: Counters) -> tuple[int, int]:
        """(in, out) bytes this open link adds to `counters`."""
        if counters is self.virtual_counters:
            return self.client.received, self.server.received
        if any(counters is own for own in self.server_counters) and self.server.transport is not None:
            return self.server.received, self.client.received
        return 0, 0

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
        for half in (self.client, self.server):
            half.out = _CLOSED
            if half.transport is not None:
                half.transport.close()
        counted = [self.virtual_counters] if self.counted else []
        if self.server.transport is not None:
            counted += self.server_counters
        for counters in counted:
            bytes_in, bytes_out = self.live_bytes(counters)
            counters.bytes_in += bytes_in
            counters.bytes_out += bytes_out
            counters.current -= 1
        self.plane.links.discard(self)
        if self.ends is not None and self.plane.outgoing.get(self.ends) is self:
            del self.plane.outgoing[self.ends]

    def abort(self) -> None:
        for half in (self.client, self.server):
            if half.transport is not None:
                half.transport.abort()
        self.close()

    def reset(self) -> None:
        """Both sides get a TCP RST, as BIG-IP resets connections at their idle timeout."""
        for half in (self.client, self.server):
            if half.transport is not None:
                _reset(half.transport)
        self.close()


class _NoTransport:
    """Flow-control calls for a side not connected yet: nothing to pause."""

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


_NO_TRANSPORT = _NoTransport()


def _reset(transport: asyncio.Transport) -> None:
    """Closes with a TCP RST (linger 0) rather than a FIN. A transport already closing has
    given its descriptor back (the number may be another socket's by now): it is left alone."""
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:  # closed under us: it ends with a FIN
            pass
    transport.abort()


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer in {CONNECT_TIMEOUT:g} s"
    return os.strerror(error.errno) if isinstance(error, OSError) and error.errno else str(error)


class ListenerChange:
    """Listeners bound for a configuration not yet saved: commit, or roll back."""

    def __init__(
        self,
        plane: DataPlane,
        config: Config,
        settled: set[str],
        closing: set[str],
        opened: dict[str, tuple[Bind, asyncio.Server]],
        unbound: dict[str, str],
    ) -> None:
        self._plane, self._config = plane, config
        self._settled, self._closing, self._opened, self._unbound = settled, closing, opened, unbound

    async def commit(self, changed: set[tuple[str, str]]) -> None:
        """Makes the configuration live, then has its new listeners accept. `changed`:
        (kind, key) of the records that differ from the live configuration."""
        plane = self._plane
        for key in self._closing:
            plane.listeners.pop(key)[1].close()  # open connections carry on, as on BIG-IP
            log_event("unlisten", virtual=key)
        for key in self._settled:
            reason = self._unbound.get(key)
            if reason is None:
                plane.unbound.pop(key, None)
            elif plane.unbound.get(key) != reason:
                plane.unbound[key] = reason
                log_event("listen-failed", logging.ERROR, virtual=key, error=reason)
        for key, (bind, server) in self._opened.items():
            plane.listeners[key] = (bind, server)
            log_event("listen", virtual=key, bind=str(bind))
        plane.follow(plane.config, self._config, changed)
        plane.config = self._config
        for _, server in self._opened.values():
            await server.start_serving()
        await plane.forward_in_kernel()

    def rollback(self) -> None:
        for _, server in self._opened.values():
            server.close()


class DataPlane:
    """Listeners of the virtual servers, member choice, health monitors and counters."""

    def __init__(
        self,
        *,
        bind_virtuals_to: str | None = None,
        monitor_interval: float = 5.0,
        kernel: KernelForwarding | None = None,
    ) -> None:
        self.bind_virtuals_to = bind_virtuals_to
        self.kernel = kernel  # fastL4 virtuals' kernel forwarding; None: the userspace proxy serves them
        self.not_in_kernel: dict[str, str] = {}  # fastL4 virtual -> why the userspace proxy serves it
        self.kernel_counters: dict[tuple[str, str], KernelCounters] = {}  # as last read
        self._kernel_lock = asyncio.Lock()
        self._following_monitor: asyncio.Task[None] | None = None
        self.config = Config()
        self.listeners: dict[str, tuple[Bind, asyncio.Server]] = {}
        self.unbound: dict[str, str] = {}  # virtual -> why it cannot listen
        self.links: set[_Link] = set()
        self.stats = Stats()
        self.monitor = HealthMonitor(monitor_interval)
        self.last_chosen: dict[str, str] = {}  # pool -> member, for round-robin; live pools only
        self._sweeper: asyncio.Task[None] | None = None
        self.connecting: set[_Link] = set()  # links whose member connection is being made
        # A member connection's (local, remote) addresses -> its link. Both ends, as the kernel gives one local
        # port to connections to different places at once: a client's connection may share it.
        self.outgoing: dict[Ends, _Link] = {}
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}  # (event, virtual) -> (last logged, left out)

    async def forwarded_from(self, accepted: asyncio.Transport) -> _Link | None:
        """The link whose member connection this accepted connection is, when a pool member
        is one of our own virtuals; None for a connection from elsewhere. An accept can be
        seen before the connect that made it has ended on our side: one from this host waits
        for the connects to its port under way, then looks again."""
        peer, own = accepted.get_extra_info("peername"), accepted.get_extra_info("sockname")
        if not peer or not own:
            return None
        ends = (tuple(peer[:2]), tuple(own[:2]))
        link = self.outgoing.get(ends)  # type: ignore[arg-type]
        if link is not None or (peer[0] != own[0] and not ipaddress.ip_address(peer[0]).is_loopback):
            return link
        under_way = [link.opened for link in self.connecting if link.member_port == own[1] and link.opened]
        if under_way:
            await asyncio.wait(under_way, timeout=CONNECT_TIMEOUT)
        return self.outgoing.get(ends)  # type: ignore[arg-type]

    def loop_detected(self, virtual: str, through: frozenset[str]) -> None:
        self._log_limited("loop", virtual, through=sorted(through))

    def refused(self, virtual: str, client: asyncio.Transport, failures: list[str]) -> None:
        """A client reset because no member took its connection."""
        peer = client.get_extra_info("peername")
        reason = "; ".join(failures) if failures else "no member available"
        self._log_limited("connection-refused", virtual, client=join_service(*peer[:2]) if peer else "", reason=reason)

    def _log_limited(self, event: str, virtual: str, **fields: object) -> None:
        """Logged at most once a second per event and virtual (a flood must not flood the log);
        `suppressed` counts those left out since the last one logged."""
        now = asyncio.get_running_loop().time()
        last, left_out = self._logged.get((event, virtual), (-LOG_INTERVAL, 0))
        if now - last < LOG_INTERVAL:
            self._logged[(event, virtual)] = (last, left_out + 1)
            return
        self._logged[(event, virtual)] = (now, 0)
        log_event(event, logging.ERROR if event == "loop" else logging.WARNING, virtual=virtual,
                  suppressed=left_out, **fields)

    def track(self, link: _Link) -> None:
        self.links.add(link)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_idle())

    def follow(self, before: Config, after: Config, changed: set[tuple[str, str]]) -> None:
        """Counters, round-robin turns and monitor targets follow a change (only what it touched)."""
        for kind, key in changed:
            if kind == "pools":
                old, new = before.pools.get(key), after.pools.get(key)
                self.monitor.replace(old, new)
                if new is None:
                    self.last_chosen.pop(key, None)
                    self.stats.drop("pool", key)
                if old is not None:  # the members gone (shared records are unchanged ones)
                    shared = set(map(id, new.members)) if new is not None else set()
                    gone = [member for member in old.members if id(member) not in shared]
                    kept = {member.name for member in new.members} if new is not None and gone else set()
                    for member in gone:
                        if member.name not in kept:
                            self.stats.drop("member", member_key(old, member))
            elif kind in ("nodes", "virtuals") and key not in getattr(after, kind):
                self.stats.drop(kind.removesuffix("s"), key)

    def idle_timeout(self, virtual_key: str) -> int:
        """Seconds a connection of the virtual may carry no byte (its TCP profile's idleTimeout)."""
        virtual = self.config.virtuals.get(virtual_key)
        if virtual is None:
            return DEFAULT_IDLE_TIMEOUT
        if virtual.fastl4_profile:
            profile = self.config.fastl4_profiles.get(virtual.fastl4_profile, BUILTIN_FASTL4_PROFILE)
        else:
            profile = self.config.tcp_profiles.get(virtual.tcp_profile, BUILTIN_TCP_PROFILE)
        return profile.idle_timeout

    async def _sweep_idle(self) -> None:
        """Resets connections idle past their timeout, as BIG-IP reaps them; without it, a
        member that never answers keeps a connection (two descriptors) forever."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(IDLE_SWEEP_INTERVAL)
            now = loop.time()
            for link in list(self.links):
                try:
                    self._sweep(link, now)
                except Exception as error:  # one link's trouble (a descriptor closed under it) stops no sweep
                    log_event("sweep-failed", logging.ERROR, virtual=link.virtual, error=repr(error))
                    link.close()

    @staticmethod
    def _sweep(link: _Link, now: float) -> None:
        client, member = link.client.received, link.server.received
        seen_client, seen_member = link.seen
        if client != seen_client or member - seen_member >= MEMBER_PROGRESS:
            link.seen, link.active_at = (client, member), now
        elif link.idle_timeout != INDEFINITE and now - link.active_at >= link.idle_timeout:
            link.reset()

    async def forward_in_kernel(self) -> None:
        """The kernel forwards the fastL4 virtuals of the live configuration to their available
        members (nothing is done when that did not change); those it cannot are left to the
        userspace proxy, which listens for every virtual, with the reason in their status."""
        async with self._kernel_lock:
            fast, not_in_kernel = [], {}
            for key, virtual in sorted(self.config.virtuals.items()):
                if not virtual.fastl4_profile:
                    continue
                reason, forwarded = self._kernel_virtual(key, virtual)
                if forwarded is not None:
                    fast.append(forwarded)
                elif reason:
                    not_in_kernel[key] = reason
            if self.kernel is not None:
                await self.kernel.apply(tuple(fast))
                if self.kernel.error is not None:
                    not_in_kernel.update({virtual.key: self.kernel.error for virtual in fast})
            for key in not_in_kernel.keys() - self.not_in_kernel.keys():
                log_event("fastl4-userspace", logging.WARNING, virtual=key, reason=not_in_kernel[key])
            self.not_in_kernel = not_in_kernel
            if fast and self._following_monitor is None:
                self._following_monitor = asyncio.get_running_loop().create_task(self._follow_monitor())

    def _kernel_virtual(self, key: str, virtual: VirtualRecord) -> tuple[str, FastVirtual | None]:
        """The virtual as the kernel forwards it, or why it cannot ("" when it forwards nothing)."""
        bind = self.bind(virtual)
        if bind is None or key not in self.listeners:
            return "", None
        if self.kernel is None:
            return "kernel forwarding is off", None
        pool = self.config.pools[virtual.pool]
        members = [member for member in pool.members if self._available(pool, member)]
        hosts = [connect_host(member.address) for member in members]
        if not is_ipv4(bind.host) or not all(is_ipv4(host) for host in hosts):
            return "IPv6 is forwarded by the userspace proxy", None
        loopback = ipaddress.ip_address(bind.host).is_loopback
        if loopback and not all(ipaddress.ip_address(host).is_loopback for host in hosts):
            return "a loopback virtual with members beyond loopback (the kernel routes no loopback source off the host)", None
        targets = tuple(
            Target(pool.path.full_path, member.path.full_path, member.node, host, member.port)
            for member, host in zip(members, hosts)
        )
        return "", FastVirtual(key, bind.host, bind.port, targets)

    async def _follow_monitor(self) -> None:
        """A member marked down or up by its monitor changes what the kernel sends it."""
        while True:
            await self.monitor.changed.wait()
            self.monitor.changed.clear()
            await self.forward_in_kernel()

    async def read_kernel_counters(self) -> None:
        """Refreshes `kernel_counters` (before stats are rendered)."""
        if self.kernel is not None:
            self.kernel_counters = await self.kernel.counters()

    def bind(self, virtual: VirtualRecord) -> Bind | None:
        """Where a virtual listens: its destination (or `bind_virtuals_to`) when it forwards."""
        if not (virtual.enabled and virtual.pool):
            return None
        destination = parse_destination(virtual.destination, virtual.partition)
        return Bind(self.bind_virtuals_to or str(destination.address.ip), destination.port)

    async def prepare(self, config: Config, virtuals: set[str] | None = None) -> ListenerChange:
        """Binds the listeners that `virtuals` (all when None) need in `config`. A destination
        that cannot be bound is no error: BIG-IP takes any address for a virtual. It is
        reported (virtual stats, /health) and retried (`DataPlane.unbound`)."""
        if virtuals is None:
            virtuals = set(config.virtuals) | set(self.listeners) | set(self.unbound)
        loop = asyncio.get_running_loop()
        opened: dict[str, tuple[Bind, asyncio.Server]] = {}
        unbound: dict[str, str] = {}
        closing: set[str] = set()  # listeners gone or moved
        for key in virtuals:
            virtual = config.virtuals.get(key)
            bind = self.bind(virtual) if virtual is not None else None
            current = self.listeners.get(key)
            if current is not None and current[0] != bind:
                closing.add(key)
            if bind is None or (current is not None and current[0] == bind):
                continue
            try:
                # Bound now (a port in use shows here) but not listening before `commit`: a
                # connection must not arrive before the configuration that serves it.
                server = await loop.create_server(
                    lambda key=key: _Link(self, key).client,
                    bind.host,
                    bind.port,
                    reuse_address=True,
                    backlog=1024,
                    start_serving=False,
                )
            except OSError as error:
                unbound[key] = f"cannot listen on {bind}: {os.strerror(error.errno) if error.errno else error}"
                continue
            opened[key] = (bind, server)
        return ListenerChange(self, config, virtuals, closing, opened, unbound)

    def candidates(self, virtual_key: str) -> list[tuple[PoolRecord, MemberRecord]]:
        """The members to try for a new connection, best first."""
        virtual = self.config.virtuals.get(virtual_key)
        pool = self.config.pools.get(virtual.pool) if virtual is not None else None
        if pool is None or not virtual.enabled:  # type: ignore[union-attr]
            return []
        available = [member for member in pool.members if self._available(pool, member)]
        if not available:
            return []
        if pool.load_balancing_mode == "least-connections-member":
            available.sort(key=lambda member: self.stats.peek("member", member_key(pool, member)).current)
        else:
            available = self._round_robin(pool, available)
        self.last_chosen[pool.path.full_path] = available[0].path.full_path
        return [(pool, member) for member in available]

    def _round_robin(self, pool: PoolRecord, available: list[MemberRecord]) -> list[MemberRecord]:
        """`available` rotated to start after the member chosen last (in pool order)."""
        order = [member.path.full_path for member in pool.members]
        last = self.last_chosen.get(pool.path.full_path)
        last_index = order.index(last) if last in order else -1
        start = next((i for i, member in enumerate(available) if order.index(member.path.full_path) > last_index), 0)
        return available[start:] + available[:start]

    def _available(self, pool: PoolRecord, member: MemberRecord) -> bool:
        if member.disabled or member.forced_down:
            return False
        node = self.config.nodes.get(member.node)
        if node is not None and (node.disabled or node.forced_down):
            return False
        return not pool.monitor or self.monitor.is_up(connect_host(member.address), member.port) is True

    def member_state(self, pool: PoolRecord, member: MemberRecord) -> tuple[str, str]:
        """The `state` and `session` BIG-IP reports for a member."""
        if member.forced_down:
            state = "user-down"
        elif pool.monitor:
            state = "up" if self.monitor.is_up(connect_host(member.address), member.port) else "down"
        else:
            state = "unchecked"
        session = "user-disabled" if member.disabled else "monitor-enabled" if pool.monitor else "user-enabled"
        return state, session

    def counters(self, kind: str, key: str) -> Counters:
        """The counters of an object, bytes of its open connections included."""
        stored = self.stats.peek(kind, key)
        live = Counters(stored.current, stored.total, stored.bytes_in, stored.bytes_out)
        kernel = self.kernel_counters.get((kind, key))
        if kernel is not None:
            live.current += kernel.current
            live.total += kernel.total
            live.bytes_in += kernel.bytes_in
            live.bytes_out += kernel.bytes_out
        for link in self.links:
            bytes_in, bytes_out = link.live_bytes(stored)
            live.bytes_in += bytes_in
            live.bytes_out += bytes_out
        return live

    def availability(self, pool: PoolRecord, member: MemberRecord) -> str:
        return "available" if self._available(pool, member) else "offline"

    async def close(self) -> None:
        for _, server in self.listeners.values():
            server.close()
        self.listeners.clear()
        for link in list(self.links):
            link.abort()
        for task in (self._sweeper, self._following_monitor):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.monitor.stop()
        if self.kernel is not None:
            await self.kernel.stop()
