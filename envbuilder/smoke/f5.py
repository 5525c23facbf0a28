"""F5 checks for each exposed service: the pool lists exactly what f5-sync must put there, and the VIP answers.

The pool is read from iControl REST and compared with what f5-sync converges to: in nodeport mode
one member per Ready, schedulable node (its InternalIP and the Service's NodePort), in cluster
mode the ready addresses of the Service's EndpointSlices.
"""

import re
from dataclasses import dataclass
from typing import Any

import httpx

from f5sync.contract import pool_name
from envbuilder.smoke.cluster import internal_ip, ready_nodes
from envbuilder.smoke.evidence import http_answer, service_pods_evidence
from envbuilder.smoke.framework import Check, CheckFailed, Progress
from envbuilder.smoke.kube import Kube
from envbuilder.smoke.target import F5Access, ServiceTarget

POOL_DEADLINE = 45.0
VIP_DEADLINE = 30.0
HTTP_SECONDS = 5.0
_ROUTE_DOMAIN = re.compile(r"%\d+")
_NOT_SERVING_STATES = {"down", "user-down"}


def member_key(member: dict[str, Any]) -> str:
    """`ip:port` without a route-domain suffix (`10.0.0.5%1:80` -> `10.0.0.5:80`)."""
    return _ROUTE_DOMAIN.sub("", member["name"])


def member_serves(member: dict[str, Any]) -> bool:
    return member.get("state") not in _NOT_SERVING_STATES and member.get("session") != "user-disabled"


@dataclass(frozen=True)
class PoolComparison:
    expected: frozenset[str]
    missing: frozenset[str]  # expected, absent from the pool
    unexpected: frozenset[str]  # in the pool, not a Ready node's InternalIP:NodePort
    not_serving: frozenset[str]  # expected and present, but down or disabled

    @property
    def matches(self) -> bool:
        return not (self.missing or self.unexpected or self.not_serving)

    def describe(self) -> str:
        parts = [f"missing {', '.join(sorted(self.missing))}"] if self.missing else []
        if self.unexpected:
            parts.append(f"unexpected {', '.join(sorted(self.unexpected))}")
        if self.not_serving:
            parts.append(f"down or disabled {', '.join(sorted(self.not_serving))}")
        return "; ".join(parts) or "matches"


def pool_member_node(node: dict[str, Any]) -> bool:
    """In nodeport mode f5-sync puts every Ready node in the pool unless it is cordoned."""
    return not node.get("spec", {}).get("unschedulable") and internal_ip(node) is not None


def compare_pool(members: list[dict[str, Any]], expected: set[str]) -> PoolComparison:
    present = {member_key(member): member for member in members}
    return PoolComparison(
        expected=frozenset(expected),
        missing=frozenset(expected - present.keys()),
        unexpected=frozenset(present.keys() - expected),
        not_serving=frozenset(key for key in expected & present.keys() if not member_serves(present[key])),
    )


def pool_table(members: list[dict[str, Any]]) -> str:
    if not members:
        return "  (no members)"
    return "\n".join(
        f"  {member['name']:<24} state={member.get('state', '?')} session={member.get('session', '?')}"
        for member in sorted(members, key=member_key)
    )


class F5Reader:
    """Reads one pool's members over iControl REST (Basic auth, self-signed certificates accepted)."""

    def __init__(self, access: F5Access, partition: str, pool: str) -> None:
        self.access, self.full_path = access, f"/{partition}/{pool}"
        self.members_path = f"/mgmt/tm/ltm/pool/~{partition}~{pool}/members"

    async def members(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(
            base_url=self.access.api_url,
            auth=(self.access.username, self.access.password),
            verify=False,
            timeout=HTTP_SECONDS,
        ) as f5:
            try:
                response = await f5.get(self.members_path)
            except httpx.HTTPError as error:
                raise CheckFailed(
                    f"F5 API at {self.access.api_url} did not answer: {type(error).__name__}: {error}",
                    "is the mock F5 running and its API port forwarded to the host?",
                ) from None
            if response.status_code == 404:
                pools = await f5.get("/mgmt/tm/ltm/pool")
                names = (
                    [item.get("fullPath", item.get("name")) for item in pools.json().get("items", [])]
                    if pools.is_success
                    else []
                )
                raise CheckFailed(
                    f"F5 pool {self.full_path} does not exist",
                    f"{http_answer(response)}\npools on the F5: {', '.join(names) or '(none)'}\n"
                    "f5-sync creates the pool: look at its log",
                )
            if not response.is_success:
                raise CheckFailed(
                    f"F5 API answered {response.status_code} for pool {self.full_path}", http_answer(response)
                )
            return response.json().get("items", [])


async def _service_port(kube: Kube, namespace: str, service: ServiceTarget) -> dict[str, Any]:
    spec = (await kube.get(f"/api/v1/namespaces/{namespace}/services/{service.name}"))["spec"]
    for port in spec.get("ports", []):
        if port.get("port") == service.port:
            return {**port, "type": spec.get("type", "ClusterIP")}
    raise CheckFailed(f"Service {service.name} has no port {service.port}", f"its ports: {spec.get('ports')}")


async def _node_members(kube: Kube, namespace: str, service: ServiceTarget) -> tuple[set[str], str, str]:
    """Nodeport mode: every Ready, schedulable node's InternalIP with the Service's NodePort."""
    port = await _service_port(kube, namespace, service)
    if not port.get("nodePort"):
        raise CheckFailed(
            f"Service {service.name} has no NodePort for port {service.port}", f"Service type {port['type']}"
        )
    nodes = [node for node in await ready_nodes(kube) if pool_member_node(node)]
    lines = "\n".join(f"  {node['metadata']['name']} {internal_ip(node)}" for node in nodes) or "  (none)"
    return (
        {f"{internal_ip(node)}:{port['nodePort']}" for node in nodes},
        f"the {len(nodes)} Ready nodes on NodePort {port['nodePort']}",
        f"Ready, schedulable nodes (NodePort {port['nodePort']}):\n{lines}",
    )


async def ready_pod_endpoints(kube: Kube, namespace: str, service: ServiceTarget) -> dict[str, str]:
    """The ready addresses of the Service's EndpointSlices, on the slice port of the same name
    (`ip:port`, what f5-sync puts in a cluster-mode pool), each with the name of its pod."""
    port_name = (await _service_port(kube, namespace, service)).get("name") or None
    slices = await kube.get(
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
        labelSelector=f"kubernetes.io/service-name={service.name}",
    )
    return {
        f"{address}:{slice_port['port']}": (endpoint.get("targetRef") or {}).get("name", "")
        for endpoint_slice in slices.get("items", [])
        for slice_port in endpoint_slice.get("ports") or []
        if (slice_port.get("name") or None) == port_name
        for endpoint in endpoint_slice.get("endpoints") or []
        if (endpoint.get("conditions") or {}).get("ready") is not False  # unset means ready
        for address in endpoint.get("addresses", [])
    }


async def _pod_members(kube: Kube, namespace: str, service: ServiceTarget) -> tuple[set[str], str, str]:
    """Cluster mode: the ready addresses of the Service's EndpointSlices."""
    expected = set(await ready_pod_endpoints(kube, namespace, service))
    lines = "\n".join(f"  {member}" for member in sorted(expected)) or "  (none)"
    return expected, f"the {len(expected)} ready pod endpoints", f"ready pod endpoints of {service.name}:\n{lines}"


def pool_check(
    kube: Kube, namespace: str, f5: F5Access, service: ServiceTarget, deadline: float = POOL_DEADLINE
) -> Check:
    expected_members = _pod_members if service.f5_mode == "cluster" else _node_members

    async def attempt() -> str:
        expected, what, evidence = await expected_members(kube, namespace, service)
        reader = F5Reader(f5, service.partition, pool_name(namespace, service.name, service.port))
        members = await reader.members()
        comparison = compare_pool(members, expected)
        if comparison.matches:
            return f"pool {reader.full_path} has {what}"
        raise CheckFailed(
            f"pool {reader.full_path} out of step with {what}: {comparison.describe()}",
            f"the pool as it stands:\n{pool_table(members)}\n{evidence}\n"
            "f5-sync keeps the pool in step: look at its log",
        )

    async def probe(progress: Progress) -> str:
        return await progress.retry(attempt)

    return Check(f"f5-pool:{service.name}", deadline, probe)


async def get_through_vip(url: str, timeout: float = HTTP_SECONDS) -> httpx.Response:
    async with httpx.AsyncClient(timeout=timeout) as client:
        try:
            return await client.get(url)
        except httpx.HTTPError as error:
            raise CheckFailed(f"nothing answers at {url}: {type(error).__name__}: {error}", "") from None


def vip_check(
    kube: Kube, namespace: str, f5: F5Access, service: ServiceTarget, vip_url: str, deadline: float = VIP_DEADLINE
) -> Check:
    """From the host through the F5 virtual server to the service's health path."""
    url = vip_url.rstrip("/") + service.health_path

    async def attempt() -> str:
        try:
            response = await get_through_vip(url)
            if response.is_success:
                return f"{url} answered {response.status_code} through the F5"
            failure = CheckFailed(f"{url} answered {response.status_code} through the F5", http_answer(response))
        except CheckFailed as unreachable:
            failure = unreachable
        raise CheckFailed(failure.summary, await _vip_evidence(kube, namespace, f5, service, failure.diagnosis))

    async def probe(progress: Progress) -> str:
        return await progress.retry(attempt)

    return Check(f"f5-vip:{service.name}", deadline, probe)


async def _vip_evidence(kube: Kube, namespace: str, f5: F5Access, service: ServiceTarget, answer: str) -> str:
    reader = F5Reader(f5, service.partition, pool_name(namespace, service.name, service.port))
    try:
        pool = f"pool {reader.full_path}:\n{pool_table(await reader.members())}"
    except CheckFailed as failure:
        pool = f"pool {reader.full_path}: {failure.summary}"
    pods = await service_pods_evidence(kube, namespace, service.name)
    return "\n".join(part for part in (answer, pool, pods) if part)
