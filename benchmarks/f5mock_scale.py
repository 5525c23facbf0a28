"""The mock F5 at size: 5,000 pools created one by one through the API, or (`--members N`)
N members added one request at a time to one pool.

Starts `f5-mock serve` (its own process, on loopback, a fresh state dir) and a
virtual in front of a small TCP backend, then creates the pools sequentially over one
keep-alive HTTPS connection (each with one member, so 5,000 nodes too) while a prober
opens a connection through the virtual every 20 ms. Reports per-write latency (p50/p99/max,
and p50 for the first and last 500 writes: does a write cost more as the configuration
grows?), the time for all of them, and the virtual's latency idle and during the writes.

    .venv/bin/python benchmarks/f5mock_scale.py [--pools 5000 | --members 10000] [--time-limit 300] [--source DIR]

With `--members`, the state directory's size on disk is reported as well (the journal must
grow with the members, not with their square).

`--source` runs the mock from another checkout (its components/f5mock; e.g. an export of an older commit) to
compare. Figures go to docs/f5-mock.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx

BACKEND = (
    "import socket, threading\n"
    "server = socket.create_server(('127.0.0.1', {port}), backlog=256)\n"
    "def answer(connection):\n"
    "    with connection:\n"
    "        connection.recv(64); connection.sendall(b'pong\\n')\n"
    "while True:\n"
    "    threading.Thread(target=answer, args=(server.accept()[0],), daemon=True).start()\n"
)
PROBE_INTERVAL = 0.02


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe(label: str, seconds: list[float]) -> str:
    ms = [value * 1000 for value in seconds]
    return (
        f"{label}: n={len(ms)} p50 {statistics.median(ms):.2f} ms, p99 {percentile(ms, 0.99):.2f} ms, "
        f"max {max(ms):.2f} ms"
    )


def probe(port: int, writing: Event, stopped: Event, results: Connection) -> None:
    """In its own process (no GIL shared with the writer): one short connection through the
    virtual every PROBE_INTERVAL; sends back the latencies idle and during the writes."""
    latencies: dict[str, list[float]] = {"idle": [], "writes": []}
    failures = 0
    while not stopped.wait(PROBE_INTERVAL):
        phase = "writes" if writing.is_set() else "idle"
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(b"ping\n")
                answer = connection.recv(64)
        except OSError:
            answer = b""
        if answer == b"pong\n":
            latencies[phase].append(time.perf_counter() - started)
        else:
            failures += 1
    results.send((latencies, failures))


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=int, default=5000)
    parser.add_argument("--members", type=int, default=0, help="add this many members to one pool instead")
    parser.add_argument("--time-limit", type=float, default=300.0, help="stop creating after this many seconds")
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1])
    options = parser.parse_args()

    api_port, backend_port, vip_port = free_port(), free_port(), free_port()
    environment = {**os.environ, "PYTHONPATH": str(options.source / "components" / "f5mock"), "F5MOCK_PASSWORD": "bench"}
    with tempfile.TemporaryDirectory(prefix="f5-scale-") as state_dir:
        backend = subprocess.Popen([sys.executable, "-c", BACKEND.format(port=backend_port)])
        mock = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from f5mock.cli import main; main()",
                "serve",
                "--listen",
                f"127.0.0.1:{api_port}",
                "--state-dir",
                state_dir,
            ],
            env=environment,
            cwd=options.source,
            stderr=subprocess.DEVNULL,
        )
        try:
            run(options, api_port, backend_port, vip_port, mock.pid, Path(state_dir))
        finally:
            for process in (mock, backend):
                process.terminate()
                process.wait(timeout=30)


def state_mib(state_dir: Path) -> float:
    return sum(path.stat().st_size for path in state_dir.rglob("*") if path.is_file()) / 2**20


def run(
    options: argparse.Namespace, api_port: int, backend_port: int, vip_port: int, mock_pid: int, state_dir: Path
) -> None:
    with httpx.Client(
        base_url=f"https://127.0.0.1:{api_port}", auth=("admin", "bench"), verify=False, timeout=60
    ) as api:
        deadline = time.monotonic() + 60
        while True:
            try:
                if api.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        api.post("/mgmt/tm/ltm/pool", json={"name": "vip", "members": [{"name": f"127.0.0.1:{backend_port}"}]})
        answer = api.post(
            "/mgmt/tm/ltm/virtual", json={"name": "vip", "destination": f"127.0.0.1:{vip_port}", "pool": "vip"}
        )
        answer.raise_for_status()

        writing, stopped = multiprocessing.Event(), multiprocessing.Event()
        receiving, sending = multiprocessing.Pipe(duplex=False)
        prober = multiprocessing.Process(target=probe, args=(vip_port, writing, stopped, sending), daemon=True)
        prober.start()
        time.sleep(10)  # the virtual's latency with no writes
        writing.set()

        writes: list[float] = []
        count = options.members or options.pools
        if options.members:
            api.post("/mgmt/tm/ltm/pool", json={"name": "big"}).raise_for_status()
        started = time.perf_counter()
        for number in range(count):
            member = f"10.{number // 65536}.{number // 256 % 256}.{number % 256}:80"
            begun = time.perf_counter()
            if options.members:
                answer = api.post("/mgmt/tm/ltm/pool/~Common~big/members", json={"name": member})
            else:
                answer = api.post("/mgmt/tm/ltm/pool", json={"name": f"pool-{number}", "members": [{"name": member}]})
            writes.append(time.perf_counter() - begun)
            answer.raise_for_status()
            if begun - started > options.time_limit:
                break
        elapsed = time.perf_counter() - started
        stopped.set()
        latencies, failures = receiving.recv()
        prober.join()

    what = "members of one pool" if options.members else "pools"
    print(f"created {len(writes)} of {count} {what} in {elapsed:.1f} s ({len(writes) / elapsed:.0f} writes/s)")
    print(describe("write", writes))
    print(describe("write, first 500", writes[:500]))
    print(describe("write, last 500", writes[-500:]))
    print(describe("virtual, idle", latencies["idle"]))
    print(describe("virtual, during writes", latencies["writes"]))
    print(f"virtual probes failed: {failures}; mock resident memory at the end: {resident_mib(mock_pid):.0f} MiB")
    print(f"state on disk at the end: {state_mib(state_dir):.1f} MiB")


if __name__ == "__main__":
    main()
