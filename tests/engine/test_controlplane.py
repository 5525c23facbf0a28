"""The test control plane behaves like a cluster: Deployments become Available
through KWOK, and Services get EndpointSlices."""

from __future__ import annotations

import json
import subprocess

import pytest
from envbuilder.polling import wait_until
from tests.support.tools import installed_tool

pytestmark = pytest.mark.engine

NS = "cp-smoke"


def _wait(fn, timeout=60.0, what="condition"):
    return wait_until(fn, timeout=timeout, what=what, interval=0.5)


def test_nodes_are_ready(control_plane):
    nodes = control_plane.request("GET", "/api/v1/nodes")["items"]
    assert len(nodes) >= 2
    for n in nodes:
        conds = {c["type"]: c["status"] for c in n["status"]["conditions"]}
        assert conds.get("Ready") == "True", n["metadata"]["name"]


def test_deployment_available_and_service_endpoints(control_plane):
    cp = control_plane
    cp.request("POST", "/api/v1/namespaces",
               {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    labels = {"app": "web"}
    cp.request("POST", f"/apis/apps/v1/namespaces/{NS}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "example.invalid/web:1",
                                         "ports": [{"containerPort": 8080}]}]},
            },
        },
    })
    cp.request("POST", f"/api/v1/namespaces/{NS}/services", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "selector": labels,
                 "ports": [{"port": 80, "targetPort": 8080}]},
    })

    def available():
        d = cp.request("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/web")
        conds = {c["type"]: c["status"] for c in d.get("status", {}).get("conditions", [])}
        return conds.get("Available") == "True" and d["status"].get("readyReplicas") == 2

    _wait(available, what="Deployment web Available with 2 ready replicas")

    svc = cp.request("GET", f"/api/v1/namespaces/{NS}/services/web")
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767

    def ready_endpoints():
        slices = cp.request(
            "GET", f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices"
                   "?labelSelector=kubernetes.io%2Fservice-name%3Dweb")["items"]
        eps = [e for s in slices for e in (s.get("endpoints") or [])
               if (e.get("conditions") or {}).get("ready")]
        return len(eps) == 2 and eps

    eps = _wait(ready_endpoints, what="2 ready endpoints in the EndpointSlices of Service web")
    assert all(e.get("nodeName", "").startswith("kwok-node-") for e in eps)


def test_kubectl_uses_the_kubeconfig(control_plane):
    kubectl = installed_tool("kubectl", package="kubectl", part="toolchain")
    out = subprocess.run([kubectl, "get", "nodes", "-o", "json"], env=control_plane.env(),
                         capture_output=True, text=True, timeout=60, check=True)
    names = {n["metadata"]["name"] for n in json.loads(out.stdout)["items"]}
    assert {"kwok-node-0", "kwok-node-1"} <= names


def test_a_kwok_that_dies_as_it_starts_is_started_again(monkeypatch, tmp_path):
    """kwok v0.8.0's start-up race ("concurrent map writes") must not fail every test of a session."""
    from tests.support import controlplane

    real = controlplane.find_binary("kwok")
    crashed_once = tmp_path / "crashed-once"
    flaky = tmp_path / "kwok"
    flaky.write_text(f"#!/bin/sh\nif [ ! -e {crashed_once} ]; then touch {crashed_once}\n"
                     f"  echo 'fatal error: concurrent map writes'; exit 2; fi\nexec {real} \"$@\"\n")
    flaky.chmod(0o755)
    finding = controlplane.find_binary
    monkeypatch.setattr(controlplane, "find_binary", lambda name: str(flaky) if name == "kwok" else finding(name))
    with controlplane.ControlPlane(nodes=1) as started:
        nodes = started.request("GET", "/api/v1/nodes")["items"]
        assert crashed_once.exists()
        assert [n["metadata"]["name"] for n in nodes] == ["kwok-node-0"]
