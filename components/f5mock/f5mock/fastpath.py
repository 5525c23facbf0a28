"""fastL4 in the kernel: virtuals whose profile is a fastL4 one are forwarded by nftables DNAT.

On the appliance a plain TCP virtual uses the fastL4 profile and is forwarded in the fast path,
not by the full proxy. The mock does the same with the kernel's NAT: every fastL4 virtual is
a rule that picks one of its pool's available members round robin (`numgen inc`) and rewrites
the destination; connection tracking keeps each connection on its member, so members added,
removed or marked down change new connections only. Replies are masqueraded to the mock's
address (as a SNAT automap would), so members answer through the mock as they do to the
userspace proxy. Counters come from the kernel: one rule counter per member for the
connections it was given, two for the bytes each way, and conntrack for those open.

All of it is one nftables table named for the instance (its state directory): replaced whole
in one transaction at each change, deleted at start (a previous instance killed) and at stop,
and by a watcher process if this one is killed. Without nft or the capability (not root, no
NET_ADMIN), the virtuals are served by the userspace proxy, which listens for every virtual
anyway, and their status says why.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

NFT = "nft"
CONNTRACK = Path("/proc/net/nf_conntrack")
STATS_MAX_AGE = 0.5  # seconds a reading of the kernel's counters is reused


@dataclass(frozen=True)
class Target:
    """A member the kernel may send connections to: (pool, member) keys and its address."""

    pool: str
    member: str
    node: str
    host: str
    port: int


@dataclass(frozen=True)
class FastVirtual:
    key: str
    host: str  # the address it listens on ("0.0.0.0": any address of the host)
    port: int
    members: tuple[Target, ...]  # available ones, in pool order


@dataclass
class KernelCounters:
    """What the kernel counted for one virtual, pool, member or node."""

    current: int = 0
    total: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


@dataclass
class _Reading:
    at: float = -STATS_MAX_AGE
    counters: dict[tuple[str, str], KernelCounters] = field(default_factory=dict)


def table_name(state_dir: Path) -> str:
    """`f5mock_<hash>`: one table per instance, found again by the next one on the same state."""
    return "f5mock_" + hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:10]


class KernelForwarding:
    def __init__(self, table: str) -> None:
        self.table = table
        self.error: str | None = "not started"  # why the kernel does not forward, None when it does
        self._applied: tuple[FastVirtual, ...] | None = None
        self._chains: dict[str, tuple[str, str]] = {}  # chain -> (kind of counter, which target)
        self._carried: dict[tuple[str, str], KernelCounters] = {}  # counters of tables replaced
        self._reading = _Reading()
        self._watcher: subprocess.Popen[bytes] | None = None
        self._targets: dict[str, Target] = {}  # of the table applied
        self._virtual_of: dict[str, str] = {}  # its chain -> virtual

    async def start(self) -> None:
        """Removes what a killed instance left, and starts the watcher that removes this one's
        table if the process dies without `stop`."""
        error = await self._nft(self._delete_table())  # also what a killed instance left
        self.error = error
        if error is None:
            self._watcher = subprocess.Popen(  # its stdin ends when this process does, however it ends
                ["sh", "-c", f'read _; exec {NFT} delete table ip {self.table} 2>/dev/null'],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )

    async def stop(self) -> None:
        if self.error is None:
            await self._nft(self._delete_table())
        if self._watcher is not None:
            self._watcher.stdin.close()  # type: ignore[union-attr]
            await asyncio.to_thread(self._watcher.wait)
            self._watcher = None

    async def apply(self, virtuals: tuple[FastVirtual, ...]) -> None:
        """Makes the table forward exactly `virtuals` (nothing is done when they did not change)."""
        if self.error is not None and self._applied is None and self._watcher is None:
            return  # never available: the userspace proxy serves them
        if virtuals == self._applied:
            return
        self._carry(await self._read())
        ruleset, chains = _ruleset(self.table, virtuals)
        error = await self._nft(ruleset)
        if error is None:
            self._applied, self._chains, self.error = virtuals, chains, None
            self._targets = {_target_id(target): target for virtual in virtuals for target in virtual.members}
            self._virtual_of = {f"v{index}": virtual.key for index, virtual in enumerate(virtuals)}
            self._reading = _Reading()
        else:
            self.error = error

    def _delete_table(self) -> str:
        """Deletes the table whether or not it exists (nft has no "delete if present" before 1.0.8)."""
        return f"table ip {self.table} {{}}\ndelete table ip {self.table}\n"

    def forwarded(self, virtual: str) -> bool:
        return self.error is None and self._applied is not None and any(v.key == virtual for v in self._applied)

    async def counters(self) -> dict[tuple[str, str], KernelCounters]:
        """(kind, key) -> what the kernel counted, tables replaced since start included."""
        if self._applied is None:
            return dict(self._carried)
        now = time.monotonic()
        if now - self._reading.at >= STATS_MAX_AGE:
            self._reading = _Reading(now, await self._read())
        merged: dict[tuple[str, str], KernelCounters] = {}
        for source in (self._carried, self._reading.counters):
            for key, counters in source.items():
                total = merged.setdefault(key, KernelCounters())
                total.total += counters.total
                total.bytes_in += counters.bytes_in
                total.bytes_out += counters.bytes_out
                total.current += counters.current
        return merged

    def _carry(self, reading: dict[tuple[str, str], KernelCounters]) -> None:
        """Counters of the table about to be replaced are kept (open connections are not)."""
        for key, counters in reading.items():
            carried = self._carried.setdefault(key, KernelCounters())
            carried.total += counters.total
            carried.bytes_in += counters.bytes_in
            carried.bytes_out += counters.bytes_out

    async def _read(self) -> dict[tuple[str, str], KernelCounters]:
        if self._applied is None or self.error is not None:
            return {}
        process = await asyncio.create_subprocess_exec(
            NFT, "-j", "list", "table", "ip", self.table,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            return {}
        counted: dict[tuple[str, str], KernelCounters] = {}

        def add(target: Target, connections: int = 0, bytes_in: int = 0, bytes_out: int = 0) -> None:
            for key in (("pool", target.pool), ("member", f"{target.pool} {target.member}"), ("node", target.node)):
                counters = counted.setdefault(key, KernelCounters())
                counters.total += connections
                counters.bytes_in += bytes_in  # serverside: received from the member
                counters.bytes_out += bytes_out

        virtual_of_member: dict[str, str] = {}
        for item in json.loads(output)["nftables"]:
            rule = item.get("rule")
            if rule is None:
                continue
            counter = next((expr["counter"] for expr in rule["expr"] if "counter" in expr), None)
            if counter is None:
                continue
            chain, comment = rule["chain"], rule.get("comment", "")
            if chain == "virtuals":
                jump = next(expr for expr in rule["expr"] if "jump" in expr)["jump"]["target"]
                key = ("virtual", self._virtual_of[jump])
                counted.setdefault(key, KernelCounters()).total += counter["packets"]
            elif chain in self._chains and self._chains[chain][0] == "member":
                add(self._targets[self._chains[chain][1]], connections=counter["packets"])
                virtual_of_member[chain] = self._virtual_of[chain.partition("m")[0]]
            elif chain == "count_bytes" and comment:
                direction, member_chain = comment.split()
                target = self._targets[self._chains[member_chain][1]]
                virtual = counted.setdefault(("virtual", self._virtual_of[member_chain.partition("m")[0]]),
                                             KernelCounters())
                if direction == "in":  # client -> member
                    add(target, bytes_out=counter["bytes"])
                    virtual.bytes_in += counter["bytes"]
                else:
                    add(target, bytes_in=counter["bytes"])
                    virtual.bytes_out += counter["bytes"]
        for key, current in (await asyncio.to_thread(self._open_connections)).items():
            counted.setdefault(key, KernelCounters()).current += current
        return counted

    def _open_connections(self) -> dict[tuple[str, str], int]:
        """Connections open through the fastL4 virtuals, from conntrack (when it is readable)."""
        if not self._applied:
            return {}
        ports = {(virtual.host, virtual.port): virtual for virtual in self._applied}
        by_address = {(target.host, target.port): target for virtual in self._applied for target in virtual.members}
        open_now: dict[tuple[str, str], int] = {}
        try:
            lines = CONNTRACK.read_text().splitlines()
        except OSError:
            return {}
        for line in lines:
            if " ESTABLISHED " not in line or " tcp " not in line:
                continue
            fields = [part.split("=", 1) for part in line.split() if "=" in part]
            values = [value for name, value in fields if name in ("src", "dst", "sport", "dport")]
            if len(values) < 8:
                continue
            _, dst, _, dport, reply_src, _, reply_sport, _ = values[:8]
            virtual = ports.get((dst, int(dport))) or ports.get(("0.0.0.0", int(dport)))
            target = by_address.get((reply_src, int(reply_sport)))
            if virtual is None or target is None or (dst, int(dport)) == (reply_src, int(reply_sport)):
                continue
            for key in (("virtual", virtual.key), ("pool", target.pool), ("member", f"{target.pool} {target.member}"),
                        ("node", target.node)):
                open_now[key] = open_now.get(key, 0) + 1
        return open_now

    async def _nft(self, script: str) -> str | None:
        """Runs one nft transaction; the reason it failed, or None."""
        try:
            process = await asyncio.create_subprocess_exec(
                NFT, "-f", "-", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            return f"{NFT}: {error.strerror}"
        _, stderr = await process.communicate(script.encode())
        if process.returncode == 0:
            return None
        reason = stderr.decode(errors="replace").strip().splitlines()
        return f"{NFT}: {reason[0] if reason else f'exit {process.returncode}'}"


def _ruleset(table: str, virtuals: tuple[FastVirtual, ...]) -> tuple[str, dict[str, tuple[str, str]]]:
    """The whole table for `virtuals`, replacing the one in force in one transaction; and what
    each chain's counter counts."""
    chains: dict[str, tuple[str, str]] = {}
    lines = [
        f"table ip {table} {{}}",
        f"delete table ip {table}",
        f"table ip {table} {{",
        "  chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump virtuals; }",
        "  chain output { type nat hook output priority -100; policy accept; jump virtuals; }",
        "  chain postrouting { type nat hook postrouting priority srcnat; policy accept; jump snat_replies; }",
        "  chain counting { type filter hook postrouting priority 0; policy accept; jump count_bytes; }",
    ]
    dispatch, masquerade, counting = [], [], []
    for index, virtual in enumerate(virtuals):
        name = f"v{index}"
        address = "fib daddr type local" if virtual.host == "0.0.0.0" else f"ip daddr {virtual.host}"
        original = f"meta l4proto tcp ct original proto-dst {virtual.port}"
        if virtual.host != "0.0.0.0":
            original = f"ct original ip daddr {virtual.host} {original}"
        if not virtual.members:  # none available: left to the userspace listener, which resets
            continue
        dispatch.append(f"{address} tcp dport {virtual.port} counter jump {name}")
        chains[name] = ("virtual", virtual.key)
        turns = ", ".join(f"{turn} : jump {name}m{turn}" for turn in range(len(virtual.members)))
        lines.append(f"  chain {name} {{ numgen inc mod {len(virtual.members)} vmap {{ {turns} }}; }}")
        masquerade.append(f"ct status dnat {original} ip saddr != 127.0.0.0/8 masquerade")
        for turn, target in enumerate(virtual.members):
            member = f"{name}m{turn}"
            chains[member] = ("member", _target_id(target))
            lines.append(f"  chain {member} {{ meta l4proto tcp counter dnat to {target.host}:{target.port}; }}")
            counting.append(f"ct status dnat {original} ct direction original ip daddr {target.host} "
                            f"tcp dport {target.port} counter comment \"in {member}\"")
            counting.append(f"ct status dnat {original} ct direction reply ip saddr {target.host} "
                            f"tcp sport {target.port} counter comment \"out {member}\"")
    lines.append("  chain virtuals {")
    lines += [f"    {rule}" for rule in dispatch]
    lines.append("  }")
    lines.append("  chain snat_replies {")
    lines += [f"    {rule}" for rule in masquerade]
    lines.append("  }")
    lines.append("  chain count_bytes {")
    lines += [f"    {rule}" for rule in counting]
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n", chains



def _target_id(target: Target) -> str:
    return f"{target.pool} {target.member}"


def is_ipv4(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 4
    except ValueError:
        return False
