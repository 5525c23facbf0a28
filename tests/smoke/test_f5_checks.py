"""The F5 pool and VIP checks against the project's real mock F5, forwarding to real HTTP servers.

The "nodes" are 127.0.0.1 and 127.0.0.2, each with an HTTP server on the same port (the NodePort);
the Kubernetes API listing them is the stand-in of fake_kube.py.
"""

from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from f5mock.server import run_in_thread
from envbuilder.smoke.f5 import pool_check, vip_check
from envbuilder.smoke.result import CheckStatus
from envbuilder.smoke.target import F5Access, ServiceTarget
from tests.smoke.conftest import NAMESPACE, run_one
from tests.smoke.fake_kube import node
from tests.smoke.loopback import http_server
from tests.support.ports import free_port

pytestmark = pytest.mark.slow

POOL = f"{NAMESPACE}_web_8080"
WEB = ServiceTarget(name="web", port=8080, health_path="/healthz", exposed=True)


class Setup:
    def __init__(self, f5: F5Access, node_port: int, vip: str) -> None:
        self.f5, self.node_port, self.vip = f5, node_port, vip
        self.api = httpx.Client(base_url=f5.api_url, auth=(f5.username, f5.password), verify=False, timeout=5)

    def pool(self, *members: str) -> None:
        self.api.post("/mgmt/tm/ltm/pool", json={"name": POOL, "partition": "Common"}).raise_for_status()
        for member in members:
            self.api.post(f"/mgmt/tm/ltm/pool/~Common~{POOL}/members", json={"name": member}).raise_for_status()
        self.api.post(
            "/mgmt/tm/ltm/virtual",
            json={
                "name": f"{NAMESPACE}_web",
                "destination": self.vip.removeprefix("http://"),
                "pool": f"/Common/{POOL}",
            },
        ).raise_for_status()


@pytest.fixture
def setup(fake, tmp_path, request) -> Iterator[Setup]:
    health = getattr(request, "param", (200, "ok\n"))
    with ExitStack() as stack:
        first = stack.enter_context(http_server({"/healthz": health}, host="127.0.0.1"))
        node_port = int(first.rsplit(":", 1)[1])
        stack.enter_context(http_server({"/healthz": health}, host="127.0.0.2", port=node_port))
        f5 = stack.enter_context(
            run_in_thread(tmp_path / "f5", username="admin", password="smoke", bind_virtuals_to="127.0.0.1")
        )
        fake.objects.clear()
        fake.put("/api/v1/nodes/node-a", node("node-a", "127.0.0.1"))
        fake.put("/api/v1/nodes/node-b", node("node-b", "127.0.0.2"))
        fake.put(
            f"/api/v1/namespaces/{NAMESPACE}/services/web",
            {"spec": {"type": "NodePort", "ports": [{"port": 8080, "nodePort": node_port}]}},
        )
        yield Setup(F5Access(f5.url, "admin", "smoke"), node_port, f"http://127.0.0.1:{free_port()}")


def test_pool_passes_when_it_lists_every_ready_node_on_the_node_port(kube, setup):
    setup.pool(f"127.0.0.1:{setup.node_port}", f"127.0.0.2:{setup.node_port}")
    result = run_one(pool_check(kube, NAMESPACE, setup.f5, WEB))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary == f"pool /Common/{POOL} has the 2 Ready nodes on NodePort {setup.node_port}"


def test_pool_fails_showing_the_pool_as_it_stands_next_to_the_nodes(kube, setup):
    setup.pool(f"127.0.0.1:{setup.node_port}", f"127.0.0.9:{setup.node_port}")
    result = run_one(pool_check(kube, NAMESPACE, setup.f5, WEB, deadline=0.6))
    assert result.status is CheckStatus.FAILED
    assert f"missing 127.0.0.2:{setup.node_port}; unexpected 127.0.0.9:{setup.node_port}" in result.summary
    assert f"127.0.0.9:{setup.node_port}" in result.diagnosis.split("Ready, schedulable nodes")[0]
    assert "node-b 127.0.0.2" in result.diagnosis
    assert "f5-sync keeps the pool in step" in result.diagnosis


def test_pool_fails_when_f5_sync_never_created_it_listing_the_pools_there_are(kube, setup):
    setup.api.post("/mgmt/tm/ltm/pool", json={"name": "someone-elses", "partition": "Common"}).raise_for_status()
    result = run_one(pool_check(kube, NAMESPACE, setup.f5, WEB, deadline=0.6))
    assert result.status is CheckStatus.FAILED
    assert f"F5 pool /Common/{POOL} does not exist" in result.summary
    assert "pools on the F5: /Common/someone-elses" in result.diagnosis


def test_pool_fails_on_wrong_credentials_with_the_f5s_answer(kube, setup):
    wrong = F5Access(setup.f5.api_url, "admin", "not-the-password")
    result = run_one(pool_check(kube, NAMESPACE, wrong, WEB, deadline=0.6))
    assert result.status is CheckStatus.FAILED
    assert "F5 API answered 401" in result.summary
    assert "Authorization failed" in result.diagnosis


def test_vip_passes_through_the_mock_f5_to_a_node(kube, setup):
    setup.pool(f"127.0.0.1:{setup.node_port}", f"127.0.0.2:{setup.node_port}")
    result = run_one(vip_check(kube, NAMESPACE, setup.f5, WEB, setup.vip))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary == f"{setup.vip}/healthz answered 200 through the F5"


@pytest.mark.parametrize("setup", [(503, "unavailable: not connected to the broker\n")], indirect=True)
def test_vip_fails_with_the_answer_and_the_pool_as_it_stands(kube, setup):
    setup.pool(f"127.0.0.1:{setup.node_port}", f"127.0.0.2:{setup.node_port}")
    result = run_one(vip_check(kube, NAMESPACE, setup.f5, WEB, setup.vip, deadline=0.6))
    assert result.status is CheckStatus.FAILED
    assert result.summary.endswith(f"{setup.vip}/healthz answered 503 through the F5")
    assert "body: unavailable: not connected to the broker" in result.diagnosis
    assert f"pool /Common/{POOL}:\n  127.0.0.1:{setup.node_port}" in result.diagnosis


CLUSTER_WEB = ServiceTarget(name="web", port=8080, exposed=True, f5_mode="cluster")


def _endpoint_slice(fake, *endpoints: tuple[str, bool]) -> None:
    fake.put(
        f"/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices/web-abcde",
        {
            "metadata": {"labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080}],
            "endpoints": [{"addresses": [address], "conditions": {"ready": ready}} for address, ready in endpoints],
        },
    )


def test_a_cluster_mode_pool_passes_with_exactly_the_ready_pod_endpoints(kube, fake, setup):
    fake.put(f"/api/v1/namespaces/{NAMESPACE}/services/web", {"spec": {"ports": [{"name": "http", "port": 8080}]}})
    _endpoint_slice(fake, ("192.168.1.10", True), ("192.168.1.11", True), ("192.168.1.12", False))
    setup.pool("192.168.1.10:8080", "192.168.1.11:8080")
    result = run_one(pool_check(kube, NAMESPACE, setup.f5, CLUSTER_WEB))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary == f"pool /Common/{POOL} has the 2 ready pod endpoints"


def test_a_cluster_mode_pool_holding_a_pod_that_is_not_ready_fails_listing_the_ready_ones(kube, fake, setup):
    fake.put(f"/api/v1/namespaces/{NAMESPACE}/services/web", {"spec": {"ports": [{"name": "http", "port": 8080}]}})
    _endpoint_slice(fake, ("192.168.1.10", True), ("192.168.1.12", False))
    setup.pool("192.168.1.10:8080", "192.168.1.12:8080")
    result = run_one(pool_check(kube, NAMESPACE, setup.f5, CLUSTER_WEB, deadline=0.6))
    assert result.status is CheckStatus.FAILED
    assert "out of step with the 1 ready pod endpoints: unexpected 192.168.1.12:8080" in result.summary
    assert "ready pod endpoints of web:\n  192.168.1.10:8080" in result.diagnosis
