"""Nodes and Calico against a stand-in Kubernetes API (no real control plane binaries on this machine yet)."""

from envbuilder.smoke.cluster import network_agents_check, nodes_ready_check
from envbuilder.smoke.result import CheckStatus
from tests.smoke.conftest import run_one
from tests.smoke.fake_kube import event, node, pod

CALICO = {"k8s-app": "calico-node"}


def test_nodes_ready_passes_when_the_expected_nodes_are_all_ready(kube):
    result = run_one(nodes_ready_check(kube, expected=2))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary == "2 nodes Ready: demo-control-plane, demo-worker"


def test_nodes_ready_fails_with_the_node_condition_and_its_events(kube, fake):
    fake.put(
        "/api/v1/nodes/demo-worker",
        node("demo-worker", "172.18.0.3", ready=False, message="Kubelet stopped posting node status."),
    )
    fake.events.append(
        event("default", "Node", "demo-worker", "NodeNotReady", "Node demo-worker status is now: NodeNotReady")
    )
    result = run_one(nodes_ready_check(kube, expected=2, deadline=0.5))
    assert result.status is CheckStatus.FAILED
    assert "1 of 2 nodes Ready, 2 expected" in result.summary
    assert "Ready=Unknown NodeStatusUnknown: Kubelet stopped posting node status." in result.diagnosis
    assert "NodeNotReady: Node demo-worker status is now: NodeNotReady" in result.diagnosis


def test_nodes_ready_fails_when_a_node_is_missing(kube):
    result = run_one(nodes_ready_check(kube, expected=3, deadline=0.5))
    assert result.status is CheckStatus.FAILED
    assert "2 of 2 nodes Ready, 3 expected" in result.summary


def _calico(fake, worker_pod):
    fake.put(
        "/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node",
        {
            "spec": {"selector": {"matchLabels": CALICO}},
            "status": {"desiredNumberScheduled": 2, "numberReady": 1, "numberUnavailable": 1},
        },
    )
    fake.put("/api/v1/namespaces/kube-system/pods/calico-node-a", pod("calico-node-a", "demo-control-plane", CALICO))
    fake.put("/api/v1/namespaces/kube-system/pods/calico-node-b", worker_pod)


def test_calico_passes_with_a_ready_calico_node_pod_on_every_node(kube, fake):
    _calico(fake, pod("calico-node-b", "demo-worker", CALICO))
    result = run_one(network_agents_check(kube, "calico-node"))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary == "calico-node Ready on all 2 nodes"


def test_calico_fails_with_the_crashing_pods_state_events_and_log(kube, fake):
    crashing = pod(
        "calico-node-b",
        "demo-worker",
        CALICO,
        ready=False,
        containerStatuses=[
            {
                "name": "main",
                "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            }
        ],
    )
    _calico(fake, crashing)
    fake.events.append(
        event(
            "kube-system",
            "Pod",
            "calico-node-b",
            "Unhealthy",
            "Readiness probe failed: calico/node is not ready: BIRD is not ready",
        )
    )
    fake.logs["/api/v1/namespaces/kube-system/pods/calico-node-b"] = (
        "starting\nfailed to reach the datastore: connection refused\n"
    )
    result = run_one(network_agents_check(kube, "calico-node", deadline=0.5))
    assert result.status is CheckStatus.FAILED
    assert "calico-node not Ready on demo-worker" in result.summary
    for evidence in (
        "desired 2, ready 1, unavailable 1",
        "container main waiting: CrashLoopBackOff back-off 40s",
        "restarted 4 times",
        "Readiness probe failed: calico/node is not ready",
        "| failed to reach the datastore: connection refused",
    ):
        assert evidence in result.diagnosis


def test_calico_fails_naming_a_node_without_any_calico_pod(kube, fake):
    _calico(fake, pod("calico-node-b", "demo-control-plane", CALICO))
    result = run_one(network_agents_check(kube, "calico-node", deadline=0.5))
    assert result.status is CheckStatus.FAILED
    assert "node demo-worker: no calico-node pod" in result.diagnosis
