"""Cluster mode on a real kind cluster: how fast the F5's pool and routes follow the cluster.

Works on a running environment of this home (`envbuilder up --services web,worker,web-direct`),
whose `web-direct` service is in cluster mode. Three measurements, each timed from just before
the Kubernetes change to the moment the F5's API shows its effect (polled every POLL_SECONDS):

- scale: `kubectl scale` of web-direct between 2 and 3 replicas, until the pool holds that many
  pod addresses (scale-up includes starting the pod and its readiness probe);
- node: a Node object created with a pod CIDR and an InternalIP, until the F5 has its route;
  deleted, until the route is gone (a node joining or leaving, as the API tells it);
- node loss (`--node-loss N`): a worker's container paused, until the pool has lost that node's
  pods (Kubernetes' own detection of a silent node dominates), then unpaused, until they are back;
  also when the Node's Ready condition changed (the API's timestamp, 1 s resolution) and whether the
  node's pod routes stayed on the F5. It needs a worker that runs web-direct pods but not f5-sync
  (a profile with two workers or more, e.g. `--profile nightly`), and picks it itself.

Also reports f5-sync's own latency (first event seen -> F5 changed) from its log lines.

    ENVBUILDER_HOME=... .venv/bin/python benchmarks/cluster_mode_kind.py --name ENV [--rounds 20] [--node-loss 0]
"""

import argparse
import base64
import calendar
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envbuilder.cluster.kubectl import kubectl_command  # noqa: E402
from f5sync import contract  # noqa: E402
from envbuilder.naming import control_plane_node, namespace_name  # noqa: E402

POLL_SECONDS = 0.02
SERVICE = "web-direct"
PORT = 8080
BENCH_NODE = "bench-route-node"
BENCH_CIDR = "192.168.250.0/24"
BENCH_ADDRESS = "172.18.250.250"
SHARED = ("f5-sync", "broker")  # the environment's pods a node-loss round must not freeze


class Environment:
    def __init__(self, name: str) -> None:
        envbuilder = str(Path(sys.executable).parent / "envbuilder")
        status = json.loads(subprocess.run([envbuilder, "status", name, "--json"], check=True,
                                           capture_output=True, text=True).stdout)
        self.name = name
        self.namespace = namespace_name(name)
        self.kube = kubectl_command("kubectl", status["kubeconfig"], status["kube_context"])
        secret = json.loads(self.kubectl("-n", self.namespace, "get", "secret", "f5-credentials", "-o", "json"))
        password = base64.b64decode(secret["data"]["F5_PASSWORD"]).decode()
        self.f5 = httpx.Client(base_url=status["f5_api"], auth=("admin", password), verify=False, timeout=10)
        self.pool = contract.pool_name(self.namespace, SERVICE, PORT)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run([*self.kube, *args], check=True, capture_output=True, text=True, input=stdin).stdout

    def members(self) -> set[str]:
        items = self.f5.get(f"/mgmt/tm/ltm/pool/~Common~{self.pool}/members").json().get("items", [])
        return {item["name"] for item in items}

    def routes(self) -> dict[str, str]:
        return {item["network"]: item["gw"] for item in self.f5.get("/mgmt/tm/net/route").json().get("items", [])}


def until(condition: Callable[[], bool], timeout: float = 180) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError("the F5 did not follow within the timeout")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def timed(change: Callable[[], None], condition: Callable[[], bool]) -> float:
    started = time.monotonic()
    change()
    until(condition)
    return time.monotonic() - started


def summary(label: str, values: list[float]) -> None:
    if not values:
        return
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"{label:<38} n={len(values):<3} median {statistics.median(values):.3f} s  p95 {p95:.3f} s  max {max(values):.3f} s")


def scale_rounds(env: Environment, rounds: int) -> tuple[list[float], list[float]]:
    up, down = [], []
    for index in range(rounds):
        replicas = 3 if index % 2 == 0 else 2
        seconds = timed(
            lambda: env.kubectl("-n", env.namespace, "scale", "deployment", SERVICE, f"--replicas={replicas}"),
            lambda: len(env.members()) == replicas,
        )
        (up if replicas == 3 else down).append(seconds)
        time.sleep(1)
    return up, down


def node_rounds(env: Environment, rounds: int) -> tuple[list[float], list[float]]:
    node = {
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": BENCH_NODE},
        "spec": {"podCIDR": BENCH_CIDR, "podCIDRs": [BENCH_CIDR], "unschedulable": True},
        "status": {"addresses": [{"type": "InternalIP", "address": BENCH_ADDRESS}]},
    }
    joined, left = [], []
    for _ in range(rounds):
        joined.append(timed(lambda: env.kubectl("create", "-f", "-", stdin=json.dumps(node)),
                            lambda: env.routes().get(BENCH_CIDR) == BENCH_ADDRESS))
        left.append(timed(lambda: env.kubectl("delete", "node", BENCH_NODE, "--wait=false"),
                          lambda: BENCH_CIDR not in env.routes()))
        time.sleep(0.5)
    return joined, left


def pod_nodes(env: Environment, selector: str) -> dict[str, str]:
    pods = json.loads(env.kubectl("-n", env.namespace, "get", "pods", "-l", selector, "-o", "json"))["items"]
    return {pod["status"]["podIP"]: pod["spec"].get("nodeName", "") for pod in pods if pod["status"].get("podIP")}


def docker(*args: str) -> None:
    subprocess.run(["docker", *args], check=True, capture_output=True)


def ready_since(env: Environment, node: str) -> tuple[str, float]:
    """The node's Ready condition and when the API last changed it (the node controller's verdict, 1 s resolution)."""
    conditions = json.loads(env.kubectl("get", "node", node, "-o", "json"))["status"]["conditions"]
    ready = next(condition for condition in conditions if condition["type"] == "Ready")
    changed = calendar.timegm(time.strptime(ready["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ"))
    return ready["status"], changed


def node_loss_rounds(env: Environment, rounds: int) -> dict[str, list[float]]:
    """Pause a worker that runs web-direct pods but neither f5-sync (that would stop the controller being
    measured) nor the broker (every web-direct pod would turn unready with it); refuse when there is none."""
    shared_nodes = set(pod_nodes(env, f"app.kubernetes.io/name in ({','.join(SHARED)})").values())
    service_pods = pod_nodes(env, f"app.kubernetes.io/name={SERVICE}")
    candidates = sorted(set(service_pods.values()) - shared_nodes - {control_plane_node(env.name)})
    if not candidates:
        print(f"node loss: skipped, no worker runs {SERVICE} pods without {' or '.join(SHARED)} "
              f"({SERVICE} on {sorted(set(service_pods.values()))}, those on {sorted(shared_nodes)})")
        return {}
    worker = candidates[0]
    cidrs = json.loads(env.kubectl("get", "node", worker, "-o", "json"))["spec"].get("podCIDRs", [])
    lost_members = {f"{ip}:{PORT}" for ip, node in service_pods.items() if node == worker}
    print(f"node loss: pausing {worker} ({len(lost_members)} of {len(service_pods)} {SERVICE} pods, routes {cidrs})")
    found: dict[str, list[float]] = {}
    routes_kept = 0
    until(lambda: ready_since(env, worker)[0] == "True")
    for _ in range(rounds):
        before = env.members()
        paused = time.time()
        try:
            found.setdefault("lost", []).append(timed(lambda: docker("pause", worker),
                                                      lambda: not (env.members() & lost_members)))
            status, changed = ready_since(env, worker)
            if status != "True":
                found.setdefault("not ready", []).append(changed - paused)
            routes_kept += all(cidr in env.routes() for cidr in cidrs)
        except BaseException:
            docker("unpause", worker)  # never leave the environment with a frozen node
            raise
        unpaused = time.time()
        found.setdefault("back", []).append(timed(lambda: docker("unpause", worker),
                                                  lambda: env.members() == before))
        # The next round must start from a Ready node: the node controller marks pods not ready only when
        # a node goes from Ready to silent, and a kubelet just unfrozen may first report NotReady.
        until(lambda: ready_since(env, worker)[0] == "True")
        found.setdefault("ready", []).append(ready_since(env, worker)[1] - unpaused)
        time.sleep(5)
    print(f"node loss: the paused node's pod routes were still on the F5 when its members had left in "
          f"{routes_kept} of {rounds} rounds (routes follow Node objects, and a lost node's object stays)")
    return found


def controller_latencies(env: Environment, since: str) -> dict[str, list[float]]:
    lines = env.kubectl("-n", env.namespace, "logs", "deployment/f5-sync", f"--since-time={since}").splitlines()
    found: dict[str, list[float]] = {}
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "f5 changed" and entry.get("trigger") == "cluster":
            found.setdefault(entry["operation"], []).append(entry["latency_s"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--node-loss", type=int, default=0)
    args = parser.parse_args()
    env = Environment(args.name)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"machine load average before: {os.getloadavg()[0]:.1f}")
    up, down = scale_rounds(env, args.rounds)
    summary("scale up: kubectl -> pod in the pool", up)
    summary("scale down: kubectl -> pod out of pool", down)
    joined, left = node_rounds(env, args.rounds)
    summary("node created -> its route on the F5", joined)
    summary("node deleted -> its route gone", left)
    if args.node_loss:
        found = node_loss_rounds(env, args.node_loss)
        summary("worker paused -> Node not Ready (API)", found.get("not ready", []))
        summary("worker paused -> its pods out of pool", found.get("lost", []))
        summary("worker unpaused -> Node Ready (API)", found.get("ready", []))
        summary("worker unpaused -> its pods back", found.get("back", []))
    for operation, latencies in sorted(controller_latencies(env, since).items()):
        summary(f"f5-sync {operation} (event -> F5)", latencies)
    print(f"machine load average after: {os.getloadavg()[0]:.1f}")
    env.kubectl("-n", env.namespace, "scale", "deployment", SERVICE, "--replicas=2")


if __name__ == "__main__":
    main()
