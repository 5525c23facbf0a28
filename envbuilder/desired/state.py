"""Everything an environment holds, grouped in the order the engine creates it."""

from collections.abc import Mapping
from dataclasses import dataclass

from envbuilder.components.f5sync import contract
from envbuilder.desired.broker import broker_objects, broker_secret
from envbuilder.desired.f5 import f5_endpoint_objects, f5_secret, f5_sync_objects
from envbuilder.cluster.docker import ContainerSpec
from envbuilder.desired.host import KindNodes, classic_container, f5_container, kind_cluster_config
from envbuilder.desired.meta import Object, metadata
from envbuilder.desired.services import kubernetes_service, service_objects
from envbuilder.errors import InputError
from envbuilder.spec.environment import EnvironmentSpec
from envbuilder.state.records import HostPorts

PLACEHOLDER_SECRET = "<generated at up>"


@dataclass(frozen=True)
class Credentials:
    """Generated once per environment and kept as Pulumi secrets; never printed."""

    broker_password: str
    f5_password: str

    @classmethod
    def placeholder(cls) -> "Credentials":
        return cls(PLACEHOLDER_SECRET, PLACEHOLDER_SECRET)


@dataclass(frozen=True)
class DesiredState:
    cluster: dict | None  # kind's cluster config; None on an existing cluster
    containers: tuple[ContainerSpec, ...]  # the F5 (on kind) and classic services
    secrets: tuple[Object, ...]
    groups: dict[str, tuple[Object, ...]]  # phase name -> Kubernetes objects, in creation order

    def objects(self) -> list[Object]:
        return [*self.secrets, *(obj for group in self.groups.values() for obj in group)]


def desired_state(
    spec: EnvironmentSpec,
    credentials: Credentials,
    ports: HostPorts | None = None,
    addresses: Mapping[str, str] | None = None,
    nodes: KindNodes | None = None,
) -> DesiredState:
    """The whole environment for `spec`.

    `addresses` maps container names to their IPs on the cluster network, known once the
    containers run; before that (render, preview) placeholders stand in. `nodes` is what the
    host decided about the kind nodes; without it (render), kind's published image and Calico.
    """
    if spec.classic and spec.target != "kind":
        names = ", ".join(s.name for s in spec.classic)
        raise InputError(f"classic services ({names}) need the kind target: they run on its Docker network")
    addresses = addresses or {}
    containers: list[ContainerSpec] = []
    if spec.target == "kind":
        containers.append(f5_container(spec, ports, credentials.f5_password))
        containers.extend(classic_container(spec, s, credentials.broker_password) for s in spec.classic)

    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(spec, spec.namespace, "environment", namespaced=False),
    }
    secrets = [f5_secret(spec, credentials.f5_password)]
    groups: dict[str, tuple[Object, ...]] = {"namespace": (namespace,)}
    if spec.needs_broker:
        secrets.append(broker_secret(spec, credentials.broker_password))
        groups["broker"] = tuple(broker_objects(spec))
    f5_address = addresses.get(containers[0].name) if containers else None
    groups["f5"] = tuple([*f5_endpoint_objects(spec, f5_address), *f5_sync_objects(spec)])
    service_group: list[Object] = []
    for service in spec.in_cluster:
        service_group.extend(service_objects(spec, service))
    for service, container in zip(spec.classic, containers[1:]):
        service_group.extend(classic_service_objects(spec, service, addresses.get(container.name)))
    groups["services"] = tuple(service_group)
    return DesiredState(
        cluster=kind_cluster_config(spec, ports, nodes or KindNodes(spec.profile.published_node_image))
        if spec.target == "kind"
        else None,
        containers=tuple(containers),
        secrets=tuple(secrets),
        groups=groups,
    )


def classic_service_objects(spec: EnvironmentSpec, service, address: str | None) -> list[Object]:
    """A selectorless Service for a classic container: cluster DNS and the F5 reach it like any other."""
    svc = kubernetes_service(spec, service)
    svc["spec"].pop("selector")
    if svc["spec"].get("type") == "NodePort":
        # kube-proxy cannot route a NodePort to an address outside the cluster; the F5 goes direct.
        svc["spec"]["type"] = "ClusterIP"
        svc["metadata"]["annotations"][contract.MODE_ANNOTATION] = contract.MODE_CLUSTER
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": metadata(spec, service.name, service.name),
        "subsets": [
            {
                "addresses": [{"ip": address or "0.0.0.0"}],
                "ports": [{"name": "http", "port": service.entry.port}],
            }
        ],
    }
    return [svc, endpoints]
