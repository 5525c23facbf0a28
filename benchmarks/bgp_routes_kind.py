"""Pod routes over BGP on a real kind cluster: how fast the F5 learns a node's pod block.

Works on a running environment of this home made with the `bgp` profile (`envbuilder up
--profile bgp --services web-direct,worker`). Each round deletes the kube-router pod of a worker
node (its BGP speaker) and times, polling the F5's /health every POLL_SECONDS:

- withdrawn: pod deleted -> the node's pod block gone from the F5 (its session closed);
- relearned: pod deleted -> the block installed again (includes the new pod's start);
- session -> route: the new session established (the F5's own clock) -> the block installed.

    ENVBUILDER_HOME=... .venv/bin/python benchmarks/bgp_routes_kind.py --name ENV [--rounds 5]
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cluster_mode_kind import Environment, summary, until  # noqa: E402


def bgp(env: Environment) -> dict:
    return env.f5.get("/health").json()["bgp"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = Environment(args.name)
    nodes = json.loads(env.kubectl("get", "nodes", "-o", "json"))["items"]
    worker = next(n for n in nodes if "node-role.kubernetes.io/control-plane" not in n["metadata"]["labels"])
    block = worker["spec"]["podCIDR"]
    address = next(a["address"] for a in worker["status"]["addresses"] if a["type"] == "InternalIP")
    withdrawn, relearned, session_to_route = [], [], []
    for _ in range(args.rounds):
        assert bgp(env)["routes"].get(block) == address, "the worker's block is not learned to begin with"
        pod = env.kubectl("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-router",
                          "--field-selector", f"spec.nodeName={worker['metadata']['name']}", "-o", "name").strip()
        started = time.monotonic()
        env.kubectl("-n", "kube-system", "delete", pod, "--wait=false")
        withdrawn.append(started_to(started, lambda: block not in bgp(env)["routes"]))
        relearned.append(started_to(started, lambda: bgp(env)["routes"].get(block) == address))
        seen = time.time()
        session_to_route.append(seen - bgp(env)["peers"][address]["establishedAt"])
        env.kubectl("-n", "kube-system", "rollout", "status", "daemonset/kube-router", "--timeout=120s")
    summary("kube-router pod deleted -> route gone", withdrawn)
    summary("kube-router pod deleted -> route back", relearned)
    summary("session established -> route installed", session_to_route)


def started_to(started: float, condition) -> float:
    until(condition)
    return time.monotonic() - started


if __name__ == "__main__":
    main()
