"""Checks of the cluster itself: every node Ready, the pod network's agent running on every node."""

from typing import Any

from envbuilder.smoke.evidence import events_of, pod_evidence, pod_ready
from envbuilder.smoke.framework import Check, CheckFailed, Progress
from envbuilder.smoke.kube import Kube

NODES_DEADLINE = 30.0
NETWORK_AGENTS_DEADLINE = 60.0
NETWORK_AGENTS_CHECK = "network-agents"


def node_ready(node: dict[str, Any]) -> bool:
    return any(
        condition.get("type") == "Ready" and condition.get("status") == "True"
        for condition in node.get("status", {}).get("conditions", [])
    )


def internal_ip(node: dict[str, Any]) -> str | None:
    return next(
        (
            address["address"]
            for address in node.get("status", {}).get("addresses", [])
            if address.get("type") == "InternalIP"
        ),
        None,
    )


async def ready_nodes(kube: Kube) -> list[dict[str, Any]]:
    nodes = (await kube.get("/api/v1/nodes"))["items"]
    return sorted((node for node in nodes if node_ready(node)), key=lambda node: node["metadata"]["name"])


async def node_evidence(kube: Kube, node: dict[str, Any]) -> str:
    name = node["metadata"]["name"]
    lines = [f"node {name}:"]
    for condition in node.get("status", {}).get("conditions", []):
        healthy = (condition["type"] == "Ready") == (condition.get("status") == "True")
        if not healthy:
            lines.append(
                f"  {condition['type']}={condition.get('status')} "
                f"{condition.get('reason', '')}: {condition.get('message', '')}"
            )
    for taint in node.get("spec", {}).get("taints", []):
        lines.append(f"  taint {taint['key']}:{taint.get('effect', '')}")
    lines.append(" events:")
    lines.append(await events_of(kube, "default", "Node", name))
    return "\n".join(lines)


def nodes_ready_check(kube: Kube, expected: int | None, deadline: float = NODES_DEADLINE) -> Check:
    """`expected` nodes, all Ready; with `expected` None, every node the cluster lists (at least one)."""

    async def attempt() -> str:
        nodes = (await kube.get("/api/v1/nodes"))["items"]
        not_ready = [node for node in nodes if not node_ready(node)]
        wanted = len(nodes) or 1 if expected is None else expected
        if len(nodes) == wanted and not not_ready:
            return f"{wanted} nodes Ready: {', '.join(node['metadata']['name'] for node in nodes)}"
        diagnosis = [f"expected {wanted} nodes, the API lists {len(nodes)}"]
        diagnosis += [await node_evidence(kube, node) for node in not_ready]
        raise CheckFailed(
            f"{len(nodes) - len(not_ready)} of {len(nodes)} nodes Ready, {wanted} expected", "\n".join(diagnosis)
        )

    async def probe(progress: Progress) -> str:
        return await progress.retry(attempt)

    return Check("nodes-ready", deadline, probe)


def network_agents_check(
    kube: Kube, daemonset_name: str, namespace: str = "kube-system", deadline: float = NETWORK_AGENTS_DEADLINE
) -> Check:
    """A Ready pod of the pod network's DaemonSet (calico-node, kube-router) on every node: the
    DaemonSet's own counts can lag behind a new node."""

    async def attempt() -> str:
        daemonset = await kube.get(f"/apis/apps/v1/namespaces/{namespace}/daemonsets/{daemonset_name}")
        labels = daemonset["spec"]["selector"].get("matchLabels", {})
        selector = ",".join(f"{key}={value}" for key, value in labels.items())
        pods = (await kube.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector))["items"]
        nodes = sorted(node["metadata"]["name"] for node in (await kube.get("/api/v1/nodes"))["items"])
        ready_on = {pod["spec"].get("nodeName") for pod in pods if pod_ready(pod)}
        uncovered = [node for node in nodes if node not in ready_on]
        if not uncovered:
            return f"{daemonset_name} Ready on all {len(nodes)} nodes"
        status = daemonset.get("status", {})
        diagnosis = [
            (
                f"DaemonSet {namespace}/{daemonset_name}: desired {status.get('desiredNumberScheduled', '?')}, "
                f"ready {status.get('numberReady', '?')}, unavailable {status.get('numberUnavailable', 0)}"
            )
        ]
        for node in uncovered:
            on_node = [pod for pod in pods if pod["spec"].get("nodeName") == node]
            if not on_node:
                diagnosis.append(f"node {node}: no {daemonset_name} pod")
            diagnosis += [await pod_evidence(kube, namespace, pod) for pod in on_node]
        raise CheckFailed(f"{daemonset_name} not Ready on {', '.join(uncovered)}", "\n".join(diagnosis))

    async def probe(progress: Progress) -> str:
        return await progress.retry(attempt)

    return Check(NETWORK_AGENTS_CHECK, deadline, probe)
