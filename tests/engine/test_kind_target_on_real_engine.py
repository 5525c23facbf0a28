"""The kind target's whole engine path on the real engine, with kind itself played by a script.

No kind node image can be had here (registries are out of reach), so `kind` is a stand-in
that hands out the test control plane as the "cluster". Everything else is real: the
dynamic providers in their own process, Calico applied from a manifest and waited for, the
F5 mock container on the `kind` Docker network with its API on 127.0.0.1, the environment's
objects, and `down` proving nothing is left.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.docker import require_docker

pytestmark = [pytest.mark.engine, pytest.mark.docker, pytest.mark.slow]
ENVBUILDER = str(Path(sys.executable).parent / "envbuilder")
# A name no real environment has: its cluster, containers and stack are this test's alone.
NAME = f"test-kindpath-{secrets.token_hex(3)}"

FAKE_KIND = """#!/usr/bin/env python3
# kind's command line, with the test control plane as every cluster it "creates".
import json, pathlib, sys
state = pathlib.Path({state!r})
clusters = json.loads(state.read_text()) if state.exists() else []
args = sys.argv[1:]
def value(flag):
    return args[args.index(flag) + 1]
if args[:2] == ["get", "clusters"]:
    print("\\n".join(clusters)) if clusters else print("No kind clusters found.", file=sys.stderr)
elif args[:2] == ["create", "cluster"]:
    name = value("--name")
    sys.stdin.read()  # the cluster config
    config = pathlib.Path({kubeconfig!r}).read_text().replace("envbuilder-test", "kind-" + name)
    pathlib.Path(value("--kubeconfig")).write_text(config)
    state.write_text(json.dumps(clusters + [name]))
elif args[:2] == ["delete", "cluster"]:
    state.write_text(json.dumps([c for c in clusters if c != value("--name")]))
elif args[:2] == ["get", "nodes"]:
    pass  # no node containers: nothing to load images into
else:
    sys.exit("fake kind: unexpected " + " ".join(args))
"""

# The two things envbuilder waits for after the CNI: calico-node on every node, and cluster DNS.
CALICO_STAND_IN = [
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "calico-node", "namespace": "kube-system"},
     "spec": {"selector": {"matchLabels": {"k8s-app": "calico-node"}},
              "template": {"metadata": {"labels": {"k8s-app": "calico-node"}},
                           "spec": {"containers": [{"name": "calico-node", "image": "calico/node:v3.29.1"}]}}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns", "namespace": "kube-system"},
     "spec": {"selector": {"matchLabels": {"k8s-app": "kube-dns"}},
              "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}},
                           "spec": {"containers": [{"name": "coredns", "image": "coredns/coredns:1.11.3"}]}}}},
]


@pytest.fixture
def kind_env(control_plane, isolated_state, tmp_path):
    require_docker()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kind = bin_dir / "kind"
    kind.write_text(FAKE_KIND.format(state=str(tmp_path / "clusters.json"), kubeconfig=str(control_plane.kubeconfig)))
    kind.chmod(0o755)
    manifest = tmp_path / "calico.yaml"
    manifest.write_text(yaml.safe_dump_all(CALICO_STAND_IN))
    created_network = subprocess.run(["docker", "network", "inspect", "kind"], capture_output=True).returncode != 0
    if created_network:
        subprocess.run(["docker", "network", "create", "kind"], check=True, capture_output=True)
    yield {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "ENVBUILDER_HOME": str(isolated_state),
           "ENVBUILDER_CALICO_MANIFEST": str(manifest)}
    if created_network:
        subprocess.run(["docker", "network", "rm", "kind"], capture_output=True)


def run(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ENVBUILDER, *args], env=env, capture_output=True, text=True, timeout=1200)


def test_the_kind_target_stands_up_and_tears_down_through_the_real_engine(kind_env, control_plane):
    up = run(kind_env, "up", "--services", "web,worker", "--name", NAME, "--no-smoke")
    assert up.returncode == 0, up.stdout + up.stderr
    for line in ("Creating the kind cluster", "Installing Calico", "Starting the F5", "Deploying services"):
        assert line in up.stderr

    status = json.loads(run(kind_env, "status", NAME, "--json").stdout)
    kubectl = ["kubectl", "--kubeconfig", status["kubeconfig"], "--context", f"kind-envbuilder-{NAME}"]
    secret = json.loads(subprocess.run([*kubectl, "-n", f"env-{NAME}", "get", "secret", "f5-credentials", "-o", "json"],
                                       capture_output=True, text=True, check=True).stdout)
    import base64

    password = base64.b64decode(secret["data"]["F5_PASSWORD"]).decode()
    # The mock F5 runs in its container beside the "cluster", its API published on 127.0.0.1.
    version = httpx.get(f"{status['f5_api']}/mgmt/tm/sys/version", auth=("admin", password), verify=False, timeout=30)
    assert version.status_code == 200, version.text
    endpoints = json.loads(subprocess.run([*kubectl, "-n", f"env-{NAME}", "get", "endpoints", "f5", "-o", "json"],
                                          capture_output=True, text=True, check=True).stdout)
    container_ip = subprocess.run(["docker", "inspect", f"envbuilder-{NAME}-f5", "--format",
                                   "{{.NetworkSettings.Networks.kind.IPAddress}}"], capture_output=True, text=True).stdout.strip()
    assert endpoints["subsets"][0]["addresses"][0]["ip"] == container_ip

    # The record holds what scale needs on kind (its kube context is the one kind made).
    scaled = run(kind_env, "scale", NAME, "web=3")
    assert scaled.returncode == 0, scaled.stdout + scaled.stderr
    web = json.loads(subprocess.run([*kubectl, "-n", f"env-{NAME}", "get", "deployment", "web", "-o", "json"],
                                    capture_output=True, text=True, check=True).stdout)
    assert web["spec"]["replicas"] == 3

    down = run(kind_env, "down", NAME)
    assert down.returncode == 0, down.stdout + down.stderr
    assert subprocess.run(["docker", "inspect", f"envbuilder-{NAME}-f5"], capture_output=True).returncode != 0
    assert not Path(status["kubeconfig"]).exists()
