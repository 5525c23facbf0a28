"""How fast f5-sync carries a Kubernetes change to the F5.

Runs kmock as the Kubernetes API (list + watch over HTTP), the project's mock F5 over HTTPS, and
the controller, all on loopback. Makes CHANGES changes, alternating a node going NotReady/Ready
(nodeport pool) and a pod endpoint being added/removed (cluster-mode pool), and for each measures
from just before the Kubernetes API request to the moment the F5 answers with the new members
(polled every POLL_SECONDS, so figures include up to one poll interval).

    .venv/bin/python benchmarks/f5sync_convergence.py [--changes 100] [--debounce 0.05]
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import kmock
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envbuilder.components.f5mock.server import run_in_thread  # noqa: E402
from envbuilder.components.f5sync import contract, service  # noqa: E402
from envbuilder.components.f5sync.settings import Settings  # noqa: E402
from tests.f5sync.f5_api import PASSWORD, USERNAME  # noqa: E402
from tests.f5sync.kube_api import NAMESPACE, KubeApi  # noqa: E402
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


async def measure(changes: int, debounce: float, workdir: Path) -> dict[str, object]:
    with run_in_thread(workdir / "f5", username=USERNAME, password=PASSWORD, bind_virtuals_to="127.0.0.1") as mock_f5:
        async with kmock.KubernetesEmulator() as handler, kmock.Server(handler):
            kube = KubeApi(handler)
            kubeconfig = workdir / "kubeconfig"
            kubeconfig.write_text(yaml.safe_dump(kube.kubeconfig()))
            settings = Settings.from_env(
                {
                    contract.F5_URL: mock_f5.url,
                    contract.F5_USERNAME: USERNAME,
                    contract.F5_PASSWORD: PASSWORD,
                    contract.F5_VIP_ADDRESS: "127.0.0.1",
                    contract.F5SYNC_NAMESPACE: NAMESPACE,
                    contract.F5SYNC_OWNER: "benchmark",
                    contract.F5SYNC_DEBOUNCE_SECONDS: str(debounce),
                }
            )
            parts = service.build(settings, kubeconfig=str(kubeconfig))
            controller = asyncio.create_task(parts.controller.run())
            async with httpx.AsyncClient(base_url=mock_f5.url, verify=False, auth=(USERNAME, PASSWORD)) as f5:
                for index in range(1, 4):
                    await kube.add_node(f"node-{index}", f"10.0.0.{index}")
                await kube.add_service("web", vip_port=free_port(), ports={"http": (80, 30080)})
                await kube.add_service(
                    "api", vip_port=free_port(), ports={"http": (80, 30081)}, mode=contract.MODE_CLUSTER
                )
                await kube.add_endpoints("api", ["172.16.0.1"], port_name="http", target_port=8080)
                await until_members(f5, NODE_POOL, {f"10.0.0.{i}:30080" for i in range(1, 4)})
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
            controller.cancel()
            await asyncio.gather(controller, return_exceptions=True)
            histogram = parts.metrics.registry
            seen_sum = histogram.get_sample_value("f5sync_convergence_seconds_sum") or 0.0
            seen_count = histogram.get_sample_value("f5sync_convergence_seconds_count") or 1.0
            await parts.aclose()
    latencies.sort()
    return {
        "changes": changes,
        "debounce_s": debounce,
        "median_s": round(statistics.median(latencies), 4),
        "p95_s": round(latencies[max(0, round(0.95 * len(latencies)) - 1)], 4),
        "max_s": round(latencies[-1], 4),
        "controller_mean_seen_to_applied_s": round(seen_sum / seen_count, 4),
    }


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
