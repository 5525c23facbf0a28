"""What the smoke checks need to know about an environment, and nothing else; built from its record alone."""

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from envbuilder.desired.meta import pod_image
from envbuilder.desired.state import Credentials
from envbuilder.spec.profile import PodNetwork

if TYPE_CHECKING:
    from envbuilder.smoke.kube import Kube
    from envbuilder.spec.catalog import ServiceEntry
    from envbuilder.state.records import EnvironmentRecord


@dataclass(frozen=True)
class ExtraCheck:
    """A catalog entry's own HTTP check: the path must answer `expect_status` (and contain `expect_body`)."""

    name: str
    path: str
    expect_status: int = 200
    expect_body: str | None = None


@dataclass(frozen=True)
class ServiceTarget:
    name: str
    port: int  # the Kubernetes Service port
    health_path: str = "/healthz"
    exposed: bool = False  # the F5 fronts it
    f5_mode: Literal["nodeport", "cluster"] = "nodeport"  # pool members: nodes + NodePort, or ready pods
    vip_url: str | None = None  # its virtual server as the host reaches it, e.g. http://127.0.0.1:18080
    partition: str = "Common"  # the F5 partition of its pool
    extra_checks: tuple[ExtraCheck, ...] = ()


@dataclass(frozen=True)
class F5Access:
    api_url: str  # iControl REST base, e.g. https://127.0.0.1:18443
    username: str
    password: str


@dataclass(frozen=True)
class RpcRoute:
    """A catalog entry's `rpc:` (e.g. web -> broker -> worker): `path?payload=TOKEN` on the `via`
    service's VIP answers 200 with TOKEN in its body once a `worker` replied."""

    via: str
    path: str
    worker: str


@dataclass(frozen=True)
class SmokeTarget:
    environment: str
    namespace: str
    kubeconfig: Path
    kube_context: str | None
    node_count: int | None  # None: whatever nodes the cluster has (an existing cluster)
    f5: F5Access | None  # None: the F5 is not reachable from the host
    broker_url: str | None  # AMQP URL reachable from the host; None: no broker, or not reachable
    services: tuple[ServiceTarget, ...]
    rpc: RpcRoute | None
    probe_image: str | None  # an image with python3 already on the nodes, for the DNS and pod network probes
    network_daemonset: str | None = None  # the pod network's agents (kube-system) envbuilder installed
    time_limit_seconds: float | None = None  # the profile's timeouts.smoke: no check's deadline is longer

    def service(self, name: str) -> ServiceTarget | None:
        return next((service for service in self.services if service.name == name), None)


async def read_credentials(kube: "Kube", namespace: str) -> Credentials:
    from f5sync.contract import F5_PASSWORD
    from envbuilder.desired.broker import BROKER_PASSWORD_KEY, BROKER_SECRET
    from envbuilder.desired.f5 import F5_SECRET
    from envbuilder.smoke.framework import CheckFailed

    async def secret_value(secret: str, key: str) -> str:
        try:
            data = (await kube.get(f"/api/v1/namespaces/{namespace}/secrets/{secret}")).get("data") or {}
        except CheckFailed:
            return ""  # the checks that need it fail on authentication and say so
        return base64.b64decode(data[key]).decode() if key in data else ""

    return Credentials(
        f5_password=await secret_value(F5_SECRET, F5_PASSWORD),
        broker_password=await secret_value(BROKER_SECRET, BROKER_PASSWORD_KEY),
    )


def kubeconfig_of(record: "EnvironmentRecord") -> Path:
    from envbuilder.kubeconfig import default_kubeconfig

    return Path(record.kubeconfig).expanduser() if record.kubeconfig else default_kubeconfig()


def recorded_services(record: "EnvironmentRecord") -> list["ServiceEntry"]:
    """The catalog entries of the environment's services in the cluster, as `up` recorded them."""
    from envbuilder.errors import InputError
    from envbuilder.spec.catalog import ServiceEntry

    if record.services and not record.catalog:
        raise InputError(
            f"the record of {record.name} names no catalog entries to check (an earlier envbuilder wrote it)",
            hint=f"run `envbuilder up --name {record.name}` with its services again to record them",
        )
    entries = [ServiceEntry.model_validate(data) for data in record.catalog]
    return [entry for entry in entries if entry.runtime == "kubernetes"]


def target_from_record(record: "EnvironmentRecord", credentials: Credentials) -> SmokeTarget:
    """The checks' view of an environment, from its record alone: the catalog entries and profile
    facts `up` recorded, and its host ports.

    On a kind cluster the F5 API, the VIPs and the broker are published on 127.0.0.1; on an
    existing cluster they are not reachable from the host, and their checks are skipped.
    """
    from envbuilder.desired.broker import amqp_url
    from envbuilder.desired.f5 import F5_USERNAME
    from envbuilder.spec.environment import recorded_images

    on_host = record.target == "kind"
    entries = recorded_services(record)
    services = tuple(
        ServiceTarget(
            name=entry.name,
            port=entry.port,
            health_path=entry.health_path,
            exposed=entry.expose is not None,
            f5_mode=entry.expose.mode if entry.expose else "nodeport",
            vip_url=f"http://127.0.0.1:{record.ports.vips[entry.name]}"
            if on_host and entry.expose and entry.name in record.ports.vips
            else None,
            partition=entry.expose.partition if entry.expose else "Common",
            extra_checks=tuple(
                ExtraCheck(
                    name=check.name, path=check.path, expect_status=check.expect_status, expect_body=check.expect_body
                )
                for check in entry.smoke
            ),
        )
        for entry in entries
    )
    names = {entry.name for entry in entries}
    needs_broker = any(entry.needs_broker for entry in entries)
    # An unreadable Secret leaves an empty password: the check then fails on authentication and says so.
    f5 = (
        F5Access(f"https://127.0.0.1:{record.ports.f5_api}", F5_USERNAME, credentials.f5_password)
        if on_host
        else None
    )
    broker_url = (
        amqp_url("127.0.0.1", record.ports.broker, credentials.broker_password)
        if on_host and needs_broker
        else None
    )
    route = next((entry for entry in entries if entry.rpc and entry.rpc.to in names), None)
    return SmokeTarget(
        environment=record.name,
        namespace=record.namespace,
        kubeconfig=kubeconfig_of(record),
        kube_context=record.kube_context,
        node_count=record.node_count,
        f5=f5,
        broker_url=broker_url,
        services=services,
        rpc=RpcRoute(via=route.name, path=route.rpc.path, worker=route.rpc.to) if route and route.rpc else None,
        # Every service image is built on the same Python base, and the nodes can pull it.
        probe_image=pod_image(recorded_images(record.images, record.revision, [entries[0].name])[entries[0].name],
                              record.target) if entries else None,
        network_daemonset=PodNetwork(record.pod_network).daemonset if record.pod_network else None,
        time_limit_seconds=record.smoke_timeout_seconds,
    )
