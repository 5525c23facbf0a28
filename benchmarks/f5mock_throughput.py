"""Throughput and added latency of the mock F5's data plane.

HTTP keep-alive requests/s with `wrk` (Debian package `wrk`), 32 connections: straight
to a backend, then through a virtual server of the mock in front of the same backend,
alternating in short rounds so that other load on a shared machine hits both alike.
Prints median requests/s, their ratio, the median / p99 latency added by the hop, and
CPU time per request of wrk, the backend and the mock (the figures least disturbed by
other load; on a machine whose CPUs are all busy, the ratio follows from them).
Backend and mock each run in their own process, on loopback.

    .venv/bin/python benchmarks/f5mock_throughput.py [--seconds 3] [--rounds 5] [--event-loop uvloop|asyncio]

Figures go to docs/f5-mock.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
CONNECTIONS = 32


class _Backend(asyncio.Protocol):
    """A minimal keep-alive HTTP responder: one answer per request head received."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        requests = self.pending.count(b"\r\n\r\n")
        if requests:
            self.pending = self.pending[self.pending.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(RESPONSE * requests)  # type: ignore[attr-defined]


def run_backend(port: int) -> None:
    import uvloop

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(_Backend, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    uvloop.run(serve())


def run_mock(port: int, state_dir: str, event_loop: str) -> None:
    from f5mock.server import F5MockServer

    server = F5MockServer(state_dir, port=port)
    if event_loop == "uvloop":
        import uvloop

        uvloop.run(server.serve_until_signalled())
    else:
        asyncio.run(server.serve_until_signalled())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wrk(port: int, seconds: int) -> tuple[float, float, float, float]:
    """requests/s, median and p99 latency (ms), wrk's own CPU seconds."""
    cpu_before = _children_cpu()
    output = subprocess.run(
        [
            "wrk",
            "--threads",
            "2",
            "--connections",
            str(CONNECTIONS),
            "--duration",
            f"{seconds}s",
            "--latency",
            f"http://127.0.0.1:{port}/",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Socket errors" in output or "Non-2xx" in output:
        sys.exit(f"wrk saw errors on port {port}:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return rate, _latency(output, "50%"), _latency(output, "99%"), _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: list[float]) -> float:
    return statistics.median(values)


def measure(seconds: int, rounds: int, event_loop: str) -> None:
    """Alternates direct and proxied runs so that load from other processes hits both alike."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    backend_port, api_port, virtual_port = free_port(), free_port(), free_port()
    me = [sys.executable, __file__]
    with tempfile.TemporaryDirectory() as state_dir:
        backend = subprocess.Popen([*me, "backend", str(backend_port)])
        mock = subprocess.Popen([*me, "mock", str(api_port), state_dir, event_loop], stderr=subprocess.DEVNULL)
        try:
            wait_for_port(backend_port)
            wait_for_port(api_port)
            with httpx.Client(base_url=f"https://127.0.0.1:{api_port}", auth=("admin", "admin"), verify=False) as api:
                api.post(
                    "/mgmt/tm/ltm/pool", json={"name": "bench", "members": [{"name": f"127.0.0.1:{backend_port}"}]}
                ).raise_for_status()
                api.post(
                    "/mgmt/tm/ltm/virtual",
                    json={"name": "bench", "destination": f"127.0.0.1:{virtual_port}", "pool": "bench"},
                ).raise_for_status()
            direct, proxied = [], []
            cpu: dict[str, list[float]] = {
                key: [] for key in ("direct wrk", "direct backend", "proxied wrk", "proxied backend", "proxied mock")
            }
            for _ in range(rounds):
                for runs, port, label in ((direct, backend_port, "direct"), (proxied, virtual_port, "proxied")):
                    before = {"backend": cpu_seconds(backend.pid), "mock": cpu_seconds(mock.pid)}
                    runs.append(wrk(port, seconds))
                    requests = runs[-1][0] * seconds
                    cpu[f"{label} wrk"].append(runs[-1][3] / requests * 1e6)
                    cpu[f"{label} backend"].append((cpu_seconds(backend.pid) - before["backend"]) / requests * 1e6)
                    if label == "proxied":
                        cpu["proxied mock"].append((cpu_seconds(mock.pid) - before["mock"]) / requests * 1e6)
        finally:
            for process in (backend, mock):
                process.terminate()
                process.wait(timeout=30)
    rate_direct, rate_proxied = median([r[0] for r in direct]), median([r[0] for r in proxied])
    print(
        f"event loop: {event_loop}; {CONNECTIONS} connections; {rounds} alternating rounds of {seconds}s; "
        f"medians; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for label, runs in (("direct", direct), ("through virtual", proxied)):
        print(
            f"{label + ':':17} {median([r[0] for r in runs]):8.0f} req/s  p50 {median([r[1] for r in runs]):.3f} ms"
            f"  p99 {median([r[2] for r in runs]):.3f} ms"
        )
    print(
        f"ratio: {rate_proxied / rate_direct:.2f}  added latency: "
        f"p50 {median([p[1] - d[1] for d, p in zip(direct, proxied)]):+.3f} ms, "
        f"p99 {median([p[2] - d[2] for d, p in zip(direct, proxied)]):+.3f} ms"
    )
    per_request = {key: median(values) for key, values in cpu.items()}
    direct_cpu = per_request["direct wrk"] + per_request["direct backend"]
    proxied_cpu = per_request["proxied wrk"] + per_request["proxied backend"] + per_request["proxied mock"]
    print(
        f"CPU per request: direct {direct_cpu:.1f} us (wrk {per_request['direct wrk']:.1f}, backend "
        f"{per_request['direct backend']:.1f}); through virtual {proxied_cpu:.1f} us (wrk "
        f"{per_request['proxied wrk']:.1f}, backend {per_request['proxied backend']:.1f}, mock "
        f"{per_request['proxied mock']:.1f})"
    )
    print(f"ratio expected when the CPUs are the limit: {direct_cpu / proxied_cpu:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="direct/proxied pairs; medians are reported")
    parser.add_argument("--event-loop", choices=["uvloop", "asyncio"], default="uvloop")
    if len(sys.argv) > 1 and sys.argv[1] == "backend":
        run_backend(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "mock":
        run_mock(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        arguments = parser.parse_args()
        measure(arguments.seconds, arguments.rounds, arguments.event_loop)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
