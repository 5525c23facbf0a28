"""How fast f5-sync carries a Kubernetes change to the F5.

Runs kmock as the Kubernetes API (list + watch over HTTP) in this process, and the project's mock
F5 (`f5-mock serve`) and the controller (`f5-sync run`) as
processes of their own, as in an environment, all on loopback. Makes CHANGES changes, alternating
a node going NotReady/Ready (nodeport pool) and a pod endpoint being added/removed (cluster-mode
pool), and for each measures from just before the Kubernetes API request to the moment the F5
answers with the new members (polled every POLL_SECONDS, so figures include up to one poll
interval). Also reports the controller's own mean (first event seen -> F5 updated) from /metrics.

    .venv/bin/python benchmarks/f5sync_convergence.py [--changes 100] [--debounce 0.05]
"""

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import kmock
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from f5sync import contract  # noqa: E402
from components.f5sync.tests.f5_api import PASSWORD, USERNAME  # noqa: E402
from components.f5sync.tests.kube_api import NAMESPACE, KubeApi  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

POLL_SECONDS = 0.005
NODE_POOL = contract.pool_name(NAMESPACE, "web", 80)
POD_POOL = contract.pool_name(NAMESPACE, "api", 80)


async def members(f5: httpx.AsyncClient, pool: str) -> set[str]:
    response = await f5.get(f"/mgmt/tm/ltm/pool/~Common~{pool}/members")
    if response.status_code == 404:
        return set()
    response.raise_for_status()
    return {item["name"] for item in response.json().get("items", [])}


async def until_members(f5: httpx.AsyncClient, pool: str, expected: set[str], timeout: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout
    while await members(f5, pool) != expected:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{pool} did not reach {sorted(expected)}")
        await asyncio.sleep(POLL_SECONDS)


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen]:
    child = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield child
    finally:
        child.terminate()
        child.wait(timeout=10)


async def until_serving(url: str, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    async with httpx.AsyncClient(verify=False) as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{url} did not answer 200")
            await asyncio.sleep(0.05)


async def measure(changes: int, debounce: float, workdir: Path) -> dict[str, object]:
    f5_url, metrics_url = f"https://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    mock_f5 = [str(Path(sys.executable).with_name("f5-mock")), "serve", "--state-dir", str(workdir / "f5")]
    mock_f5 += ["--listen", f5_url.removeprefix("https://"), "--bind-virtuals-to", "127.0.0.1"]
    with process(mock_f5, {"F5MOCK_USERNAME": USERNAME, "F5MOCK_PASSWORD": PASSWORD}):
        async with kmock.KubernetesEmulator() as handler, kmock.Server(handler):
            kube = KubeApi(handler)
            kubeconfig = workdir / "kubeconfig"
            kubeconfig.write_text(yaml.safe_dump(kube.kubeconfig()))
            settings = {
                "KUBECONFIG": str(kubeconfig),
                contract.F5_URL: f5_url,
                contract.F5_USERNAME: USERNAME,
                contract.F5_PASSWORD: PASSWORD,
                contract.F5_VIP_ADDRESS: "127.0.0.1",
                contract.F5SYNC_NAMESPACE: NAMESPACE,
                contract.F5SYNC_OWNER: "benchmark",
                contract.F5SYNC_DEBOUNCE_SECONDS: str(debounce),
                contract.F5SYNC_LISTEN: metrics_url.removeprefix("http://"),
            }
            await until_serving(f"{f5_url}/health")
            with process([str(Path(sys.executable).with_name("f5-sync")), "run"], settings):
                async with httpx.AsyncClient(base_url=f5_url, verify=False, auth=(USERNAME, PASSWORD)) as f5:
                    latencies = await change_and_time(kube, f5, changes)
                    await until_serving(f"{metrics_url}/healthz")
                    metrics = (await f5.get(f"{metrics_url}/metrics")).text
    latencies.sort()
    return {
        "changes": changes,
        "debounce_s": debounce,
        "median_s": round(statistics.median(latencies), 4),
        "p95_s": round(latencies[max(0, round(0.95 * len(latencies)) - 1)], 4),
        "max_s": round(latencies[-1], 4),
        "controller_mean_seen_to_applied_s": round(_sample(metrics, "sum") / _sample(metrics, "count"), 4),
    }


async def change_and_time(kube: KubeApi, f5: httpx.AsyncClient, changes: int) -> list[float]:
    for index in range(1, 4):
        await kube.add_node(f"node-{index}", f"10.0.0.{index}")
    await kube.add_service("web", vip_port=free_port(), ports={"http": (80, 30080)})
    await kube.add_service("api", vip_port=free_port(), ports={"http": (80, 30081)}, mode=contract.MODE_CLUSTER)
    await kube.add_endpoints("api", ["172.16.0.1"], port_name="http", target_port=8080)
    await until_members(f5, NODE_POOL, {f"10.0.0.{i}:30080" for i in range(1, 4)}, timeout=30)
    await until_members(f5, POD_POOL, {"172.16.0.1:8080"})

    latencies: list[float] = []
    for change in range(changes):
        step = change // 2
        if change % 2 == 0:  # node-3 flips between NotReady and Ready
            ready = step % 2 == 1
            expected = {f"10.0.0.{i}:30080" for i in range(1, 4 if ready else 3)}
            started = time.perf_counter()
            await kube.set_node_ready("node-3", ready)
            await until_members(f5, NODE_POOL, expected)
        else:  # a second pod comes and goes
            pods = ["172.16.0.1", "172.16.0.2"] if step % 2 == 0 else ["172.16.0.1"]
            expected = {f"{pod}:8080" for pod in pods}
            started = time.perf_counter()
            await kube.set_endpoints("api", pods)
            await until_members(f5, POD_POOL, expected)
        latencies.append(time.perf_counter() - started)
    return latencies


def _sample(metrics_text: str, suffix: str) -> float:
    prefix = f"f5sync_convergence_seconds_{suffix} "
    return next(float(line.removeprefix(prefix)) for line in metrics_text.splitlines() if line.startswith(prefix))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--debounce", type=float, default=0.05, help="F5SYNC_DEBOUNCE_SECONDS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="f5sync-bench-") as workdir:
        result = asyncio.run(measure(args.changes, args.debounce, Path(workdir)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
