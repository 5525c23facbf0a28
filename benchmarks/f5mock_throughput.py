"""Throughput and added latency of the mock F5's data plane.

HTTP keep-alive requests/s with `wrk` (Debian package `wrk`), 32 connections: straight
to a backend, through a virtual served by the mock's userspace proxy, and through a fastL4
virtual the kernel forwards (nftables DNAT: run as root with `nft`, else it reports the
fallback), all in front of the same backend, alternating in short rounds so that other load
on a shared machine hits them alike. Prints median requests/s, the ratio to direct, the
median / p50 and p99 latency added by the hop, and CPU time per request of wrk, the backend
and the mock. Backend and mock each run in their own process, on loopback.

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


PATHS = ("direct", "userspace virtual", "fastL4 virtual")


def measure(seconds: int, rounds: int, event_loop: str) -> None:
    """Alternates the three paths to the same backend (straight, through a virtual served by the
    userspace proxy, through a fastL4 virtual the kernel forwards) so that load from other
    processes hits them alike."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    backend_port, api_port, userspace_port, fastl4_port = free_port(), free_port(), free_port(), free_port()
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
                for name, port, profiles in (
                    ("userspace", userspace_port, ["/Common/tcp"]), ("fastl4", fastl4_port, ["/Common/fastL4"])
                ):
                    api.post(
                        "/mgmt/tm/ltm/virtual",
                        json={"name": name, "destination": f"127.0.0.1:{port}", "pool": "bench", "profiles": profiles},
                    ).raise_for_status()
                (stats,) = api.get("/mgmt/tm/ltm/virtual/~Common~fastl4/stats").json()["entries"].values()
                fastl4_status = stats["nestedStats"]["entries"]["status.statusReason"]["description"]
            ports = dict(zip(PATHS, (backend_port, userspace_port, fastl4_port)))
            runs: dict[str, list[tuple[float, float, float, float]]] = {path: [] for path in PATHS}
            cpu: dict[str, dict[str, list[float]]] = {path: {"wrk": [], "backend": [], "mock": []} for path in PATHS}
            for _ in range(rounds):
                for path in PATHS:
                    before = {"backend": cpu_seconds(backend.pid), "mock": cpu_seconds(mock.pid)}
                    runs[path].append(wrk(ports[path], seconds))
                    requests = runs[path][-1][0] * seconds
                    cpu[path]["wrk"].append(runs[path][-1][3] / requests * 1e6)
                    for process, pid in (("backend", backend.pid), ("mock", mock.pid)):
                        cpu[path][process].append((cpu_seconds(pid) - before[process]) / requests * 1e6)
        finally:
            for process in (backend, mock):
                process.terminate()
                process.wait(timeout=30)
    print(
        f"event loop: {event_loop}; {CONNECTIONS} connections; {rounds} alternating rounds of {seconds}s; "
        f"medians; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"fastL4 virtual: {fastl4_status}")
    direct = runs["direct"]
    for path in PATHS:
        rate = median([r[0] for r in runs[path]])
        line = (
            f"{path + ':':19} {rate:8.0f} req/s  p50 {median([r[1] for r in runs[path]]):.3f} ms"
            f"  p99 {median([r[2] for r in runs[path]]):.3f} ms"
        )
        if path != "direct":
            line += (
                f"  ratio {rate / median([r[0] for r in direct]):.2f}  added p50 "
                f"{median([p[1] - d[1] for d, p in zip(direct, runs[path])]):+.3f} ms, p99 "
                f"{median([p[2] - d[2] for d, p in zip(direct, runs[path])]):+.3f} ms"
            )
        per_request = {process: median(values) for process, values in cpu[path].items()}
        line += (
            f"  CPU/request {sum(per_request.values()):.1f} us (wrk {per_request['wrk']:.1f}, backend "
            f"{per_request['backend']:.1f}, mock {per_request['mock']:.1f})"
        )
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the three paths; medians are reported")
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
