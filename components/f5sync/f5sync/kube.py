"""The Kubernetes side: converting API objects to snapshot values, and list+watch informers.

lightkube is the client: async, small, typed models, built on httpx2 (httpx's successor, the same
API as our F5 client's httpx), and a watch that takes a resourceVersion and reports 410 Gone as
an ApiError we can relist on.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import httpx2 as httpx
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import GenericGlobalResource, create_global_resource
from lightkube.resources.core_v1 import Node, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from f5sync.backoff import Backoff
from f5sync.metrics import Metrics
from f5sync.model import (
    BlockAffinityInfo,
    EndpointSliceInfo,
    NodeInfo,
    ServiceInfo,
    ServicePort,
    SlicePort,
)
from f5sync.kubeconfig import load_kubeconfig

log = logging.getLogger("envbuilder.f5sync")

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Servers close watches after this long; the client reconnects from the last resourceVersion.
WATCH_SERVER_TIMEOUT_SECONDS = 290
# And we renew them after this long whatever happened, in case the connection died without a word.
WATCH_RENEW_SECONDS = 300

Info = TypeVar("Info")

# Calico IPAM's block affinities (cluster-scoped): which node holds which pod address block.
BlockAffinity = create_global_resource(
    group="crd.projectcalico.org", version="v1", kind="BlockAffinity", plural="blockaffinities"
)


def kube_client(kubeconfig: str | None) -> AsyncClient:
    """From `kubeconfig` if given, else the pod's service account, else $KUBECONFIG or ~/.kube/config."""
    return AsyncClient(load_kubeconfig(kubeconfig))


def service_info(service: Service) -> ServiceInfo:
    metadata, spec = service.metadata, service.spec
    assert metadata is not None and metadata.name and metadata.namespace
    ports = tuple(
        ServicePort(port=port.port, name=port.name or None, node_port=port.nodePort, protocol=port.protocol or "TCP")
        for port in (spec.ports if spec and spec.ports else [])
    )
    return ServiceInfo(
        namespace=metadata.namespace,
        name=metadata.name,
        labels=dict(metadata.labels or {}),
        annotations=dict(metadata.annotations or {}),
        ports=ports,
    )


def node_info(node: Node) -> NodeInfo:
    assert node.metadata is not None and node.metadata.name
    status = node.status
    ready = any(c.type == "Ready" and c.status == "True" for c in (status.conditions or [])) if status else False
    internal_ips = [a.address for a in (status.addresses or []) if a.type == "InternalIP"] if status else []
    spec = node.spec
    pod_cidrs = tuple(spec.podCIDRs or ([spec.podCIDR] if spec.podCIDR else [])) if spec else ()
    return NodeInfo(
        name=node.metadata.name,
        internal_ip=internal_ips[0] if internal_ips else None,
        ready=ready,
        unschedulable=bool(spec and spec.unschedulable),
        pod_cidrs=pod_cidrs,
    )


def block_affinity_info(affinity: GenericGlobalResource) -> BlockAffinityInfo:
    assert affinity.metadata is not None and affinity.metadata.name
    spec = affinity.get("spec") or {}
    return BlockAffinityInfo(
        name=affinity.metadata.name,
        node=str(spec.get("node", "")),
        cidr=str(spec.get("cidr", "")),
        # Calico writes `deleted` as the string "true" / "false"
        confirmed=spec.get("state") == "confirmed" and str(spec.get("deleted", "false")).lower() != "true",
    )


def endpoint_slice_info(endpoint_slice: EndpointSlice) -> EndpointSliceInfo:
    metadata = endpoint_slice.metadata
    assert metadata is not None and metadata.name and metadata.namespace
    addresses: tuple[str, ...] = ()
    if endpoint_slice.addressType in ("IPv4", "IPv6"):
        # Kubernetes: an unset `ready` condition means ready.
        addresses = tuple(
            address
            for endpoint in endpoint_slice.endpoints or []
            if endpoint.conditions is None or endpoint.conditions.ready is not False
            for address in endpoint.addresses
        )
    return EndpointSliceInfo(
        namespace=metadata.namespace,
        name=metadata.name,
        service=(metadata.labels or {}).get(SERVICE_NAME_LABEL, ""),
        ports=tuple(
            SlicePort(port=p.port, name=p.name or None) for p in endpoint_slice.ports or [] if p.port is not None
        ),
        ready_addresses=addresses,
    )


class Informer(Generic[Info]):
    """Keeps `store` (name -> value) equal to the API's objects of one kind: list, then watch from
    the list's resourceVersion; on 410 Gone relist; on any other failure back off and resume the
    watch from the last resourceVersion seen. Calls `on_change` after every change to `store`."""

    def __init__(
        self,
        client: AsyncClient,
        resource: Any,
        convert: Callable[[Any], Info],
        on_change: Callable[[], None],
        *,
        namespace: str | None,
        metrics: Metrics,
        backoff: Backoff | None = None,
    ) -> None:
        self.kind = resource.__name__
        self.store: dict[str, Info] = {}
        self.synced = asyncio.Event()
        self._client = client
        self._resource = resource
        self._convert = convert
        self._on_change = on_change
        self._namespace = namespace
        self._metrics = metrics
        self._backoff = backoff or Backoff(base=0.2, cap=10.0)

    async def run(self) -> None:
        resource_version: str | None = None
        failures = 0
        while True:
            try:
                if resource_version is None:
                    resource_version = await self._relist()
                async with asyncio.timeout(WATCH_RENEW_SECONDS):
                    async for event_type, obj in self._client.watch(
                        self._resource,
                        namespace=self._namespace,
                        resource_version=resource_version,
                        server_timeout=WATCH_SERVER_TIMEOUT_SECONDS,
                    ):
                        failures = 0
                        resource_version = obj.metadata.resourceVersion or resource_version
                        if event_type == "DELETED":
                            self.store.pop(obj.metadata.name, None)
                        elif event_type in ("ADDED", "MODIFIED"):
                            self.store[obj.metadata.name] = self._convert(obj)
                        else:
                            continue  # BOOKMARK: only the resourceVersion moves
                        self._on_change()
            except TimeoutError:
                # Renewing from the last resourceVersion bounds how long a silently dead connection
                # (no FIN, so no error) can hide changes.
                self._metrics.watch_restarts.labels(self.kind, "renewed").inc()
            except ApiError as error:
                if error.status.code == 410:
                    # Our resourceVersion is older than the server's history: start over from a fresh list.
                    self._metrics.watch_restarts.labels(self.kind, "expired").inc()
                    log.info("watch expired, relisting", extra={"fields": {"resource": self.kind}})
                    resource_version = None
                    continue
                failures += 1
                await self._pause(failures, f"ApiError {error.status.code}: {error.status.message}")
            except (httpx.HTTPError, OSError) as error:
                failures += 1
                await self._pause(failures, f"{type(error).__name__}: {error}")

    async def _relist(self) -> str | None:
        listing = self._client.list(self._resource, namespace=self._namespace)
        objects = [obj async for obj in listing]
        self.store = {obj.metadata.name: self._convert(obj) for obj in objects}
        self._metrics.watch_restarts.labels(self.kind, "list").inc()
        self.synced.set()
        self._on_change()
        return listing.resourceVersion

    async def _pause(self, failures: int, reason: str) -> None:
        delay = self._backoff.delay(failures)
        self._metrics.watch_restarts.labels(self.kind, "error").inc()
        log.warning(
            "watch failed, retrying",
            extra={"fields": {"resource": self.kind, "reason": reason, "retry_in_s": round(delay, 3)}},
        )
        await asyncio.sleep(delay)
