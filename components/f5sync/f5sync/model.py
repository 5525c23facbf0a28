"""Plain values on both sides of the controller: what the cluster holds and what the F5 holds.

The Kubernetes client's objects are converted into these at the edge (`kube.py`), so the mapping
and the diff are pure functions that tests drive with literals.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field


# --- The cluster ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServicePort:
    port: int
    name: str | None = None  # EndpointSlice ports carry the same name
    node_port: int | None = None
    protocol: str = "TCP"


@dataclass(frozen=True)
class ServiceInfo:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[ServicePort, ...] = ()


@dataclass(frozen=True)
class NodeInfo:
    name: str
    internal_ip: str | None
    ready: bool
    unschedulable: bool = False
    pod_cidrs: tuple[str, ...] = ()  # spec.podCIDRs: the node's pod address blocks where the CNI uses them


@dataclass(frozen=True)
class BlockAffinityInfo:
    """Calico IPAM's claim of one pod address block by one node (crd.projectcalico.org/v1 BlockAffinity)."""

    name: str
    node: str
    cidr: str
    confirmed: bool  # state `confirmed` and not marked deleted: the node routes the block


@dataclass(frozen=True)
class SlicePort:
    port: int
    name: str | None = None


@dataclass(frozen=True)
class EndpointSliceInfo:
    namespace: str
    name: str
    service: str  # the kubernetes.io/service-name label
    ports: tuple[SlicePort, ...] = ()
    ready_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterSnapshot:
    services: tuple[ServiceInfo, ...] = ()
    nodes: tuple[NodeInfo, ...] = ()
    endpoint_slices: tuple[EndpointSliceInfo, ...] = ()
    block_affinities: tuple[BlockAffinityInfo, ...] = ()


# --- The F5 -----------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Member:
    address: str
    port: int

    @property
    def name(self) -> str:
        """BIG-IP's member name: `ip:port`, or `ip.port` for IPv6."""
        separator = "." if ":" in self.address else ":"
        return f"{self.address}{separator}{self.port}"


@dataclass(frozen=True)
class Pool:
    partition: str
    name: str
    members: frozenset[Member] = frozenset()


@dataclass(frozen=True)
class Virtual:
    partition: str
    name: str
    address: str
    port: int
    pool: str  # the pool's name, in the same partition

    @property
    def destination(self) -> str:
        separator = "." if ":" in self.address else ":"
        return f"/{self.partition}/{self.address}{separator}{self.port}"

    @property
    def pool_path(self) -> str:
        return f"/{self.partition}/{self.pool}"


@dataclass(frozen=True, order=True)
class Route:
    """A static route on the F5: pod addresses `network` through the node at `gw`."""

    partition: str
    name: str
    network: str
    gw: str


ObjectKey = tuple[str, str]  # (partition, name)


@dataclass(frozen=True)
class F5State:
    pools: Mapping[ObjectKey, Pool] = field(default_factory=dict)
    virtuals: Mapping[ObjectKey, Virtual] = field(default_factory=dict)
    routes: Mapping[ObjectKey, Route] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        pools: list[Pool] | tuple[Pool, ...] = (),
        virtuals: list[Virtual] | tuple[Virtual, ...] = (),
        routes: list[Route] | tuple[Route, ...] = (),
    ) -> "F5State":
        return cls(
            pools={(pool.partition, pool.name): pool for pool in pools},
            virtuals={(virtual.partition, virtual.name): virtual for virtual in virtuals},
            routes={(route.partition, route.name): route for route in routes},
        )
