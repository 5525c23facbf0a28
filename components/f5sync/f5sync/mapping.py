"""Cluster snapshot -> the F5 configuration it calls for. Pure: no I/O, no clock."""

import ipaddress
from dataclasses import dataclass

from f5sync import contract
from f5sync.model import (
    ClusterSnapshot,
    F5State,
    Member,
    Pool,
    Route,
    ServiceInfo,
    ServicePort,
    Virtual,
)


@dataclass(frozen=True)
class Desired:
    state: F5State
    problems: tuple[str, ...]  # exposed Services that cannot be mapped, and why


@dataclass(frozen=True)
class _Exposure:
    """One exposed Service, its annotations checked."""

    service: ServiceInfo
    partition: str
    mode: str
    vip_port: int
    ports: tuple[ServicePort, ...]  # the virtual fronts the first


class _InvalidExposure(ValueError):
    pass


def desired_state(
    snapshot: ClusterSnapshot, *, default_partition: str, vip_address: str, pod_routes: str = contract.POD_ROUTES_OFF
) -> Desired:
    """The pools, members and virtuals that the exposed Services of `snapshot` call for, and the
    routes to the pod network from `pod_routes` (a resolved source: never `auto`)."""
    pools: list[Pool] = []
    virtuals: list[Virtual] = []
    problems: list[str] = []
    for service in sorted(snapshot.services, key=lambda s: (s.namespace, s.name)):
        if service.labels.get(contract.EXPOSE_LABEL) != contract.EXPOSE_LABEL_VALUE:
            continue
        try:
            exposure = _exposure(service, default_partition)
        except _InvalidExposure as error:
            problems.append(f"service {service.namespace}/{service.name}: {error}")
            continue
        for port in exposure.ports:
            members = (
                _node_members(snapshot, port)
                if exposure.mode == contract.MODE_NODEPORT
                else _pod_members(snapshot, service, port)
            )
            name = contract.pool_name(service.namespace, service.name, port.port)
            pools.append(Pool(partition=exposure.partition, name=name, members=members))
        virtuals.append(
            Virtual(
                partition=exposure.partition,
                name=contract.virtual_name(service.namespace, service.name),
                address=vip_address,
                port=exposure.vip_port,
                pool=contract.pool_name(service.namespace, service.name, exposure.ports[0].port),
            )
        )
    routes = pod_network_routes(snapshot, pod_routes, default_partition)
    return Desired(state=F5State.of(pools, virtuals, routes), problems=tuple(problems))


def pod_network_routes(snapshot: ClusterSnapshot, source: str, partition: str) -> list[Route]:
    """One route per pod address block, through the InternalIP of the node that holds it.

    Routes follow the nodes, Ready or not: a NotReady node's pods leave the pools through their
    EndpointSlices, and its route is there again the moment they come back. A block whose node is
    unknown or has no InternalIP of the block's address family gets no route.
    """
    if source == contract.POD_ROUTES_PODCIDR:
        blocks = [(node.name, cidr) for node in snapshot.nodes for cidr in node.pod_cidrs]
    elif source == contract.POD_ROUTES_CALICO:
        blocks = [(block.node, block.cidr) for block in snapshot.block_affinities if block.confirmed]
    else:
        return []
    gateways = {node.name: node.internal_ip for node in snapshot.nodes if node.internal_ip}
    routes: dict[str, Route] = {}
    for node, cidr in sorted(blocks):
        gateway = gateways.get(node)
        try:
            network = ipaddress.ip_network(cidr, strict=False)
            if gateway is None or ipaddress.ip_address(gateway).version != network.version:
                continue
        except ValueError:
            continue  # not an address block: nothing to route
        routes[str(network)] = Route(partition, contract.route_name(str(network)), str(network), gateway)
    return list(routes.values())


def _exposure(service: ServiceInfo, default_partition: str) -> _Exposure:
    annotations = service.annotations
    vip_port_text = annotations.get(contract.VIP_PORT_ANNOTATION, "")
    if not vip_port_text.isdigit() or not 0 < int(vip_port_text) < 65536:
        raise _InvalidExposure(
            f"annotation {contract.VIP_PORT_ANNOTATION} must be a port number, got {vip_port_text!r}"
        )
    mode = annotations.get(contract.MODE_ANNOTATION, contract.MODE_NODEPORT)
    if mode not in (contract.MODE_NODEPORT, contract.MODE_CLUSTER):
        raise _InvalidExposure(
            f"annotation {contract.MODE_ANNOTATION} must be {contract.MODE_NODEPORT} or {contract.MODE_CLUSTER},"
            f" got {mode!r}"
        )
    ports = _selected_ports(service, annotations.get(contract.SERVICE_PORT_ANNOTATION))
    if mode == contract.MODE_NODEPORT and any(port.node_port is None for port in ports):
        raise _InvalidExposure("nodeport mode needs a Service of type NodePort or LoadBalancer")
    return _Exposure(
        service=service,
        partition=annotations.get(contract.PARTITION_ANNOTATION) or default_partition,
        mode=mode,
        vip_port=int(vip_port_text),
        ports=ports,
    )


def _selected_ports(service: ServiceInfo, selector: str | None) -> tuple[ServicePort, ...]:
    tcp_ports = tuple(port for port in service.ports if port.protocol == "TCP")
    if selector is None:
        if not tcp_ports:
            raise _InvalidExposure("the Service has no TCP port")
        return tcp_ports
    for port in tcp_ports:
        if selector in (port.name, str(port.port)):
            return (port,)
    raise _InvalidExposure(
        f"annotation {contract.SERVICE_PORT_ANNOTATION}={selector!r} names no TCP port of the Service"
    )


def _node_members(snapshot: ClusterSnapshot, port: ServicePort) -> frozenset[Member]:
    assert port.node_port is not None  # checked in _exposure
    return frozenset(
        Member(address=node.internal_ip, port=port.node_port)
        for node in snapshot.nodes
        if node.ready and not node.unschedulable and node.internal_ip
    )


def _pod_members(snapshot: ClusterSnapshot, service: ServiceInfo, port: ServicePort) -> frozenset[Member]:
    members: set[Member] = set()
    for endpoint_slice in snapshot.endpoint_slices:
        if endpoint_slice.namespace != service.namespace or endpoint_slice.service != service.name:
            continue
        # A slice port matches the Service port of the same name (both unnamed for single-port Services).
        for slice_port in endpoint_slice.ports:
            if (slice_port.name or None) == (port.name or None):
                members.update(
                    Member(address=address, port=slice_port.port) for address in endpoint_slice.ready_addresses
                )
    return frozenset(members)
