"""Pod network and DNS probes against a stand-in Kubernetes API whose `kubelet` hook plays the probe pods.

The probe pods' own scripts (an HTTP server and a fetch, a name lookup) are exercised for real in
test_probe_scripts.py; here the question is what the checks conclude from the pods' outcomes.
"""

from envbuilder.smoke.probes import PROBE_LABEL, dns_check, pod_network_check
from envbuilder.smoke.result import CheckStatus
from tests.smoke.conftest import NAMESPACE, run_one
from tests.smoke.fake_kube import event, pod

IMAGE = "envbuilder/web:abc123"


def _kubelet(
    fake, client_phase="Succeeded", client_log="reached http://192.168.1.5:8080/ HTTP 200\n", dns_log="10.96.0.1\n"
):
    def play(path, created):
        purpose = created["metadata"]["labels"][PROBE_LABEL]
        status = {"server": {"phase": "Running", "podIP": "192.168.1.5"}}.get(purpose, {"phase": client_phase})
        created["status"] = status
        fake.logs[path] = {"client": client_log, "dns": dns_log}.get(purpose, "")
        if status["phase"] == "Failed":
            created["status"]["containerStatuses"] = [
                {"name": "probe", "state": {"terminated": {"reason": "Error", "exitCode": 1}}}
            ]

    fake.kubelet = play


def test_pod_network_passes_when_a_pod_on_the_other_node_reaches_the_server_pod(kube, fake):
    _kubelet(fake)
    result = run_one(pod_network_check(kube, NAMESPACE, IMAGE))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary == "pod-to-pod HTTP across nodes: demo-worker -> demo-control-plane"
    created = [path for path in fake.deleted if "/pods/smoke-" in path]
    assert len(created) == 2, "both probe pods are deleted afterwards"


def test_pod_network_probe_pods_are_pinned_to_nodes_and_bounded_in_time(kube, fake):
    seen = []
    _kubelet(fake)
    play = fake.kubelet
    fake.kubelet = lambda path, created: (seen.append(created), play(path, created))
    run_one(pod_network_check(kube, NAMESPACE, IMAGE, deadline=20))
    assert [p["spec"]["nodeName"] for p in seen] == ["demo-control-plane", "demo-worker"]
    assert all(p["spec"]["restartPolicy"] == "Never" and p["spec"]["activeDeadlineSeconds"] == 50 for p in seen)
    assert all(p["spec"]["containers"][0]["image"] == IMAGE for p in seen)


def test_pod_network_fails_with_the_client_log_and_the_server_pod_state(kube, fake):
    _kubelet(fake, client_phase="Failed", client_log="attempt 20 http://192.168.1.5:8080/ URLError timed out\n")
    fake.events.append(event(NAMESPACE, "Pod", "smoke-client-2", "Started", "Started container probe", "Normal"))
    result = run_one(pod_network_check(kube, NAMESPACE, IMAGE, deadline=5))
    assert result.status is CheckStatus.FAILED
    assert result.summary.startswith(
        "pod on demo-worker cannot reach http://192.168.1.5:8080/: probe pod smoke-client-2 ended Failed"
    )
    assert "container probe terminated: Error exit 1" in result.diagnosis
    assert "| attempt 20 http://192.168.1.5:8080/ URLError timed out" in result.diagnosis
    assert "Started container probe" in result.diagnosis
    assert "the server pod:\npod smoke-server-1 on demo-control-plane: Running" in result.diagnosis
    assert len([path for path in fake.deleted if "/pods/smoke-" in path]) == 2


def test_pod_network_at_its_deadline_says_what_the_probe_pod_was_waiting_for(kube, fake):
    def stuck(path, created):
        created["status"] = {"phase": "Pending"}
        fake.events.append(
            event(NAMESPACE, "Pod", path.rsplit("/", 1)[1], "ErrImageNeverPull", f"image {IMAGE} is not present")
        )

    fake.kubelet = stuck
    result = run_one(pod_network_check(kube, NAMESPACE, IMAGE, deadline=0.5))
    assert result.status is CheckStatus.FAILED
    assert "probe pod smoke-server-1 is Pending, waiting for Running" in result.summary
    assert f"ErrImageNeverPull: image {IMAGE} is not present" in result.diagnosis
    assert fake.deleted == [f"/api/v1/namespaces/{NAMESPACE}/pods/smoke-server-1"], "deleted even at the deadline"


def test_dns_passes_when_a_pod_resolves_kubernetes_default_to_the_api_service_ip(kube, fake):
    fake.put("/api/v1/namespaces/default/services/kubernetes", {"spec": {"clusterIP": "10.96.0.1"}})
    _kubelet(fake)
    result = run_one(dns_check(kube, NAMESPACE, IMAGE))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary == "kubernetes.default -> 10.96.0.1 from a pod"


def test_dns_fails_with_the_lookup_error_and_coredns_state(kube, fake):
    fake.put("/api/v1/namespaces/default/services/kubernetes", {"spec": {"clusterIP": "10.96.0.1"}})
    fake.put(
        "/api/v1/namespaces/kube-system/pods/coredns-1",
        pod("coredns-1", "demo-control-plane", {"k8s-app": "kube-dns"}, ready=False, phase="Pending"),
    )
    fake.events.append(
        event(
            "kube-system",
            "Pod",
            "coredns-1",
            "FailedScheduling",
            "0/2 nodes are available: 2 node(s) had untolerated taint",
        )
    )
    _kubelet(fake, client_phase="Failed", dns_log="socket.gaierror: [Errno -3] Temporary failure in name resolution\n")
    result = run_one(dns_check(kube, NAMESPACE, IMAGE, deadline=5))
    assert result.status is CheckStatus.FAILED
    assert "kubernetes.default does not resolve in a pod" in result.summary
    assert "Temporary failure in name resolution" in result.diagnosis
    assert "CoreDNS:\npod coredns-1 on demo-control-plane: Pending" in result.diagnosis
    assert "FailedScheduling: 0/2 nodes are available" in result.diagnosis


def test_dns_fails_when_the_answer_is_not_the_api_service_ip(kube, fake):
    fake.put("/api/v1/namespaces/default/services/kubernetes", {"spec": {"clusterIP": "10.96.0.1"}})
    _kubelet(fake, dns_log="93.184.216.34\n")
    result = run_one(dns_check(kube, NAMESPACE, IMAGE))
    assert result.status is CheckStatus.FAILED
    assert result.summary == "kubernetes.default resolved to '93.184.216.34', not the API Service's 10.96.0.1"
