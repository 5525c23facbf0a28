"""The whole suite at once against real servers on loopback (tests/smoke/local_environment.py)."""

import asyncio

import pytest

from f5sync.kubeconfig import load_kubeconfig
from envbuilder.smoke.kube import Kube
from envbuilder.smoke.result import CheckStatus
from envbuilder.smoke.services import rpc_check
from envbuilder.smoke.suite import run_smoke, smoke_checks
from envbuilder.smoke.target import ServiceTarget, SmokeTarget
from tests.smoke.conftest import run_one
from tests.smoke.fake_kube import FakeKube
from tests.smoke.local_environment import LocalEnvironment
from tests.support.parallel import on_one_worker

EXPECTED_CHECKS = [
    "nodes-ready",
    "network-agents",
    "pod-network",
    "cluster-dns",
    "broker-round-trip",
    "health:web",
    "f5-pool:web",
    "f5-vip:web",
    "web:greeting",
    "health:worker",
    "rpc:web->worker",
]

pytestmark = on_one_worker(__name__)  # the local environment is made once for the module


@pytest.fixture(scope="module")
def local(tmp_path_factory, rabbitmq):
    with LocalEnvironment(tmp_path_factory.mktemp("local-environment"), rabbitmq.amqp_url) as environment:
        yield environment


@pytest.mark.slow
def test_every_check_passes_on_a_working_environment(local):
    results = asyncio.run(run_smoke(local.target(), local.kube.transport()))
    assert [result.name for result in results] == EXPECTED_CHECKS
    failures = {
        result.name: (result.summary, result.diagnosis) for result in results if result.status is not CheckStatus.PASSED
    }
    assert failures == {}


@pytest.mark.slow
def test_with_the_worker_gone_the_round_trip_fails_showing_the_gateway_timeout_and_the_worker(local):
    local.stop_service("worker")  # last test on `local`: the environment stays broken
    target = local.target()
    kube = Kube(load_kubeconfig(target.kubeconfig), local.kube.transport())
    rpc = run_one(rpc_check(kube, target.namespace, target.rpc, local.vip, deadline=1.5))
    assert rpc.status is CheckStatus.FAILED
    assert "web /work through the F5 answered 504, expected 200" in rpc.summary
    assert "no answer on queue 'work' within 1s" in rpc.diagnosis
    assert "pod worker-1 on local-worker" in rpc.diagnosis


def test_checks_that_cannot_apply_are_listed_as_skipped_with_their_reason(tmp_path):
    fake = FakeKube()
    target = SmokeTarget(
        environment="existing",
        namespace="env-existing",
        kubeconfig=fake.kubeconfig(tmp_path),
        kube_context=None,
        node_count=None,
        f5=None,
        broker_url=None,
        services=(ServiceTarget("web", 8080, exposed=True),),
        rpc=None,
        probe_image=None,
    )
    checks = smoke_checks(target, Kube(load_kubeconfig(target.kubeconfig), fake.transport()))
    assert [check.name for check in checks] == [
        "nodes-ready",
        "network-agents",
        "pod-network",
        "cluster-dns",
        "broker-round-trip",
        "health:web",
        "f5:web",
    ]
    skipped = {
        check.name: run_one(check)
        for check in checks
        if check.name not in ("nodes-ready", "network-agents", "health:web")
    }
    assert {name: (result.status, result.summary) for name, result in skipped.items()} == {
        "pod-network": (CheckStatus.SKIPPED, "no service image on the nodes to run a probe pod with"),
        "cluster-dns": (CheckStatus.SKIPPED, "no service image on the nodes to run a probe pod with"),
        "broker-round-trip": (CheckStatus.SKIPPED, "no service needs the broker, or it is not reachable from the host"),
        "f5:web": (CheckStatus.SKIPPED, "the F5 is not reachable from the host on this target"),
    }
