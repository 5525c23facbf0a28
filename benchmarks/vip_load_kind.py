"""The web VIP of an environment on kind under load: the userspace proxy (before) against the kernel's fastL4 path (after).

    .venv/bin/python benchmarks/vip_load_kind.py [--seconds 5] [--rounds 5] [--services web,worker]

Stands up an environment (its own ENVBUILDER_HOME, a name no one else has), then runs `wrk`
(Debian package `wrk`; 32 keep-alive connections, `GET /healthz`, which web answers without the
broker) in alternating rounds against five paths to the same pods:

- direct: one member of web's F5 pool straight from the host (a node's NodePort on the kind network);
- userspace: the web VIP with its virtual's profile set to `/Common/tcp`, so the mock's userspace
  proxy carries it (how every VIP was served before fastL4);
- fastL4: the web VIP with `/Common/fastL4`, as f5-sync creates it, forwarded by nftables in the F5
  container's network namespace;
- "userspace at F5" and "fastL4 at F5": the same two, to the virtual's port at the F5 container's
  address on the kind network, skipping the VIP's host port (published on 127.0.0.1, so Docker's
  userland proxy, a process of its own, carries every connection to it).

The profile is switched with a PATCH before each round (f5-sync leaves profiles alone), and the
virtual's status is read back to show which path served it. Prints the medians of requests/s, p50
and p99, their ratio to direct, and the load average. `down` at the end.
"""

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from envbuilder.cluster.kubectl import kubectl_command
from envbuilder.naming import f5_container_name, namespace_name
from f5sync.contract import pool_name

REPO = Path(__file__).resolve().parents[1]
ENVBUILDER = str(Path(sys.executable).parent / "envbuilder")
CONNECTIONS = 32
WEB_PORT = 8080  # web's Service port in the catalog
PROFILES = {"userspace": "/Common/tcp", "fastL4": "/Common/fastL4"}
# Each profile twice: through the VIP's host port (Docker's userland proxy, then the F5), and at the F5 container's
# own address on the kind network (the F5 alone).
PATHS = ("direct", *PROFILES, *(f"{profile} at F5" for profile in PROFILES))


def envbuilder(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([ENVBUILDER, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"envbuilder {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def wrk(url: str, seconds: int) -> tuple[float, float, float]:
    """requests/s, p50 and p99 latency (ms)."""
    output = subprocess.run(
        ["wrk", "--threads", "2", "--connections", str(CONNECTIONS), "--duration", f"{seconds}s", "--latency", url],
        check=True, capture_output=True, text=True,
    ).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"wrk saw errors on {url}:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return rate, _latency(output, "50%"), _latency(output, "99%")


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


class WebVirtual:
    """web's virtual on the environment's F5, through its iControl REST API."""

    def __init__(self, name: str, status: dict) -> None:
        namespace = namespace_name(name)
        kubectl = kubectl_command("kubectl", status["kubeconfig"], status["kube_context"])
        secret = subprocess.run(
            [*kubectl, "-n", namespace, "get", "secret", "f5-credentials", "-o", "jsonpath={.data.F5_PASSWORD}"],
            capture_output=True, text=True, check=True,
        ).stdout
        self.api = httpx.Client(base_url=status["f5_api"], auth=("admin", base64.b64decode(secret).decode()),
                                verify=False, timeout=30)
        pool = pool_name(namespace, "web", WEB_PORT)
        [virtual] = [item for item in self.api.get("/mgmt/tm/ltm/virtual").json()["items"]
                     if item.get("pool", "").endswith(f"/{pool}")]
        self.path = f"/mgmt/tm/ltm/virtual/{virtual['fullPath'].replace('/', '~')}"
        self.port = int(virtual["destination"].rpartition(":")[2])
        members = self.api.get(f"/mgmt/tm/ltm/pool/{virtual['pool'].replace('/', '~')}/members").json()["items"]
        self.member = members[0]["name"].split("%")[0]

    def serve_with(self, profile: str) -> str:
        self.api.patch(self.path, json={"profiles": [profile]}).raise_for_status()  # in force when it answers
        (nested,) = self.api.get(f"{self.path}/stats").json()["entries"].values()
        return nested["nestedStats"]["entries"]["status.statusReason"]["description"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the three paths; medians are reported")
    parser.add_argument("--services", default="web,worker")
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    name = f"bench-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ENVBUILDER_HOME": home, "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        try:
            took = time.perf_counter()
            envbuilder(env, "up", "--services", arguments.services, "--name", name, "--no-smoke")
            print(f"up: {time.perf_counter() - took:.0f} s")
            status = json.loads(envbuilder(env, "status", name, "--json"))
            virtual = WebVirtual(name, status)
            f5_address = subprocess.run(
                ["docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                 f5_container_name(name)], capture_output=True, text=True, check=True,
            ).stdout.strip()
            urls = {"direct": f"http://{virtual.member}/healthz"}
            for profile in PROFILES:
                urls[profile] = f"{status['vips']['web']}/healthz"
                urls[f"{profile} at F5"] = f"http://{f5_address}:{virtual.port}/healthz"
            runs: dict[str, list[tuple[float, float, float]]] = {path: [] for path in PATHS}
            said: dict[str, str] = {}
            loads = []
            for _ in range(arguments.rounds):
                for path in PATHS:
                    profile = path.removesuffix(" at F5")
                    if profile in PROFILES:
                        said[profile] = virtual.serve_with(PROFILES[profile])
                    runs[path].append(wrk(urls[path], arguments.seconds))
                    loads.append(os.getloadavg()[0])
            virtual.serve_with(PROFILES["fastL4"])
        finally:
            subprocess.run([ENVBUILDER, "down", name], env=env, capture_output=True)
    print(f"{CONNECTIONS} connections, GET /healthz; {arguments.rounds} alternating rounds of {arguments.seconds} s; "
          f"medians; load average (1 min) {min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} CPUs")
    for path, status_reason in said.items():
        print(f"{path}: {status_reason}")
    direct_rate = statistics.median(run[0] for run in runs["direct"])
    for path in PATHS:
        rate = statistics.median(run[0] for run in runs[path])
        print(f"{path + ':':18} {rate:8.0f} req/s  ratio {rate / direct_rate:.2f}  "
              f"p50 {statistics.median(run[1] for run in runs[path]):.2f} ms  "
              f"p99 {statistics.median(run[2] for run in runs[path]):.2f} ms")


if __name__ == "__main__":
    main()
