"""The real Pulumi engine against a real Kubernetes API (etcd, kube-apiserver, controllers, KWOK nodes).

`envbuilder up --target existing` with web, worker, the broker and f5-sync converges;
f5-sync, run as a host process, fills the real mock F5's pools with the fake nodes'
addresses and NodePorts; `down` leaves nothing; an interrupted `up` is recovered by the
next command; a second `up` with no change changes nothing.
"""

import json
import os
import xml.etree.ElementTree as ET
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from envbuilder.cluster.kubectl import kubectl_command
from envbuilder.engine.stacks import select_stack, stack_exists
from envbuilder.polling import wait_until
from f5mock.server import run_in_thread
from f5sync.contract import pool_name
from tests.support.leftovers import processes_of

pytestmark = [pytest.mark.engine, pytest.mark.slow]
ENVBUILDER = str(Path(sys.executable).parent / "envbuilder")
F5_SYNC = str(Path(sys.executable).parent / "f5-sync")
SERVICES = "web,worker"
# One commit for the whole module: other work may commit while these tests run.
REVISION = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent).stdout.strip()


@pytest.fixture
def cli_env(control_plane, isolated_state):
    env = {**os.environ, **control_plane.env(), "KUBECONFIG": str(control_plane.kubeconfig)}
    env["ENVBUILDER_HOME"] = str(isolated_state)
    return env


def envbuilder(env, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([ENVBUILDER, *args], env=env, capture_output=True, text=True, timeout=timeout)


def up_args(name: str) -> list[str]:
    return ["up", "--services", SERVICES, "--name", name, "--target", "existing",
            "--kube-context", "envbuilder-test", "--revision", REVISION, "--no-smoke"]


def kubectl(control_plane, *args: str) -> str:
    result = subprocess.run([*kubectl_command("kubectl", control_plane.kubeconfig), *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_for(predicate, timeout: float, what: str):
    return wait_until(predicate, timeout=timeout, what=what, interval=0.3)


def test_up_converges_f5_sync_fills_the_pools_and_down_leaves_nothing(control_plane, cli_env, tmp_path):
    up = envbuilder(cli_env, *up_args("e2e"))
    assert up.returncode == 0, up.stdout + up.stderr
    deployments = json.loads(kubectl(control_plane, "-n", "env-e2e", "get", "deployments", "-o", "json"))["items"]
    available = {d["metadata"]["name"]: d["status"].get("availableReplicas", 0) for d in deployments}
    assert available == {"web": 2, "worker": 2, "f5-sync": 1, "f5-mock": 1}
    secret_names = kubectl(control_plane, "-n", "env-e2e", "get", "secrets", "-o", "name")
    assert "secret/broker-credentials" in secret_names

    # f5-sync as a host process, against the real mock F5 over HTTPS.
    nodes = json.loads(kubectl(control_plane, "get", "nodes", "-o", "json"))["items"]
    addresses = sorted(a["address"] for n in nodes for a in n["status"]["addresses"] if a["type"] == "InternalIP")
    service = json.loads(kubectl(control_plane, "-n", "env-e2e", "get", "service", "web", "-o", "json"))
    node_port = service["spec"]["ports"][0]["nodePort"]
    with run_in_thread(tmp_path / "f5", bind_virtuals_to="127.0.0.1") as f5:
        sync_env = {**cli_env, "F5_URL": f5.url, "F5_USERNAME": "admin", "F5_PASSWORD": "admin",
                    "F5SYNC_NAMESPACE": "env-e2e", "F5SYNC_OWNER": "e2e", "F5_VIP_ADDRESS": "127.0.0.1"}
        sync = subprocess.Popen([F5_SYNC, "run", "--kubeconfig", str(control_plane.kubeconfig),
                                 "--listen", "127.0.0.1:0"], env=sync_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            pool = pool_name("env-e2e", "web", 8080)

            def members():
                response = httpx.get(f"{f5.url}/mgmt/tm/ltm/pool/~Common~{pool}/members", auth=("admin", "admin"), verify=False)
                return sorted(m["name"] for m in response.json().get("items", [])) if response.status_code == 200 else None

            # KWOK gives every fake node the same loopback InternalIP: one member per address.
            expected = sorted({f"{address}:{node_port}" for address in addresses})
            try:
                wait_for(lambda: members() == expected, 30, "the pool to hold every node")
            except BaseException:
                sync.terminate()
                print(sync.communicate(timeout=10)[0].decode()[-3000:])
                raise
        finally:
            sync.send_signal(signal.SIGTERM)
            sync.wait(10)

    down = envbuilder(cli_env, "down", "e2e")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "is gone" in down.stderr
    left = kubectl(control_plane, "get", "namespaces,clusterroles,clusterrolebindings",
                   "-l", "envbuilder.io/environment=e2e", "-o", "name")
    assert left.strip() == ""
    assert envbuilder(cli_env, "status", "e2e").returncode == 2
    assert not stack_exists("e2e")  # this process shares the test's ENVBUILDER_HOME


def test_a_second_up_with_no_change_changes_nothing(control_plane, cli_env):
    assert envbuilder(cli_env, *up_args("again")).returncode == 0
    second = envbuilder(cli_env, *up_args("again"))
    assert second.returncode == 0, second.stderr
    history = stack_history("again")
    assert set(history[0]["resourceChanges"]) == {"same"}, history[0]["resourceChanges"]

    scaled = envbuilder(cli_env, "scale", "again", "web=3")
    assert scaled.returncode == 0, scaled.stderr
    web = json.loads(kubectl(control_plane, "-n", "env-again", "get", "deployment", "web", "-o", "json"))
    assert web["spec"]["replicas"] == 3 and web["status"].get("availableReplicas") == 3
    assert envbuilder(cli_env, "scale", "again", "web=99").returncode == 2
    assert envbuilder(cli_env, "down", "again").returncode == 0


def test_an_interrupted_up_is_recovered_by_the_next_command(control_plane, cli_env):
    process = subprocess.Popen([ENVBUILDER, *up_args("killed")], env=cli_env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # Kill the whole process group (envbuilder and its pulumi CLI) once resources are being created.
    wait_for(lambda: _namespace_exists(control_plane, "env-killed") or process.poll() is not None, 240,
             "up to start creating resources")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)

    try:
        again = envbuilder(cli_env, *up_args("killed"))
        assert again.returncode == 0, again.stdout + again.stderr
        down = envbuilder(cli_env, "down", "killed")
        assert down.returncode == 0, down.stdout + down.stderr
    finally:
        # Killed with its group, the engine cannot stop its Kubernetes plugin, which runs on: this test's own.
        for process in processes_of(Path(cli_env["ENVBUILDER_HOME"])):
            try:
                os.kill(int(process.split()[0]), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_pending_operations_left_in_the_state_are_cleared_by_the_next_command(control_plane, cli_env):
    assert envbuilder(cli_env, *up_args("pending")).returncode == 0
    # What the engine leaves when it dies between starting an operation and recording its end:
    # a pending operation in the state file and the update's lock, naming a process of this machine that is gone.
    backend = Path(cli_env["ENVBUILDER_HOME"]) / "pulumi" / ".pulumi"
    state_file = backend / "stacks" / "envbuilder" / "pending.json"
    checkpoint = json.loads(state_file.read_text())
    web = next(r for r in checkpoint["checkpoint"]["latest"]["resources"] if r["urn"].endswith("::services:env-pending/web"))
    checkpoint["checkpoint"]["latest"]["pending_operations"] = [{"resource": web, "type": "updating"}]
    state_file.write_text(json.dumps(checkpoint))
    lock = backend / "locks" / "organization" / "envbuilder" / "pending" / "crashed-run.json"
    lock.parent.mkdir(parents=True, exist_ok=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock.write_text(json.dumps({"pid": gone.pid, "username": "ci", "hostname": socket.gethostname(),
                                "timestamp": "2026-01-01T00:00:00Z"}))

    down = envbuilder(cli_env, "down", "pending")
    assert down.returncode == 0, down.stdout + down.stderr
    said = " ".join(down.stderr.split())
    assert "removed a stale lock" in said and "cleared 1 pending operation(s) (updating)" in said


def test_verify_tears_down_after_failing_checks_and_reports_why(control_plane, cli_env, tmp_path):
    # KWOK's pods answer no HTTP, so the health checks fail: verify must still tear down and report.
    reports = tmp_path / "reports"
    result = envbuilder(cli_env, "verify", "--services", SERVICES, "--name", "nightly", "--target", "existing",
                        "--kube-context", "envbuilder-test", "--revision", REVISION, "--report-dir", str(reports))
    assert result.returncode == 1, result.stdout + result.stderr
    suite = ET.parse(reports / "smoke-junit.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["environment comes up"].find("failure") is None
    assert cases["teardown leaves nothing behind"].find("failure") is None
    assert any(case.find("failure") is not None for case in cases.values())
    assert int(suite.get("failures")) == sum(case.find("failure") is not None for case in cases.values())
    assert (reports / "smoke.html").is_file()
    assert not _namespace_exists(control_plane, "env-nightly")
    assert envbuilder(cli_env, "status", "nightly").returncode == 2


def test_verify_of_an_environment_that_exists_leaves_it_running(control_plane, cli_env, tmp_path):
    assert envbuilder(cli_env, *up_args("mine")).returncode == 0
    result = envbuilder(cli_env, "verify", "--services", SERVICES, "--name", "mine", "--target", "existing",
                        "--kube-context", "envbuilder-test", "--revision", REVISION, "--report-dir", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "already exists" in result.stderr
    assert _namespace_exists(control_plane, "env-mine") and stack_exists("mine")
    assert envbuilder(cli_env, "down", "mine").returncode == 0


def test_ctrl_c_during_verify_still_tears_everything_down(control_plane, cli_env, tmp_path):
    process = subprocess.Popen([ENVBUILDER, "verify", "--services", SERVICES, "--name", "interrupted", "--target",
                                "existing", "--kube-context", "envbuilder-test", "--revision", REVISION,
                                "--report-dir", str(tmp_path)], env=cli_env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_for(lambda: _namespace_exists(control_plane, "env-interrupted") or process.poll() is not None, 240,
             "verify to start creating resources")
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's process group
    _, stderr = process.communicate(timeout=600)
    assert process.returncode != 0
    assert "tearing the environment down" in stderr
    assert not _namespace_exists(control_plane, "env-interrupted"), stderr
    assert envbuilder(cli_env, "status", "interrupted").returncode == 2
    assert not stack_exists("interrupted")


def _namespace_exists(control_plane, name: str) -> bool:
    result = subprocess.run([*kubectl_command("kubectl", control_plane.kubeconfig), "get", "namespace", name],
                            capture_output=True, timeout=30)
    return result.returncode == 0


def stack_history(name: str) -> list[dict]:
    stack = select_stack(name, lambda: None)
    return [{"resourceChanges": entry.resource_changes} for entry in stack.history(page_size=1)]
