"""When the F5 followed a change (smoke/convergence.py): the figures from the watch's samples, and the watch
itself against the mock F5 forwarding to servers on loopback, the Kubernetes API being fake_kube's stand-in."""

import time
from contextlib import ExitStack

import httpx
import pytest

from envbuilder.smoke.convergence import (
    ConvergenceWatch,
    Sample,
    _Samples,
    answered_from_all_at,
    describe,
    figures,
    settled_at,
)
from envbuilder.smoke.target import F5Access, ServiceTarget, SmokeTarget
from f5mock.server import run_in_thread
from f5sync.contract import pool_name
from tests.smoke.conftest import NAMESPACE
from tests.smoke.loopback import http_server
from tests.support.ports import free_port

OLD = {"10.244.1.4:8080": "web-direct-a", "10.244.1.5:8080": "web-direct-b"}
NEW = {**OLD, "10.244.1.9:8080": "web-direct-c"}


def samples(*timed: tuple[float, object]) -> list[Sample]:
    return [Sample(at, value) for at, value in timed]


def test_a_condition_settles_when_its_last_unbroken_run_of_samples_began():
    seen = samples((0.0, 1), (0.1, 2), (0.2, 1), (0.3, 2), (0.4, 2))
    assert settled_at(seen, lambda value: value == 2) == 0.3
    assert settled_at(seen, lambda value: value == 1) is None, "the last sample does not hold"


def test_a_failed_read_breaks_the_run():
    assert settled_at(samples((0.0, 2), (0.1, None), (0.2, 2)), lambda value: value == 2) == 0.2


def test_the_vip_has_followed_once_every_new_pod_answered_after_the_last_answer_from_elsewhere():
    pods = {"web-direct-c", "web-direct-d"}
    answers = samples(
        (0.5, '{"hostname": "web-direct-a"}'),  # an old pod
        (0.6, '{"hostname": "web-direct-c"}'),
        (0.7, None),  # a failed request counts against the new set too
        (0.8, '{"hostname": "web-direct-c"}'),
        (0.9, '{"hostname": "web-direct-c"}'),
        (1.0, '{"hostname": "web-direct-d"}'),
        (1.1, '{"hostname": "web-direct-c"}'),
    )
    assert answered_from_all_at(answers, pods) == 1.0
    assert answered_from_all_at(answers[:5], pods) is None, "web-direct-d never answered"


def test_a_scale_up_is_followed_when_the_new_pod_joins_the_answers():
    answers = samples((0.1, "web-direct-a"), (0.2, "web-direct-b"), (5.0, "web-direct-a"), (5.1, "web-direct-c"))
    assert answered_from_all_at(answers, set(NEW.values())) == 5.1


def pool(endpoints: dict[str, str], serving: bool = True) -> frozenset[tuple[str, bool]]:
    return frozenset((address, serving) for address in endpoints)


def test_figures_of_a_scale_up_count_from_the_changes_start():
    watched = _Samples(
        endpoints=samples((0.0, OLD), (9.0, OLD), (9.5, NEW), (9.6, NEW)),
        pool=samples((0.0, pool(OLD)), (9.5, pool(OLD)), (9.7, pool(NEW, serving=False)), (9.8, pool(NEW))),
        vip=samples((0.1, "web-direct-a"), (0.2, "web-direct-b"), (9.9, "web-direct-c")),
        rolled_out=True, replicas=3,
    )
    result = figures("scale up", "web-direct", watched)
    assert (result.pods, result.pods_seconds, result.pool_seconds, result.vip_seconds) == (3, 9.5, 9.8, 9.9)
    assert result.converged and result.note == ""
    assert round(result.after_pods(result.pool_seconds), 3) == 0.3


def test_figures_say_what_did_not_follow():
    watched = _Samples(endpoints=samples((9.5, NEW)), pool=samples((9.5, pool(OLD))),
                       vip=samples((9.6, "web-direct-a")), rolled_out=True, replicas=3)
    result = figures("scale up", "web-direct", watched)
    assert (result.pool_seconds, result.vip_seconds, result.converged) == (None, None, False)
    assert result.note == "the pool and the VIP did not follow within 60 s"


def test_no_figures_before_the_deployment_rolled_out_to_its_replicas():
    watched = _Samples(endpoints=samples((9.5, OLD)), rolled_out=True, replicas=3)
    result = figures("scale up", "web-direct", watched)
    assert result.pods_seconds is None
    assert result.note == "the Deployment did not roll out to 3 ready pods (2 ready endpoints)"


@pytest.mark.slow
def test_the_watch_times_a_scale_up_through_the_mock_f5_forwarding_to_pods_on_loopback(fake, tmp_path):
    """The "pods" are HTTP servers on 127.0.0.1 and 127.0.0.2 answering their names; the change adds the second
    to the Service's endpoints, and f5-sync's part (adding it to the pool) follows 0.5 s later."""
    with ExitStack() as stack:
        first = stack.enter_context(http_server({"/": (200, '{"hostname": "web-direct-a"}')}, host="127.0.0.1"))
        port = int(first.rsplit(":", 1)[1])
        stack.enter_context(http_server({"/": (200, '{"hostname": "web-direct-b"}')}, host="127.0.0.2", port=port))
        f5 = stack.enter_context(run_in_thread(tmp_path / "f5", username="admin", password="watch",
                                               bind_virtuals_to="127.0.0.1"))
        access = F5Access(f5.url, "admin", "watch")
        vip = f"http://127.0.0.1:{free_port()}"
        service = ServiceTarget("web-direct", port=8080, exposed=True, f5_mode="cluster", vip_url=vip)
        pool = pool_name(NAMESPACE, "web-direct", 8080)
        api = stack.enter_context(httpx.Client(base_url=f5.url, auth=("admin", "watch"), verify=False, timeout=5))
        api.post("/mgmt/tm/ltm/pool", json={"name": pool, "partition": "Common"}).raise_for_status()
        api.post(f"/mgmt/tm/ltm/pool/~Common~{pool}/members", json={"name": f"127.0.0.1:{port}"}).raise_for_status()
        api.post("/mgmt/tm/ltm/virtual", json={"name": "web-direct", "destination": vip.removeprefix("http://"),
                                               "pool": f"/Common/{pool}"}).raise_for_status()
        fake.put(f"/api/v1/namespaces/{NAMESPACE}/services/web-direct",
                 {"spec": {"ports": [{"name": "http", "port": 8080, "targetPort": port}]}})
        scaled_to(fake, port, ["127.0.0.1"], replicas=1)
        target = SmokeTarget("demo", NAMESPACE, fake.kubeconfig(tmp_path), None, 2, access, None, (service,), None, None)

        with ConvergenceWatch(target, service, "scale up", fake.transport()) as watch:
            time.sleep(0.5)
            scaled_to(fake, port, ["127.0.0.1", "127.0.0.2"], replicas=2)
            time.sleep(0.5)  # f5-sync's part
            api.post(f"/mgmt/tm/ltm/pool/~Common~{pool}/members", json={"name": f"127.0.0.2:{port}"}).raise_for_status()

    result = watch.result
    assert result is not None and result.converged, (result, describe(watch.samples))
    assert (result.operation, result.service, result.pods) == ("scale up", "web-direct", 2)
    # Seen no sooner than they happened (0.5 s and 1 s into the change), and soon after on a loaded machine.
    assert 0.5 <= result.pods_seconds < result.pool_seconds
    assert 1.0 <= result.pool_seconds < 5 and 1.0 <= result.vip_seconds < 5


def scaled_to(fake, port: int, addresses: list[str], replicas: int) -> None:
    """The Deployment rolled out to `replicas` ready pods, the Service's endpoints those at `addresses`."""
    fake.put(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/web-direct", {
        "metadata": {"generation": replicas},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": replicas, "replicas": replicas, "updatedReplicas": replicas,
                   "availableReplicas": replicas},
    })
    fake.put(f"/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices/web-direct-abcde", {
        "metadata": {"labels": {"kubernetes.io/service-name": "web-direct"}},
        "ports": [{"name": "http", "port": port}],
        "endpoints": [{"addresses": [address], "conditions": {"ready": True},
                       "targetRef": {"name": f"web-direct-{'ab'[index]}"}} for index, address in enumerate(addresses)],
    })
