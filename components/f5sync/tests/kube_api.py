"""The Kubernetes side of the integration tests: kmock's API double, driven like a cluster would be.

Objects are created, patched and deleted over kmock's HTTP API, so every change reaches the
controller's watches exactly as a real API server's events would.
"""

from typing import Any

import kmock

from f5sync import contract

NAMESPACE = "shop"
RESOURCES = {
    "v1/nodes": {"kind": "Node", "namespaced": False},
    "v1/services": {"kind": "Service", "namespaced": True},
    "discovery.k8s.io/v1/endpointslices": {"kind": "EndpointSlice", "namespaced": True},
}
NODES_PATH = "/api/v1/nodes"
SERVICES_PATH = f"/api/v1/namespaces/{NAMESPACE}/services"
SLICES_PATH = f"/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices"
CALICO_BLOCKS = "crd.projectcalico.org/v1/blockaffinities"
BLOCKS_PATH = f"/apis/{CALICO_BLOCKS}"


class KubeApi:
    def __init__(self, handler: kmock.RawHandler) -> None:
        self.handler = handler
        for resource, info in RESOURCES.items():
            handler.resources[resource] = {**info, "verbs": {"get", "list", "watch"}}

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kmock", "cluster": {"server": str(self.handler.url).rstrip("/")}}],
            "users": [{"name": "f5-sync", "user": {"token": "test"}}],
            "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "f5-sync"}}],
            "current-context": "kmock",
        }

    async def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        response = await self.handler.request(method, path, json=body)
        assert response.status < 300, f"{method} {path}: {response.status} {await response.text()}"

    def serve_calico(self) -> None:
        """The API serves Calico IPAM's BlockAffinity resource, as where Calico is the CNI."""
        self.handler.resources[CALICO_BLOCKS] = {"kind": "BlockAffinity", "namespaced": False, "verbs": {"get", "list", "watch"}}

    # --- nodes
    async def add_node(self, name: str, ip: str, *, ready: bool = True, pod_cidr: str | None = None) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name},
            "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]} if pod_cidr else {},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}], "conditions": [_ready(ready)]},
        }
        await self._send("POST", NODES_PATH, body)

    async def set_node_ready(self, name: str, ready: bool) -> None:
        await self._send("PATCH", f"{NODES_PATH}/{name}", {"status": {"conditions": [_ready(ready)]}})

    async def delete_node(self, name: str) -> None:
        await self._send("DELETE", f"{NODES_PATH}/{name}")

    async def set_block_affinity(self, node: str, cidr: str, *, state: str = "confirmed") -> None:
        """Calico's claim of `cidr` by `node` (named as Calico names them), created or replaced."""
        name = f"{node}-{cidr.replace('.', '-').replace('/', '-')}"
        body = {
            "apiVersion": "crd.projectcalico.org/v1",
            "kind": "BlockAffinity",
            "metadata": {"name": name},
            "spec": {"cidr": cidr, "deleted": "false", "node": node, "state": state},
        }
        await self._send("POST", BLOCKS_PATH, body)

    async def delete_block_affinity(self, node: str, cidr: str) -> None:
        await self._send("DELETE", f"{BLOCKS_PATH}/{node}-{cidr.replace('.', '-').replace('/', '-')}")

    async def cordon(self, name: str, unschedulable: bool = True) -> None:
        await self._send("PATCH", f"{NODES_PATH}/{name}", {"spec": {"unschedulable": unschedulable}})

    # --- services and their endpoints
    async def add_service(
        self, name: str, *, vip_port: int, ports: dict[str, tuple[int, int]], mode: str = contract.MODE_NODEPORT
    ) -> None:
        """`ports`: port name -> (service port, node port)."""
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "labels": {contract.EXPOSE_LABEL: contract.EXPOSE_LABEL_VALUE},
                "annotations": {contract.VIP_PORT_ANNOTATION: str(vip_port), contract.MODE_ANNOTATION: mode},
            },
            "spec": {
                "type": "NodePort",
                "ports": [
                    {"name": port_name, "port": port, "nodePort": node_port, "protocol": "TCP"}
                    for port_name, (port, node_port) in ports.items()
                ],
            },
        }
        await self._send("POST", SERVICES_PATH, body)

    async def delete_service(self, name: str) -> None:
        await self._send("DELETE", f"{SERVICES_PATH}/{name}")

    async def add_endpoints(self, service: str, addresses: list[str], *, port_name: str, target_port: int) -> None:
        body = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{service}-1",
                "namespace": NAMESPACE,
                "labels": {"kubernetes.io/service-name": service},
            },
            "addressType": "IPv4",
            "ports": [{"name": port_name, "port": target_port, "protocol": "TCP"}],
            "endpoints": _endpoints(addresses),
        }
        await self._send("POST", SLICES_PATH, body)

    async def set_endpoints(self, service: str, addresses: list[str], *, not_ready: list[str] = ()) -> None:
        endpoints = _endpoints(addresses) + [{"addresses": [a], "conditions": {"ready": False}} for a in not_ready]
        await self._send("PATCH", f"{SLICES_PATH}/{service}-1", {"endpoints": endpoints})


def _ready(ready: bool) -> dict[str, str]:
    return {"type": "Ready", "status": "True" if ready else "False"}


def _endpoints(addresses: list[str]) -> list[dict[str, Any]]:
    return [{"addresses": [address], "conditions": {"ready": True}} for address in addresses]
