"""The checks against a real Kubernetes control plane (etcd, kube-apiserver, controller-manager,
scheduler) whose nodes and pods KWOK plays: real API answers, events and admission; no container
ever runs, so probe pods never complete and the service proxy reaches no pod.
"""

import asyncio
import base64
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from envbuilder.polling import wait_until
from envbuilder.smoke.cluster import network_agents_check, nodes_ready_check
from f5sync.kubeconfig import load_kubeconfig
from envbuilder.smoke.kube import Kube
from envbuilder.smoke.probes import pod_network_check
from envbuilder.smoke.result import CheckStatus
from envbuilder.smoke.services import health_check
from envbuilder.desired import Credentials
from envbuilder.smoke.target import ServiceTarget, read_credentials
from tests.smoke.conftest import run_one
from tests.support.controlplane import ControlPlane, ControlPlaneError, missing_binaries
from tests.support.parallel import on_one_worker
from tests.support.tools import missing as missing_part

pytestmark = [pytest.mark.slow, on_one_worker(__name__)]
NAMESPACE = "env-smoke"


def _wait_for(control_plane: ControlPlane, path: str) -> None:
    def served() -> bool:
        try:
            control_plane.request("GET", path)
        except ControlPlaneError:
            return False
        return True

    wait_until(served, timeout=60, what=f"GET {path} to answer")


@pytest.fixture(scope="module")
def control_plane() -> Iterator[ControlPlane]:
    missing = missing_binaries()
    if missing:
        missing_part("toolchain", f"the control plane is not built ({', '.join(missing)})", "make setup")
    with ControlPlane(nodes=2) as started:
        started.request("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        # Pods are refused until the controller-manager has made the namespace's ServiceAccount.
        _wait_for(started, f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/default")
        yield started


@pytest.fixture
def kube(control_plane: ControlPlane) -> Callable[[], Kube]:
    """A new client per check run: an httpx client's connections belong to the event loop that opened them."""
    access = load_kubeconfig(control_plane.kubeconfig)
    return lambda: Kube(access)


# An exec credential plugin as EKS, GKE and AKS kubeconfigs use: it prints an ExecCredential holding the
# token it was given through the kubeconfig's env, and notes each run in the file named by its argument.
EXEC_PLUGIN = """
import json, os, pathlib, sys
with pathlib.Path(sys.argv[1]).open("a") as runs:
    runs.write("ran\\n")
if os.environ.get("PLUGIN_FAILURE"):
    sys.exit(os.environ["PLUGIN_FAILURE"])
credential = {"token": os.environ["PLUGIN_TOKEN"], "expirationTimestamp": "2099-01-01T00:00:00Z"}
kind = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential"}
print(json.dumps({**kind, "status": credential}))
"""


def kubeconfig_with_user(control_plane: ControlPlane, directory: Path, user: dict[str, Any]) -> Path:
    """The control plane's kubeconfig with `user` as the credentials of a context named `cloud`."""
    config = json.loads(control_plane.kubeconfig.read_text())
    config["users"] = [{"name": "cloud-user", "user": user}]
    config["contexts"] = [{"name": "cloud", "context": {"cluster": "envbuilder-test", "user": "cloud-user"}}]
    path = directory / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


def exec_user(directory: Path, **env: str) -> dict[str, Any]:
    plugin = directory / "credential_plugin.py"
    plugin.write_text(EXEC_PLUGIN)
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": [str(plugin), str(directory / "plugin-runs")],
            "env": [{"name": name, "value": value} for name, value in env.items()],
            "interactiveMode": "Never",
        }
    }


def test_an_exec_plugin_kubeconfig_authenticates_with_the_token_the_plugin_prints(control_plane, tmp_path):
    path = kubeconfig_with_user(control_plane, tmp_path, exec_user(tmp_path, PLUGIN_TOKEN=control_plane.token))
    result = run_one(nodes_ready_check(Kube(load_kubeconfig(path, "cloud")), expected=2))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    # Once per client: the token is reused until the API server refuses it.
    assert (tmp_path / "plugin-runs").read_text() == "ran\n"


def test_an_exec_plugin_that_fails_fails_the_check_with_the_plugins_own_words(control_plane, tmp_path):
    user = exec_user(tmp_path, PLUGIN_TOKEN="unused", PLUGIN_FAILURE="the SSO session has expired: log in again")
    path = kubeconfig_with_user(control_plane, tmp_path, user)
    result = run_one(nodes_ready_check(Kube(load_kubeconfig(path, "cloud")), expected=2, deadline=0.5))
    assert result.status is CheckStatus.FAILED
    assert "no credentials for the Kubernetes API" in result.summary
    assert "the SSO session has expired: log in again" in result.summary


def test_a_token_file_kubeconfig_reads_the_token_from_the_file_beside_it(control_plane, tmp_path):
    (tmp_path / "token").write_text(control_plane.token + "\n")
    path = kubeconfig_with_user(control_plane, tmp_path, {"tokenFile": "token"})  # relative, as kubectl allows
    result = run_one(nodes_ready_check(Kube(load_kubeconfig(path, "cloud")), expected=2))
    assert result.status is CheckStatus.PASSED, result.diagnosis


def test_nodes_ready_passes_on_the_kwok_nodes_and_fails_counting_a_missing_one(kube):
    assert run_one(nodes_ready_check(kube(), expected=2)).status is CheckStatus.PASSED
    failed = run_one(nodes_ready_check(kube(), expected=3, deadline=0.5))
    assert failed.status is CheckStatus.FAILED
    assert "2 of 2 nodes Ready, 3 expected" in failed.summary


def test_calico_passes_once_the_daemonset_has_a_ready_pod_on_every_node(control_plane, kube):
    labels = {"k8s-app": "calico-node"}
    control_plane.request(
        "POST",
        "/apis/apps/v1/namespaces/kube-system/daemonsets",
        {
            "metadata": {"name": "calico-node"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "calico-node", "image": "calico/node:v3.29.1"}]},
                },
            },
        },
    )
    result = run_one(network_agents_check(kube(), "calico-node", deadline=60))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary == "calico-node Ready on all 2 nodes"


def test_a_probe_pod_that_never_completes_is_reported_with_its_state_and_removed(control_plane, kube):
    result = run_one(pod_network_check(kube(), NAMESPACE, "envbuilder/web:abc", deadline=4))
    assert result.status is CheckStatus.FAILED
    assert "is Running, waiting for Succeeded" in result.summary
    assert "pod smoke-client-" in result.diagnosis and "on kwok-node-1: Running" in result.diagnosis
    left = control_plane.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector=envbuilder.io/smoke-probe")
    assert [pod for pod in left["items"] if not pod["metadata"].get("deletionTimestamp")] == []


def test_health_of_a_service_without_pods_fails_with_the_api_servers_answer(control_plane, kube):
    control_plane.request(
        "POST",
        f"/api/v1/namespaces/{NAMESPACE}/services",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app.kubernetes.io/name": "web"}, "ports": [{"name": "http", "port": 8080}]},
        },
    )
    result = run_one(health_check(kube(), NAMESPACE, ServiceTarget("web", 8080), deadline=2))
    assert result.status is CheckStatus.FAILED
    assert "web /healthz answered 503, expected 200" in result.summary
    assert "no endpoints available for service" in result.diagnosis
    assert f"no pods match app.kubernetes.io/name=web in namespace {NAMESPACE}" in result.diagnosis


def test_credentials_come_from_the_environments_secrets(control_plane, kube):
    def secret(name: str, **data: str) -> dict:
        return {"metadata": {"name": name}, "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}

    control_plane.request("POST", f"/api/v1/namespaces/{NAMESPACE}/secrets", secret("f5-credentials", F5_PASSWORD="f5"))
    control_plane.request(
        "POST", f"/api/v1/namespaces/{NAMESPACE}/secrets", secret("broker-credentials", password="amqp")
    )
    assert asyncio.run(read_credentials(kube(), NAMESPACE)) == Credentials(f5_password="f5", broker_password="amqp")
