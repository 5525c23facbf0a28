"""The whole product on a real kind cluster: what an engineer does with an environment, in order.

`envbuilder up --services web,worker,legacy-worker,web-direct` on the default target (the node
image `make node-image` builds where no registry is reachable), then traffic from the host through
the F5 VIP (web's is a fastL4 virtual, forwarded by the F5 container's kernel), scaling, a worker
pod lost mid-traffic, the F5 reaching pods directly (web-direct, in cluster mode, through the routes
f5-sync writes), a configuration change, a second environment beside the first (`envbuilder verify`
on the `bgp` profile, its reports and F5 convergence figures, on a Docker network of its own: it
cannot reach the first one's F5), a new revision replacing the F5 container, and `down` leaving
nothing behind. The tests share one
environment and run in file order, like the session they describe.
"""

import concurrent.futures
import json
import secrets
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from envbuilder.naming import REGISTRY_CONTAINER, network_name
from envbuilder.polling import wait_until
from envbuilder.reports import HTML_FILE, JSON_FILE, JUNIT_FILE
from envbuilder.reports.json_report import run_from_json
from envbuilder.spec.catalog import F5_API_PORT
from f5sync.contract import pool_name
from tests.kind.conftest import ENVBUILDER, WEB_PORT, Environment, run_envbuilder
from tests.support.leftovers import leftovers

pytestmark = [pytest.mark.kind, pytest.mark.docker, pytest.mark.slow]
GREEN_CHECKS = {
    "nodes-ready", "network-agents", "pod-network", "cluster-dns", "broker-round-trip",
    "health:web", "health:worker", "f5-pool:web", "f5-vip:web", "rpc:web->worker",
    "health:web-direct", "f5-pool:web-direct", "f5-vip:web-direct",
}


def work(environment: Environment, timeout: float = 30, service: str = "web") -> dict:
    token = secrets.token_hex(4)
    answer = httpx.get(f"{environment.vip(service)}/work", params={"payload": token}, timeout=timeout)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert token in json.dumps(body["answer"]), body
    return body


def work_concurrently(environment: Environment, count: int, during=None, service: str = "web") -> list[dict | Exception]:
    """`count` /work calls, 8 at a time, with `during()` run once they are under way."""
    def call(_: int) -> dict | Exception:
        try:
            return work(environment, timeout=60, service=service)
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


def test_webs_vip_is_a_fastl4_virtual_the_f5_forwards_in_its_kernel(environment: Environment):
    pool = pool_name(environment.namespace, "web", WEB_PORT)
    [virtual] = [item for item in environment.f5_get("/mgmt/tm/ltm/virtual")["items"]
                 if item.get("pool", "").endswith(f"/{pool}")]
    path = f"/mgmt/tm/ltm/virtual/{virtual['fullPath'].replace('/', '~')}"
    assert [profile["fullPath"] for profile in environment.f5_get(f"{path}/profiles")["items"]] == ["/Common/fastL4"]

    def stats() -> dict:
        (nested,) = environment.f5_get(f"{path}/stats")["entries"].values()
        return nested["nestedStats"]["entries"]

    before = stats()["clientside.totConns"]["value"]
    for _ in range(3):
        work(environment)  # a new connection each, through the VIP
    # The kernel's rule counters, which the F5 reads again at most every half second, as BIG-IP's stats lag too.
    after = wait_until(lambda: (seen := stats())["clientside.totConns"]["value"] >= before + 3 and seen,
                       timeout=10, what=f"the virtual's connections to reach {before + 3}")
    assert after["status.statusReason"]["description"] == (
        "The virtual server is available (fastL4 forwarded by the kernel)"
    )


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


def ready_pod_members(environment: Environment, service: str, port: int) -> list[str]:
    pods = json.loads(environment.kubectl(
        "-n", environment.namespace, "get", "pods", "-l", f"app.kubernetes.io/name={service}", "-o", "json"
    ))["items"]
    ready = [pod for pod in pods if not pod["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))]
    return sorted(f"{pod['status']['podIP']}:{port}" for pod in ready)


def pool_becomes(environment: Environment, service: str, expected, timeout: float = 60) -> list[str]:
    """Waits for the F5 pool to hold `expected()` (re-read each time); returns the members seen last."""
    seen: list[str] = []

    def as_expected() -> bool:
        seen[:] = environment.f5_pool_members(service)
        return sorted(seen) == expected()

    wait_until(as_expected, timeout=timeout, what=f"the pool of {service} to become {expected()}", interval=0.5,
               diagnosis=lambda: f"the pool held {seen}")
    return seen


def test_in_cluster_mode_the_f5_reaches_the_pods_through_routes_to_each_node(environment: Environment):
    nodes = json.loads(environment.kubectl("get", "nodes", "-o", "json"))["items"]
    internal_ip = {n["metadata"]["name"]: next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
                   for n in nodes}
    routes = {item["network"]: item["gw"] for item in environment.f5_get("/mgmt/tm/net/route").get("items", [])}
    assert routes == {n["spec"]["podCIDR"]: internal_ip[n["metadata"]["name"]] for n in nodes}
    members = pool_becomes(environment, "web-direct", lambda: ready_pod_members(environment, "web-direct", 8080))
    assert len(members) == 2
    answers = [work(environment, service="web-direct") for _ in range(10)]
    assert all(answer["answer"]["worker"] for answer in answers)


def test_scaling_a_cluster_mode_service_changes_its_pool_under_traffic(environment: Environment):
    def scale() -> None:
        scaled = run_envbuilder(environment.env, "scale", environment.name, "web-direct=3")
        assert scaled.returncode == 0, scaled.stdout + scaled.stderr

    results = work_concurrently(environment, 40, during=scale, service="web-direct")
    assert [result for result in results if isinstance(result, Exception)] == []
    members = pool_becomes(environment, "web-direct", lambda: ready_pod_members(environment, "web-direct", 8080))
    assert len(members) == 3


def test_a_cluster_mode_pod_deleted_leaves_the_pool_before_its_connections_fail(environment: Environment):
    [victim, *_] = environment.kubectl(
        "-n", environment.namespace, "get", "pods", "-l", "app.kubernetes.io/name=web-direct", "-o", "name"
    ).split()
    address = environment.kubectl("-n", environment.namespace, "get", victim, "-o", "jsonpath={.status.podIP}")

    def delete() -> None:
        environment.kubectl("-n", environment.namespace, "delete", victim, "--wait=false")

    results = work_concurrently(environment, 60, during=delete, service="web-direct")
    assert [result for result in results if isinstance(result, Exception)] == []
    members = pool_becomes(environment, "web-direct", lambda: ready_pod_members(environment, "web-direct", 8080))
    assert f"{address}:8080" not in members


def test_a_configuration_change_rolls_the_pods_and_the_vip_shows_it(environment: Environment):
    greeting = f"bonjour-{secrets.token_hex(2)}"
    updated = environment.up("--set", f"web.GREETING={greeting}")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    answer = httpx.get(environment.vip("web") + "/", timeout=30).json()
    assert answer["greeting"] == greeting


def pod_uids(environment: Environment) -> dict[str, str]:
    """Pod name -> UID of every pod of the environment that is not on its way out."""
    pods = json.loads(environment.kubectl("-n", environment.namespace, "get", "pods", "-o", "json"))["items"]
    return {pod["metadata"]["name"]: pod["metadata"]["uid"] for pod in pods if not pod["metadata"].get("deletionTimestamp")}


def container_id(name: str) -> str:
    return subprocess.run(["docker", "inspect", "--format", "{{.Id}}", name],
                          capture_output=True, text=True, check=True).stdout.strip()


def served_greeting(environment: Environment, suffix: str, timeout: float = 60) -> dict:
    """The VIP's answer once ten in a row come from code whose greeting ends with `suffix`."""
    deadline = time.monotonic() + timeout
    streak, answer = 0, {}
    while streak < 10:
        answer = httpx.get(environment.vip("web") + "/", timeout=30).json()
        streak = streak + 1 if answer["greeting"].endswith(suffix) else 0
        assert time.monotonic() < deadline, f"the VIP still answers {answer}, not code ending {suffix!r}"
        time.sleep(0.2 if streak else 1)
    return answer


def test_each_edit_of_a_service_is_served_and_an_unchanged_tree_rebuilds_and_rolls_nothing(
    environment: Environment, working_copy
):
    """An engineer's loop on a changed tree: edit web, `up`, edit it again, `up`, then `up` with no change."""
    source = working_copy / "fixtures/services/web/web.py"
    original = source.read_text()
    greeting_line = '"greeting": settings.greeting,'
    assert greeting_line in original
    untouched = {name: uid for name, uid in pod_uids(environment).items() if not name.startswith("web")}
    f5 = container_id(environment.f5_container)

    served_images: list[str] = []
    for marker in ("-edit-one", "-edit-two"):
        source.write_text(original.replace(greeting_line, f'"greeting": settings.greeting + "{marker}",'))
        behind = environment.status(tree=working_copy)["not_the_working_tree"]
        assert set(behind) == {"web", "web-direct"}, behind

        updated = environment.up("--no-smoke", tree=working_copy)
        assert updated.returncode == 0, updated.stdout + updated.stderr

        status = environment.status(tree=working_copy)
        assert served_greeting(environment, marker)["revision"] == status["images"]["web"].rpartition(":")[2]
        assert status["not_the_working_tree"] == {}
        assert {name: uid for name, uid in pod_uids(environment).items() if name in untouched} == untouched
        assert container_id(environment.f5_container) == f5
        served_images.append(status["images"]["web"])

    # The first edit's image is this home's and no environment runs it any more: up removed it.
    assert subprocess.run(["docker", "image", "inspect", served_images[0]], capture_output=True).returncode != 0
    pods = pod_uids(environment)
    again = environment.up("--no-smoke", tree=working_copy)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "docker build" not in again.stdout + again.stderr
    # Nothing changed and it answers: no engine run, only its liveness checked.
    assert "is up to date" in again.stdout + again.stderr
    assert pod_uids(environment) == pods
    assert container_id(environment.f5_container) == f5
    served_greeting(environment, "-edit-two")


def test_no_secret_shows_in_docker_inspect_the_stack_or_any_log(environment: Environment):
    """The broker and F5 passwords and the stack's passphrase are nowhere but in 0600 files of the
    environment's workspace: not in a container's configuration (beside the cluster or in a pod), the
    stack's exported state, an object's spec, a container's log or any other file of the home."""
    workspace = environment.home / "workspaces" / environment.name
    passphrase_file = workspace / "passphrase"
    values = {
        "broker password": environment.secret_value("broker-credentials", "password"),
        "F5 password": environment.secret_value("f5-credentials", "F5_PASSWORD"),
    }
    if passphrase_file.is_file():  # that it exists is asserted last, after the search
        values["passphrase"] = passphrase_file.read_text()
    assert all(len(value) >= 16 for value in values.values()), "a secret is too short to be random"

    def docker(*args: str) -> str:
        return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout

    containers = [name for name in docker("ps", "-a", "--format", "{{.Names}}").split()
                  if name.startswith(f"{environment.cluster}-")]
    assert {f"{environment.cluster}-f5", f"{environment.cluster}-control-plane"} <= set(containers)
    texts = {f"docker inspect {name}": docker("inspect", name) for name in containers}
    nodes = [name for name in containers if docker("inspect", "--format", "{{index .Config.Labels \"io.x-k8s.kind.role\"}}", name).strip()]
    assert f"{environment.cluster}-control-plane" in nodes
    for node in nodes:  # the pods' containers, as the node's runtime holds them (environment included)
        pod_containers = docker("exec", node, "crictl", "ps", "--all", "--quiet").split()
        assert pod_containers, f"no containers in {node}"
        for container in pod_containers:  # one by one: a container removed meanwhile fails only its own
            inspected = subprocess.run(["docker", "exec", node, "crictl", "inspect", container],
                                       capture_output=True, text=True)
            texts[f"crictl inspect {container} in {node}"] = inspected.stdout
    for name in containers:
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
        texts[f"docker logs {name}"] = logs.stdout + logs.stderr
    texts["pulumi stack export"] = subprocess.run(
        ["pulumi", "stack", "export", "--stack", environment.name, "--cwd", str(workspace)],
        env={**environment.env, "PULUMI_BACKEND_URL": (environment.home / "pulumi").as_uri()},
        capture_output=True, text=True, check=True,
    ).stdout
    texts["kubernetes objects but Secrets"] = environment.kubectl(
        "get", "pods,deployments,statefulsets,configmaps,services,endpoints,events", "-A", "-o", "json"
    )
    secret_files = set()
    for path in environment.home.rglob("*"):
        if path.is_file():
            content = path.read_text(errors="replace")
            if any(value in content for value in values.values()):
                secret_files.add(path)
            else:
                texts[str(path)] = content
    found = {f"{what} in {where}" for where, text in texts.items() for what, value in values.items() if value in text}
    assert found == set()
    assert passphrase_file.is_file(), "the environment has no passphrase of its own"
    assert {path for path in secret_files if path.stat().st_mode & 0o777 != 0o600 or workspace not in path.parents} == set()


def the_f5_learns_each_nodes_pod_block_by_bgp(environment: Environment) -> None:
    """On the `bgp` profile: the F5 learns the pod routes from kube-router, f5-sync writes none."""
    nodes = json.loads(environment.kubectl("get", "nodes", "-o", "json"))["items"]
    internal_ip = {n["metadata"]["name"]: next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
                   for n in nodes}
    bgp = environment.f5_get("/health")["bgp"]
    assert bgp["routes"] == {n["spec"]["podCIDR"]: internal_ip[n["metadata"]["name"]] for n in nodes}
    assert {address: peer["state"] for address, peer in bgp["peers"].items()} == dict.fromkeys(
        internal_ip.values(), "established"
    )
    assert bgp["routesNotInstalled"] == {}
    assert environment.f5_get("/mgmt/tm/net/route").get("items", []) == []  # f5-sync wrote none


def test_verify_of_a_bgp_environment_beside_the_first_proves_it_and_removes_it(environment: Environment, tmp_path):
    """`envbuilder verify` end to end, as the nightly runs it, on the `bgp` profile beside the first environment:
    up, every smoke check green, the F5 following a scale up, a scale down and a rolling update of web-direct
    (its pool is its pods, reached through the routes the F5 learned by BGP), the teardown leaving nothing, and
    the three reports saying so. While verify holds the environment, the F5's BGP state is read too."""
    second = Environment(name=f"kt-{secrets.token_hex(3)}", home=tmp_path / "home", services="web,worker,web-direct")
    reports = tmp_path / "reports"
    with (tmp_path / "verify.log").open("w") as log:
        verify = subprocess.Popen(
            [ENVBUILDER, "verify", "--services", second.services, "--name", second.name, "--profile", "bgp",
             "--report-dir", str(reports)],
            env=second.env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        # Its smoke checks and the scales after them leave tens of seconds once the record says ready.
        wait_until(lambda: verify.poll() is not None or ready(second), timeout=1500, interval=2,
                   what="verify's environment to be ready", diagnosis=lambda: (tmp_path / "verify.log").read_text())
        assert verify.poll() is None, (tmp_path / "verify.log").read_text()
        the_f5_learns_each_nodes_pod_block_by_bgp(second)
        assert second.vip("web") != environment.vip("web")
        assert work(second)["answer"]["worker"]
        assert work(environment)["answer"]["worker"]
        the_layers_the_first_pushed_are_pulled_and_none_uploaded(second)
        neither_reaches_the_others_f5(environment, second)
        assert verify.wait(timeout=1500) == 0, (tmp_path / "verify.log").read_text()
    finally:
        if verify.poll() is None:
            verify.kill()
            verify.wait()
            run_envbuilder(second.env, "down", second.name)
    assert leftovers(second.name, second.home) == {}
    assert work(environment)["answer"]["worker"]

    suite = ET.parse(reports / JUNIT_FILE).getroot().find("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    verify_checks = {"environment comes up", "teardown leaves nothing behind",
                     *(f"f5-convergence:{change}" for change in ("scale-up", "scale-down", "rolling-update"))}
    assert GREEN_CHECKS | verify_checks <= set(cases), sorted(cases)
    assert suite.get("failures") == "0" and suite.get("skipped") == "0"
    properties = {prop.get("name"): prop.get("value") for prop in suite.iter("property")}
    for change in ("scale-up", "scale-down", "rolling-update"):
        figures = {figure: float(properties[f"f5-convergence.{change}.{figure}"])
                   for figure in ("pods-seconds", "pool-seconds", "vip-seconds", "pool-after-pods-seconds",
                                  "vip-after-pods-seconds")}
        assert properties[f"f5-convergence.{change}.service"] == "web-direct"
        assert 0 < figures["pods-seconds"] <= figures["pool-seconds"] + 1 and figures["vip-seconds"] > 0, figures
    run = run_from_json((reports / JSON_FILE).read_text())
    assert run.passed and run.environment == second.name
    assert [(result.operation, result.pods) for result in run.convergence] == [
        ("scale up", 3), ("scale down", 2), ("rolling update", 2)
    ]
    assert all(result.converged for result in run.convergence)
    page = (reports / HTML_FILE).read_text()
    assert "<h2>F5 convergence</h2>" in page
    for result in run.convergence:
        assert f"{result.pool_seconds:.2f} s" in page and f"{result.vip_seconds:.2f} s" in page


def the_layers_the_first_pushed_are_pulled_and_none_uploaded(second: Environment) -> None:
    """Both run the working tree's images, which the first environment's `up` pushed to the machine's
    registry: the second's push finds every layer there, and its nodes pull them through that registry."""
    created = json.loads((second.home / "environments" / f"{second.name}.json").read_text())
    logs = subprocess.run(["docker", "logs", "--since", created["created_at"], REGISTRY_CONTAINER],
                          capture_output=True, text=True, timeout=60)
    assert logs.returncode == 0, logs.stderr
    # A layer that travels is a blob upload: POST opens it, PATCH and PUT carry it. A manifest PUT names layers.
    uploads = [line for line in (logs.stdout + logs.stderr).splitlines()
               if "/blobs/uploads/" in line and ('"PATCH ' in line or '"PUT ' in line)]
    assert uploads == []
    pods = json.loads(second.kubectl("-n", second.namespace, "get", "pods", "-o", "json"))
    images = {c["image"] for pod in pods["items"] for c in pod["spec"]["containers"] if "envbuilder/" in c["image"]}
    assert images and all(image.startswith("localhost:5001/envbuilder/") for image in images), images


def connection_attempt(network: str, address: str, port: int, python: str, image: str) -> subprocess.CompletedProcess:
    """A container on the Docker network `network` opening a TCP connection to address:port (the image's
    own `python` does it)."""
    return subprocess.run(
        ["docker", "run", "--rm", "--network", network, "--entrypoint", python, image, "-c",
         f"import socket; socket.create_connection(({address!r}, {port}), timeout=5).close()"],
        capture_output=True, text=True, timeout=120,
    )


def neither_reaches_the_others_f5(environment: Environment, second: Environment) -> None:
    """Each environment's containers sit on its own Docker network: the first one's F5 API answers a
    container on that network, and neither one on the second environment's nor one on Docker's default."""
    own = network_name(environment.name)
    f5 = json.loads(subprocess.run(["docker", "inspect", environment.f5_container], capture_output=True, text=True,
                                   check=True).stdout)[0]
    address, image = f5["NetworkSettings"]["Networks"][own]["IPAddress"], f5["Config"]["Image"]
    python = str(Path(f5["Config"]["Entrypoint"][0]).with_name("python"))  # beside the mock's own command
    assert set(f5["NetworkSettings"]["Networks"]) == {own}
    reached = connection_attempt(own, address, F5_API_PORT, python, image)
    assert reached.returncode == 0, reached.stderr
    for elsewhere in (network_name(second.name), "bridge"):
        refused = connection_attempt(elsewhere, address, F5_API_PORT, python, image)
        assert refused.returncode != 0 and "create_connection" in refused.stderr, (elsewhere, refused.stderr)


def ready(environment: Environment) -> bool:
    shown = run_envbuilder(environment.env, "status", environment.name, "--json")
    return shown.returncode == 0 and json.loads(shown.stdout)["status"] == "ready"


def test_a_new_revision_replaces_the_f5_whose_vip_answers_from_its_saved_configuration(
    environment: Environment, another_revision: str
):
    """The F5's configuration outlives its container: the new one serves the VIP from what the old one saved,
    and f5-sync has nothing to repair (had it restored the pools or virtuals, its changes would be in the new
    F5's log)."""
    configuration = environment.f5_configuration()
    replaced = subprocess.run(["docker", "inspect", "--format", "{{.Id}}", environment.f5_container],
                              capture_output=True, text=True, check=True).stdout.strip()

    updated = environment.up("--revision", another_revision, "--no-smoke")
    assert updated.returncode == 0, updated.stdout + updated.stderr

    running = json.loads(subprocess.run(["docker", "inspect", environment.f5_container],
                                        capture_output=True, text=True, check=True).stdout)[0]
    assert running["Id"] != replaced and running["Config"]["Image"].endswith(f":{another_revision}")
    assert work(environment)["answer"]["worker"]
    events = environment.f5_events()
    [loaded] = [event for event in events if event["event"] == "loaded"]
    saved = (len(configuration["pools"]), len(configuration["virtuals"]))
    assert saved[0] > 0 and (loaded["pools"], loaded["virtuals"]) == saved, loaded
    # Pods rolled to the new revision move web-direct's members (cluster mode); nothing else changes.
    repairs = [event for event in events if event["event"] == "change" and event["kind"] != "member"]
    assert repairs == []
    assert _nodeport_view(environment.f5_configuration()) == _nodeport_view(configuration)


def _nodeport_view(configuration: dict) -> dict:
    """The F5's configuration with web-direct's members left out: its pool follows the pods (cluster mode)."""
    pools = {name: members for name, members in configuration["pools"].items() if "web-direct" not in name}
    return {"pools": pools, "pool names": sorted(configuration["pools"]), "virtuals": configuration["virtuals"]}


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
