"""f5-sync keeps the F5's routes to the pod network: kmock as the Kubernetes API (with and
without Calico's BlockAffinity resource), the real mock F5 over HTTPS."""

import pytest

from f5sync import contract
from f5sync.settings import Settings
from components.f5sync.tests.conftest import converges
from components.f5sync.tests.f5_api import MockF5
from components.f5sync.tests.kube_api import NAMESPACE, KubeApi
from tests.support.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

WEB_POOL = "/Common/" + contract.pool_name(NAMESPACE, "web", 80)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"pod_routes": contract.POD_ROUTES_AUTO})


@pytest.fixture
def calico(kube: KubeApi) -> KubeApi:
    kube.serve_calico()
    return kube


def route(network: str) -> str:
    return "/Common/" + contract.route_name(network)


async def test_without_calico_each_nodes_pod_cidr_is_routed_through_it_and_leaves_with_it(kube, f5: MockF5, f5sync):
    await f5.post("/mgmt/tm/net/route", {"name": "theirs", "network": "10.99.0.0/16", "gw": "10.0.0.254"})
    await kube.add_node("node-1", "10.0.0.1", pod_cidr="10.244.0.0/24")
    await kube.add_node("node-2", "10.0.0.2", pod_cidr="10.244.1.0/24")
    await kube.add_service("web", vip_port=free_port(), ports={"http": (80, 30080)}, mode=contract.MODE_CLUSTER)
    await kube.add_endpoints("web", ["10.244.1.5"], port_name="http", target_port=8080)
    theirs = {"/Common/theirs": ("10.99.0.0/16", "10.0.0.254")}
    await converges(
        f5.routes,
        {
            **theirs,
            route("10.244.0.0/24"): ("10.244.0.0/24", "10.0.0.1"),
            route("10.244.1.0/24"): ("10.244.1.0/24", "10.0.0.2"),
        },
    )
    await converges(f5.pools, {WEB_POOL: {"10.244.1.5:8080"}})
    assert f5sync.controller.pod_routes == contract.POD_ROUTES_PODCIDR

    await kube.delete_node("node-2")
    await converges(f5.routes, {**theirs, route("10.244.0.0/24"): ("10.244.0.0/24", "10.0.0.1")})


async def test_with_calico_each_confirmed_block_is_routed_and_follows_its_node(calico, f5: MockF5, f5sync):
    await calico.add_node("node-1", "10.0.0.1", pod_cidr="10.244.0.0/24")  # Calico IPAM does not use it
    await calico.add_node("node-2", "10.0.0.2", pod_cidr="10.244.1.0/24")
    await calico.set_block_affinity("node-1", "192.168.82.0/26")
    await calico.set_block_affinity("node-2", "192.168.110.128/26")
    await calico.set_block_affinity("node-2", "192.168.110.192/26", state="pending")
    await converges(
        f5.routes,
        {
            route("192.168.82.0/26"): ("192.168.82.0/26", "10.0.0.1"),
            route("192.168.110.128/26"): ("192.168.110.128/26", "10.0.0.2"),
        },
    )
    assert f5sync.controller.pod_routes == contract.POD_ROUTES_CALICO

    # The block is released by node-2 and claimed by node-1: same route, new gateway.
    await calico.delete_block_affinity("node-2", "192.168.110.128/26")
    await calico.set_block_affinity("node-1", "192.168.110.128/26")
    await converges(
        f5.routes,
        {
            route("192.168.82.0/26"): ("192.168.82.0/26", "10.0.0.1"),
            route("192.168.110.128/26"): ("192.168.110.128/26", "10.0.0.1"),
        },
    )
