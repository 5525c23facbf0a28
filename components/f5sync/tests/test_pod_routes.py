"""Cluster mode's routes: one static route on the F5 per pod address block, through the node
that holds it, from the nodes' podCIDRs (kube-router here) or Calico's block affinities (online
users), from Kubernetes objects converted as the informers convert them: the node was recorded from a
kind cluster of the offline node image; Calico's BlockAffinities are written by hand after the
`crd.projectcalico.org/v1` schema, since no Calico runs on these machines (docs/node-image.md)."""

import json
import typing
from pathlib import Path

import pydantic
import pytest
from lightkube.resources.core_v1 import Node

from f5sync import contract
from f5sync.diff import (
    CreatePool,
    CreateRoute,
    DeletePool,
    DeleteRoute,
    RemoveMember,
    UpdateRoute,
    plan,
)
from f5sync.kube import BlockAffinity, block_affinity_info, node_info
from f5sync.mapping import desired_state
from f5sync.model import (
    BlockAffinityInfo,
    ClusterSnapshot,
    F5State,
    Member,
    NodeInfo,
    Pool,
    Route,
)
from f5sync.settings import Settings

OBJECTS = Path(__file__).parent / "objects"
NONE: frozenset = frozenset()


def kube_object(name: str) -> dict:
    return json.loads((OBJECTS / name).read_text())


def routes(snapshot: ClusterSnapshot, source: str) -> dict[str, str]:
    state = desired_state(snapshot, default_partition="Common", vip_address="0.0.0.0", pod_routes=source).state
    return {route.network: route.gw for route in state.routes.values()}


# --- from the Kubernetes objects ---------------------------------------------------------------


def test_a_kube_router_node_gives_its_pod_cidr_and_internal_ip():
    node = node_info(Node.from_dict(kube_object("kube-router-node-recorded.json")))
    assert (node.internal_ip, node.pod_cidrs) == ("172.18.0.5", ("192.168.1.0/24",))


def test_calico_block_affinities_are_confirmed_only_when_confirmed_and_not_deleted():
    blocks = [block_affinity_info(BlockAffinity.from_dict(item)) for item in kube_object("calico-blockaffinities-handwritten.json")["items"]]
    assert [(b.node, b.cidr, b.confirmed) for b in blocks] == [
        ("kind-control-plane", "192.168.82.0/26", True),
        ("kind-worker", "192.168.110.128/26", True),
        ("kind-worker", "192.168.110.192/26", True),
        ("kind-worker2", "192.168.33.0/26", False),  # pending
        ("kind-worker3", "192.168.7.64/26", False),  # being released
    ]


# --- the mapping ----------------------------------------------------------------------------------

CALICO_NODES = (
    NodeInfo("kind-control-plane", "172.18.0.2", ready=True),
    NodeInfo("kind-worker", "172.18.0.3", ready=True),
    NodeInfo("kind-worker2", "172.18.0.4", ready=True),
)


def calico_snapshot(nodes=CALICO_NODES) -> ClusterSnapshot:
    blocks = tuple(
        block_affinity_info(BlockAffinity.from_dict(item)) for item in kube_object("calico-blockaffinities-handwritten.json")["items"]
    )
    return ClusterSnapshot(nodes=nodes, block_affinities=blocks)


def test_calico_gives_a_route_per_confirmed_block_through_its_node():
    assert routes(calico_snapshot(), contract.POD_ROUTES_CALICO) == {
        "192.168.82.0/26": "172.18.0.2",
        "192.168.110.128/26": "172.18.0.3",
        "192.168.110.192/26": "172.18.0.3",  # a node with two blocks has two routes
    }


def test_route_names_follow_the_block_not_the_node():
    state = desired_state(
        calico_snapshot(), default_partition="Common", vip_address="0.0.0.0", pod_routes=contract.POD_ROUTES_CALICO
    ).state
    assert state.routes[("Common", "pods_192.168.82.0_26")] == Route(
        "Common", "pods_192.168.82.0_26", "192.168.82.0/26", "172.18.0.2"
    )


def test_podcidr_gives_a_route_per_node_block_ready_or_not():
    nodes = (
        NodeInfo("a", "172.18.0.2", ready=True, pod_cidrs=("192.168.0.0/24",)),
        NodeInfo("b", "172.18.0.3", ready=False, pod_cidrs=("192.168.1.0/24", "fd00:10:244:1::/64")),
        NodeInfo("c", None, ready=True, pod_cidrs=("192.168.2.0/24",)),  # no address yet: no route
        NodeInfo("d", "172.18.0.5", ready=True),  # no pod CIDR allocated yet
    )
    assert routes(ClusterSnapshot(nodes=nodes), contract.POD_ROUTES_PODCIDR) == {
        "192.168.0.0/24": "172.18.0.2",
        "192.168.1.0/24": "172.18.0.3",  # the IPv6 block has no IPv6 gateway
    }


def test_no_routes_when_they_are_off_whatever_the_cluster_says():
    assert routes(calico_snapshot(), contract.POD_ROUTES_OFF) == {}
    nodes = (NodeInfo("a", "172.18.0.2", ready=True, pod_cidrs=("192.168.0.0/24",)),)
    assert routes(ClusterSnapshot(nodes=nodes), contract.POD_ROUTES_OFF) == {}


def test_a_block_of_an_unknown_node_or_a_malformed_cidr_gets_no_route():
    blocks = (
        BlockAffinityInfo("x", node="gone", cidr="192.168.9.0/26", confirmed=True),
        BlockAffinityInfo("y", node="kind-worker", cidr="not-a-cidr", confirmed=True),
    )
    assert routes(ClusterSnapshot(nodes=CALICO_NODES, block_affinities=blocks), contract.POD_ROUTES_CALICO) == {}


# --- the plan -------------------------------------------------------------------------------------

ROUTE_A = Route("Common", "pods_192.168.1.0_24", "192.168.1.0/24", "172.18.0.3")
POOL = Pool("Common", "shop_web_80", frozenset({Member("192.168.1.5", 8080)}))


def test_a_route_is_created_before_the_pool_whose_members_are_behind_it():
    operations = plan(F5State(), F5State.of([POOL], routes=[ROUTE_A]), foreign_pools=NONE, foreign_virtuals=NONE)
    assert list(operations.operations) == [CreateRoute(ROUTE_A), CreatePool(POOL)]


def test_a_block_that_moves_keeps_its_route_with_the_new_gateway():
    moved = Route(ROUTE_A.partition, ROUTE_A.name, ROUTE_A.network, "172.18.0.9")
    operations = plan(F5State.of(routes=[ROUTE_A]), F5State.of(routes=[moved]), foreign_pools=NONE, foreign_virtuals=NONE)
    assert list(operations.operations) == [UpdateRoute(moved)]


def test_a_node_gone_takes_its_route_after_the_members_behind_it():
    emptied = Pool(POOL.partition, POOL.name, frozenset())
    current = F5State.of([POOL, Pool("Common", "old", frozenset())], routes=[ROUTE_A])
    operations = plan(current, F5State.of([emptied]), foreign_pools=NONE, foreign_virtuals=NONE)
    assert list(operations.operations) == [
        RemoveMember("Common", "shop_web_80", Member("192.168.1.5", 8080)),
        DeletePool("Common", "old"),
        DeleteRoute("Common", ROUTE_A.name),
    ]


def test_a_route_held_by_someone_else_is_left_alone_and_reported():
    result = plan(
        F5State(),
        F5State.of(routes=[ROUTE_A]),
        foreign_pools=NONE,
        foreign_virtuals=NONE,
        foreign_routes=frozenset({("Common", ROUTE_A.name)}),
    )
    assert result.operations == ()
    assert result.conflicts == (f"route /Common/{ROUTE_A.name} exists and is not ours",)


# --- the setting ----------------------------------------------------------------------------------


def test_the_setting_takes_exactly_the_contracts_sources():
    annotation = Settings.model_fields["pod_routes"].annotation
    assert typing.get_args(annotation) == contract.POD_ROUTE_SOURCES
    base = {"F5_URL": "https://f5", "F5_USERNAME": "u", "F5_PASSWORD": "p", "F5SYNC_NAMESPACE": "n", "F5SYNC_OWNER": "o"}
    assert Settings.from_env(base).pod_routes == contract.POD_ROUTES_OFF
    assert Settings.from_env({**base, "F5SYNC_POD_ROUTES": "auto"}).pod_routes == "auto"
    with pytest.raises(pydantic.ValidationError):
        Settings.from_env({**base, "F5SYNC_POD_ROUTES": "bgp"})
