"""Health, catalog extra checks, the VIP and the web -> worker round trip, against real HTTP servers on loopback.

The Kubernetes API (whose service proxy forwards to those servers) is the stand-in of fake_kube.py.
"""

import json
from urllib.parse import parse_qs

import pytest

from envbuilder.smoke.f5 import vip_check
from envbuilder.smoke.result import CheckStatus
from envbuilder.smoke.services import extra_check, health_check, rpc_check
from envbuilder.smoke.target import ExtraCheck, F5Access, RpcRoute, ServiceTarget
from tests.smoke.conftest import NAMESPACE, run_one
from tests.smoke.fake_kube import event, pod
from tests.smoke.loopback import http_server
from tests.support.ports import free_port

WEB = ServiceTarget(name="web", port=8080, health_path="/healthz", exposed=True)
UNREACHABLE_F5 = F5Access(f"https://127.0.0.1:{free_port()}", "admin", "secret")


def _web_pods(fake, ready=True):
    labels = {"app.kubernetes.io/name": "web"}
    fake.put(
        f"/api/v1/namespaces/{NAMESPACE}/services/web",
        {"spec": {"selector": labels, "ports": [{"port": 8080, "nodePort": 30080}]}},
    )
    fake.put(f"/api/v1/namespaces/{NAMESPACE}/pods/web-1", pod("web-1", "demo-worker", labels, ready=ready))
    fake.logs[f"/api/v1/namespaces/{NAMESPACE}/pods/web-1"] = (
        "INFO web broker connection lost: ConnectionRefusedError\n"
    )
    fake.events.append(
        event(NAMESPACE, "Pod", "web-1", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")
    )


def _worker_pods(fake):
    labels = {"app.kubernetes.io/name": "worker"}
    fake.put(
        f"/api/v1/namespaces/{NAMESPACE}/services/worker", {"spec": {"selector": labels, "ports": [{"port": 8081}]}}
    )
    fake.put(f"/api/v1/namespaces/{NAMESPACE}/pods/worker-1", pod("worker-1", "demo-worker", labels))
    fake.logs[f"/api/v1/namespaces/{NAMESPACE}/pods/worker-1"] = "INFO worker waiting for messages on 'work'\n"


def test_health_passes_through_the_api_server_service_proxy(kube, fake):
    with http_server({"/healthz": (200, "ok: connected to the broker\n")}) as url:
        fake.service_backends["web"] = url
        result = run_one(health_check(kube, NAMESPACE, WEB))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary == "web /healthz answered 200"


def test_health_fails_with_the_answer_and_the_pods_events_and_log(kube, fake):
    _web_pods(fake, ready=False)
    with http_server({"/healthz": (503, "unavailable: not connected to the broker\n")}) as url:
        fake.service_backends["web"] = url
        result = run_one(health_check(kube, NAMESPACE, WEB, deadline=0.5))
    assert result.status is CheckStatus.FAILED
    assert "web /healthz answered 503, expected 200" in result.summary
    for evidence in (
        "-> HTTP 503",
        "body: unavailable: not connected to the broker",
        "pod web-1 on demo-worker: Running",
        "condition Ready=False ContainersNotReady",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
        "| INFO web broker connection lost: ConnectionRefusedError",
    ):
        assert evidence in result.diagnosis


def test_health_fails_when_the_service_has_no_endpoints(kube, fake):
    _web_pods(fake, ready=False)
    result = run_one(health_check(kube, NAMESPACE, WEB, deadline=0.5))
    assert result.status is CheckStatus.FAILED
    assert "no endpoints available for service" in result.diagnosis


@pytest.mark.parametrize(
    ("expectation", "passes", "problem"),
    [
        (ExtraCheck("greeting", "/", 200, "hello"), True, ""),
        (ExtraCheck("greeting", "/", 200, "bonjour"), False, "answered 200 without 'bonjour' in its body"),
        (ExtraCheck("admin", "/admin", 403), False, "answered 404, expected 403"),
    ],
)
def test_catalog_extra_checks_compare_status_and_body(kube, fake, expectation, passes, problem):
    _web_pods(fake)
    with http_server({"/": (200, "hello from web-1\n")}) as url:
        fake.service_backends["web"] = url
        result = run_one(extra_check(kube, NAMESPACE, WEB, expectation, deadline=0.5))
    assert result.name == f"web:{expectation.name}"
    assert (result.status is CheckStatus.PASSED) == passes, result.diagnosis
    assert problem in result.summary


def test_vip_passes_when_the_virtual_server_answers_the_health_path(kube):
    with http_server({"/healthz": (200, "ok\n")}) as vip:
        result = run_one(vip_check(kube, NAMESPACE, UNREACHABLE_F5, WEB, vip))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary.endswith("/healthz answered 200 through the F5")


def test_vip_fails_when_nothing_listens_with_the_pool_and_pods_as_evidence(kube, fake):
    _web_pods(fake)
    vip = f"http://127.0.0.1:{free_port()}"
    result = run_one(vip_check(kube, NAMESPACE, UNREACHABLE_F5, WEB, vip, deadline=1))
    assert result.status is CheckStatus.FAILED
    assert f"nothing answers at {vip}/healthz: ConnectError" in result.summary
    assert f"pool /Common/{NAMESPACE}_web_8080: F5 API at {UNREACHABLE_F5.api_url} did not answer" in result.diagnosis
    assert "pod web-1 on demo-worker" in result.diagnosis


def _web_front(worker_answers: bool):
    def work(query: str) -> tuple[int, str]:
        payload = parse_qs(query).get("payload", [""])[0]
        if not worker_answers:
            return 504, json.dumps({"error": "no answer on queue 'work' within 5s"})
        return 200, json.dumps({"queue": "work", "answer": {"payload": payload, "result": payload.upper()}})

    return {"/work": work}


def test_rpc_passes_when_the_answer_echoes_this_requests_token(kube):
    with http_server(_web_front(worker_answers=True)) as vip:
        result = run_one(rpc_check(kube, NAMESPACE, RpcRoute("web", "/work", "worker"), vip))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.name == "rpc:web->worker"


def test_rpc_fails_with_the_gateway_timeout_and_both_services_pods(kube, fake):
    _web_pods(fake)
    _worker_pods(fake)
    with http_server(_web_front(worker_answers=False)) as vip:
        # Long enough for a loaded machine's first answer: the check asks again until then.
        result = run_one(rpc_check(kube, NAMESPACE, RpcRoute("web", "/work", "worker"), vip, deadline=3))
    assert result.status is CheckStatus.FAILED
    assert "web /work through the F5 answered 504, expected 200" in result.summary
    assert "no answer on queue 'work' within 5s" in result.diagnosis
    assert "| INFO worker waiting for messages on 'work'" in result.diagnosis
    assert "pod web-1" in result.diagnosis


def test_rpc_is_skipped_when_the_front_is_not_exposed(kube):
    result = run_one(rpc_check(kube, NAMESPACE, RpcRoute("web", "/work", "worker"), None))
    assert (result.status, result.summary) == (CheckStatus.SKIPPED, "web is not exposed through the F5")
