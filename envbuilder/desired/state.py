"""Everything an environment holds, grouped by the phase that creates it."""

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, TypeVar
from urllib.parse import quote

from f5sync import contract
from envbuilder.desired.broker import broker_objects, broker_secret
from envbuilder.desired.f5 import f5_endpoint_objects, f5_secret, f5_sync_objects
from envbuilder.cluster.docker import ContainerSpec
from envbuilder.desired.host import KindNodes, classic_container, f5_container, kind_cluster_config
from envbuilder.desired.meta import Object, metadata
from envbuilder.desired.phases import Phase
from envbuilder.desired.services import kubernetes_service, service_objects
from envbuilder.errors import InputError
from envbuilder.spec.environment import EnvironmentSpec
from envbuilder.state.records import HostPorts

PLACEHOLDER_SECRET = "<generated at up>"
# Values the engine learns only while it runs, the generated credentials and each container's
# address, stand in the desired state as markers until `resolve` puts the real ones in. URL-safe,
# so quote() leaves a marker as it is inside the broker's URL; with "~", which no DNS name (an
# environment's, a service's, an object's) can hold, so no name is ever taken for a marker.
PENDING = "~pending~"


@dataclass(frozen=True)
class Credentials:
    """The environment's passwords: generated once by `up`, kept as Pulumi secrets (encrypted with the
    environment's own passphrase) and in its Kubernetes Secrets, handed to containers as files; never
    printed. The smoke checks read them back from the Secrets ("" for one they cannot read)."""

    broker_password: str
    f5_password: str

    @classmethod
    def placeholder(cls) -> "Credentials":
        return cls(PLACEHOLDER_SECRET, PLACEHOLDER_SECRET)


def pending_credentials() -> Credentials:
    """Markers for the credentials, which the engine generates and keeps as Pulumi secrets."""
    return Credentials(**{field.name: f"{PENDING}{field.name}" for field in fields(Credentials)})


class _PendingAddresses(Mapping[str, str]):
    """A marker for every container's address on the cluster network, known once the container runs."""

    def __getitem__(self, container: str) -> str:
        return _address_marker(container)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


PENDING_ADDRESSES: Mapping[str, str] = _PendingAddresses()


def _address_marker(container: str) -> str:
    return f"{PENDING}address-{container}"


@dataclass(frozen=True)
class DesiredState:
    cluster: dict | None  # kind's cluster config; None on an existing cluster
    # Containers beside the cluster (the F5 on kind, classic services) by phase, in creation order.
    containers: dict[Phase, tuple[ContainerSpec, ...]]
    namespace: Object  # before every other object
    secrets: tuple[Object, ...]
    groups: dict[Phase, tuple[Object, ...]]  # each phase's Kubernetes objects

    def objects(self) -> list[Object]:
        return [self.namespace, *self.secrets, *(obj for group in self.groups.values() for obj in group)]

    def all_containers(self) -> list[ContainerSpec]:
        return [container for phase in self.containers.values() for container in phase]


Resolved = TypeVar("Resolved")


def resolve(
    value: Resolved, credentials: Credentials | None = None, addresses: Mapping[str, str] | None = None
) -> Resolved:
    """`value` (objects, containers, any part of a desired state made with pending_credentials() and
    PENDING_ADDRESSES) with the markers replaced by `credentials` and `addresses`. A marker left over
    is an error: nothing reaches the cluster with a marker for a value in it."""
    known: dict[str, str] = {}
    if credentials is not None:
        for field in fields(credentials):
            secret = getattr(credentials, field.name)
            # A marker inside the broker's URL was quoted as itself; the value must be too (generated ones are).
            if quote(secret, safe="") != secret:
                raise ValueError(f"credential {field.name} is not URL-safe")
            known[f"{PENDING}{field.name}"] = secret
    for container, address in (addresses or {}).items():
        known[_address_marker(container)] = address
    return _replace_markers(value, known)


def _replace_markers(value: Any, known: dict[str, str]) -> Any:
    if isinstance(value, str):
        for marker, real in known.items():
            value = value.replace(marker, real)
        if PENDING in value:
            raise ValueError(f"a value the engine did not supply is still pending: {value}")
        return value
    if isinstance(value, dict):
        return {key: _replace_markers(item, known) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_replace_markers(item, known) for item in value)
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: _replace_markers(getattr(value, f.name), known) for f in fields(value)})
    return value


def desired_state(
    spec: EnvironmentSpec,
    credentials: Credentials,
    ports: HostPorts | None = None,
    addresses: Mapping[str, str] | None = None,
    nodes: KindNodes | None = None,
) -> DesiredState:
    """The whole environment for `spec`.

    `addresses` maps container names to their IPs on the cluster network, known once the
    containers run; before that (render) placeholders stand in. The engine computes the state
    once with pending_credentials() and PENDING_ADDRESSES, and resolves each part as the real
    values become known. `nodes` is what the host decided about the kind nodes; without it
    (render), kind's published image and Calico.
    """
    if spec.classic and spec.target != "kind":
        names = ", ".join(s.name for s in spec.classic)
        raise InputError(f"classic services ({names}) need the kind target: they run on its Docker network")
    if spec.profile.f5_routes == "bgp" and spec.target != "kind":
        raise InputError(
            "f5_routes: bgp needs the kind target: on an existing cluster the mock F5 is a pod and reaches pods as any pod does"
        )
    addresses = addresses if addresses is not None else {}
    f5 = f5_container(spec, ports, credentials.f5_password) if spec.target == "kind" else None
    classic = [classic_container(spec, s, credentials.broker_password) for s in spec.classic]

    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(spec, spec.namespace, "environment", namespaced=False),
    }
    secrets = [f5_secret(spec, credentials.f5_password)]
    groups: dict[Phase, tuple[Object, ...]] = {}
    if spec.needs_broker:
        secrets.append(broker_secret(spec, credentials.broker_password))
        groups[Phase.BROKER] = tuple(broker_objects(spec))
    f5_address = addresses.get(f5.name) if f5 else None
    groups[Phase.F5] = tuple([*f5_endpoint_objects(spec, f5_address), *f5_sync_objects(spec)])
    service_group: list[Object] = []
    for service in spec.in_cluster:
        service_group.extend(service_objects(spec, service))
    for service, container in zip(spec.classic, classic):
        service_group.extend(classic_service_objects(spec, service, addresses.get(container.name)))
    groups[Phase.SERVICES] = tuple(service_group)
    containers: dict[Phase, tuple[ContainerSpec, ...]] = {}
    if f5:
        containers[Phase.F5] = (f5,)
    if classic:
        containers[Phase.SERVICES] = tuple(classic)
    return DesiredState(
        cluster=kind_cluster_config(spec, ports, nodes or KindNodes(spec.profile.published_node_image))
        if spec.target == "kind"
        else None,
        containers=containers,
        namespace=namespace,
        secrets=tuple(secrets),
        groups=groups,
    )


def state_digest(spec: EnvironmentSpec, ports: HostPorts | None, node_image: str | None, pod_network: str | None) -> str:
    """One digest of everything that decides an environment's state: every object and container as the
    desired state has them (services, catalog entries, images, profile, overrides, replicas, revision,
    ports), and the kind nodes' image and pod network. An `up` whose digest matches the last successful
    one's would change nothing, so it need not run the engine."""
    state = desired_state(spec, Credentials.placeholder(), ports, PENDING_ADDRESSES)
    document = {
        "cluster": state.cluster,
        "containers": [container.shown() for container in state.all_containers()],
        "objects": state.objects(),
        "nodes": {"image": node_image, "pod_network": pod_network},
        # What the objects do not show, such as the smoke checks' settings.
        "profile": spec.profile.model_dump(mode="json"),
        "catalog": [service.entry.model_dump(mode="json") for service in spec.services],
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


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
