"""The whole product on a real kind cluster: what an engineer does with an environment, in order.

`envbuilder up --services web,worker,legacy-worker` on the default target (the node image
`make node-image` builds where no registry is reachable), then traffic from the host through
the F5 VIP, scaling, a worker pod lost mid-traffic, a configuration change, a second
environment beside the first, and `down` leaving nothing behind. The tests share one
environment and run in file order, like the session they describe.
"""

import concurrent.futures
import json
import secrets
import subprocess
import time

import httpx
import pytest

from tests.kind.conftest import Environment, run_envbuilder
from tests.support.leftovers import leftovers

pytestmark = [pytest.mark.kind, pytest.mark.docker, pytest.mark.slow]
GREEN_CHECKS = {
    "nodes-ready", "network-agents", "pod-network", "cluster-dns", "broker-round-trip",
    "health:web", "health:worker", "f5-pool:web", "f5-vip:web", "rpc:web->worker",
}


def work(environment: Environment, timeout: float = 30) -> dict:
    token = secrets.token_hex(4)
    answer = httpx.get(f"{environment.vip('web')}/work", params={"payload": token}, timeout=timeout)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert token in json.dumps(body["answer"]), body
    return body


def work_concurrently(environment: Environment, count: int, during=None) -> list[dict | Exception]:
    """`count` /work calls, 8 at a time, with `during()` run once they are under way."""
    def call(_: int) -> dict | Exception:
        try:
            return work(environment, timeout=60)
        except (AssertionError, httpx.HTTPError) as error:
            return error

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(call, index) for index in range(count)]
        if during:
            time.sleep(0.5)
            during()
        return [future.result() for future in futures]


def test_up_stands_up_a_green_environment(environment: Environment):
    smoke = run_envbuilder(environment.env, "smoke", environment.name, "--json")
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    results = {check["name"]: check["status"] for check in json.loads(smoke.stdout)["checks"]}
    assert GREEN_CHECKS <= set(results), results
    assert all(status == "passed" for status in results.values()), results


def test_the_vip_answers_work_through_the_broker_from_the_host(environment: Environment):
    body = work(environment)
    assert body["queue"] == "work"
    assert body["answer"]["worker"]


def test_the_f5_pool_is_the_ready_nodes_at_the_nodeport(environment: Environment):
    nodes = json.loads(environment.kubectl("get", "nodes", "-o", "json"))["items"]
    addresses = sorted(
        next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP") for node in nodes
    )
    service = json.loads(environment.kubectl("-n", environment.namespace, "get", "service", "web", "-o", "json"))
    node_port = service["spec"]["ports"][0]["nodePort"]
    members = environment.f5_pool_members("web")
    assert sorted(members) == sorted(f"{address}:{node_port}" for address in addresses)


def test_a_classic_worker_beside_the_cluster_serves_the_same_queue(environment: Environment):
    pods = set(environment.kubectl("-n", environment.namespace, "get", "pods", "-o", "name").split())
    workers = {work(environment)["answer"]["worker"] for _ in range(30)}
    classic = {worker for worker in workers if f"pod/{worker}" not in pods}
    assert classic, f"only pods answered: {workers}"


def test_scaling_web_to_three_keeps_the_traffic_flowing(environment: Environment):
    def scale() -> None:
        scaled = run_envbuilder(environment.env, "scale", environment.name, "web=3")
        assert scaled.returncode == 0, scaled.stdout + scaled.stderr

    results = work_concurrently(environment, 40, during=scale)
    failures = [result for result in results if isinstance(result, Exception)]
    assert failures == []
    ready = json.loads(environment.kubectl("-n", environment.namespace, "get", "deployment", "web", "-o", "json"))
    assert ready["status"].get("readyReplicas") == 3
    work(environment)


def test_a_worker_pod_deleted_mid_traffic_loses_no_request(environment: Environment):
    [victim, *_] = environment.kubectl(
        "-n", environment.namespace, "get", "pods", "-l", "app.kubernetes.io/name=worker", "-o", "name"
    ).split()

    def delete() -> None:
        environment.kubectl("-n", environment.namespace, "delete", victim, "--wait=false")

    results = work_concurrently(environment, 60, during=delete)
    assert [result for result in results if isinstance(result, Exception)] == []


def test_a_configuration_change_rolls_the_pods_and_the_vip_shows_it(environment: Environment):
    greeting = f"bonjour-{secrets.token_hex(2)}"
    updated = environment.up("--set", f"web.GREETING={greeting}")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    answer = httpx.get(environment.vip("web") + "/", timeout=30).json()
    assert answer["greeting"] == greeting


def test_a_second_environment_runs_beside_the_first(second_environment: Environment, environment: Environment):
    assert work(second_environment)["answer"]["worker"]
    assert work(environment)["answer"]["worker"]
    assert second_environment.vip("web") != environment.vip("web")
    second_environment.down_and_prove_nothing_is_left()
    assert work(environment)["answer"]["worker"]


def test_another_home_wanting_the_same_name_is_refused_and_touches_nothing(environment: Environment, tmp_path):
    other = Environment(name=environment.name, home=tmp_path / "another-home", services="web,worker")
    owner = (environment.home / "identity").read_text().strip()
    refused = other.up()
    assert refused.returncode == 2, refused.stdout + refused.stderr
    said = " ".join(refused.stderr.split())
    assert f"kind cluster {environment.cluster}: it belongs to another envbuilder home (owner {owner})" in said
    # Nothing of the second home: no record, port or stack, no object carrying its identity.
    assert leftovers(other.name, other.home, owner=(other.home / "identity").read_text().strip()) == {}
    assert run_envbuilder(other.env, "reap").returncode == 0
    assert run_envbuilder(other.env, "down", other.name).returncode == 2
    assert work(environment)["answer"]["worker"]


def test_down_leaves_no_container_volume_network_cluster_stack_or_port(environment: Environment):
    environment.down_and_prove_nothing_is_left()
    cluster = subprocess.run(["docker", "ps", "-a", "--filter", f"name={environment.cluster}"],
                             capture_output=True, text=True, check=True).stdout
    assert environment.cluster not in cluster
