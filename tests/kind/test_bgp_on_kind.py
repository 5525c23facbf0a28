"""The `bgp` profile on a real kind cluster: kube-router on every node peers with the F5, which
learns each node's pod block over BGP; f5-sync writes no route, and a cluster-mode service still
answers through its VIP."""

import json
from collections.abc import Iterator

import pytest

from tests.kind.conftest import Environment, environment_up
from tests.kind.test_environment_on_kind import pool_becomes, ready_pod_members, work

pytestmark = [pytest.mark.kind, pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def bgp_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    yield from environment_up(tmp_path_factory, "web-direct,worker", "--profile", "bgp")


def f5_health(environment: Environment) -> dict:
    return environment.f5_get("/health")


def test_the_f5_learns_each_nodes_pod_block_over_bgp_and_a_cluster_mode_vip_answers(bgp_environment: Environment):
    nodes = json.loads(bgp_environment.kubectl("get", "nodes", "-o", "json"))["items"]
    internal_ip = {n["metadata"]["name"]: next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
                   for n in nodes}
    bgp = f5_health(bgp_environment)["bgp"]
    assert bgp["routes"] == {n["spec"]["podCIDR"]: internal_ip[n["metadata"]["name"]] for n in nodes}
    assert {address: peer["state"] for address, peer in bgp["peers"].items()} == dict.fromkeys(
        internal_ip.values(), "established"
    )
    assert bgp["routesNotInstalled"] == {}
    assert bgp_environment.f5_get("/mgmt/tm/net/route").get("items", []) == []  # f5-sync wrote none

    members = pool_becomes(bgp_environment, "web-direct", lambda: ready_pod_members(bgp_environment, "web-direct", 8080))
    assert len(members) == 2
    answers = [work(bgp_environment, service="web-direct") for _ in range(10)]
    assert all(answer["answer"]["worker"] for answer in answers)

    events = [e for e in bgp_environment.f5_events() if e["event"].startswith("bgp-")]
    print("\nF5 BGP events:\n" + "\n".join(json.dumps(event) for event in events))


def test_down_removes_the_bgp_environment_entirely(bgp_environment: Environment):
    bgp_environment.down_and_prove_nothing_is_left()
