"""Creation steps of an interrupted `up`, run again: what exists and is this home's is adopted or
made anew; what is not is refused, untouched.

The kind cluster provider runs against stand-in `kind` and `kubectl` scripts (no kind node image
can be had here); the container provider runs against the real Docker engine, on test-only names.
"""

import json
import secrets
import subprocess
from pathlib import Path

import pytest

from envbuilder.engine.resources import _ContainerProvider, _KindClusterProvider
from envbuilder.errors import EnvbuilderError
from tests.support.docker import empty_image

OWNER = "home-under-test"
FAKE_KIND = """#!/usr/bin/env python3
import json, pathlib, sys
state = pathlib.Path({state!r})
clusters = json.loads(state.read_text()) if state.exists() else []
log = pathlib.Path({log!r})
args = sys.argv[1:]
with log.open("a") as handle:
    handle.write(" ".join(args[:2]) + "\\n")
def value(flag):
    return args[args.index(flag) + 1]
if args[:2] == ["get", "clusters"]:
    print("\\n".join(clusters))
elif args[:2] == ["create", "cluster"]:
    sys.stdin.read()
    pathlib.Path(value("--kubeconfig")).write_text("created")
    state.write_text(json.dumps(clusters + [value("--name")]))
elif args[:2] == ["delete", "cluster"]:
    state.write_text(json.dumps([c for c in clusters if c != value("--name")]))
elif args[:2] == ["get", "kubeconfig"]:
    print("apiVersion: v1")
elif args[:2] == ["export", "kubeconfig"]:
    pathlib.Path(value("--kubeconfig")).write_text("exported")
else:
    sys.exit("fake kind: unexpected " + " ".join(args))
"""
FAKE_KUBECTL = """#!/usr/bin/env python3
import pathlib, sys
nodes = pathlib.Path({nodes!r})
if not nodes.exists():
    sys.exit("The connection to the server was refused")
print(nodes.read_text())
"""
CONFIG = {"kind": "Cluster", "nodes": [{"role": "control-plane"}, {"role": "worker"}]}


class StandInKind:
    def __init__(self, directory: Path) -> None:
        self.state, self.log, self.nodes = directory / "clusters.json", directory / "kind.log", directory / "nodes.json"
        self.kind, self.kubectl = directory / "kind", directory / "kubectl"
        self.kind.write_text(FAKE_KIND.format(state=str(self.state), log=str(self.log)))
        self.kubectl.write_text(FAKE_KUBECTL.format(nodes=str(self.nodes)))
        for script in (self.kind, self.kubectl):
            script.chmod(0o755)

    def left_by_an_interrupted_create(self, name: str, node_owners: list[str] | None) -> None:
        """The cluster exists; its nodes carry these owners (None: its API server does not answer)."""
        self.state.write_text(json.dumps([name]))
        if node_owners is not None:
            items = [{"metadata": {"labels": {"envbuilder.io/owner": owner, "envbuilder.io/environment": "dev"}}}
                     for owner in node_owners]
            self.nodes.write_text(json.dumps({"items": items}))

    def calls(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if not line.startswith("get ")]

    def props(self, tmp_path: Path, interrupted: bool = False) -> dict:
        return {"name": "envbuilder-dev", "config": CONFIG, "node_image": "kindest/node:v1.33.1", "network": "envbuilder-dev",
                "kubeconfig": str(tmp_path / "kube" / "dev.yaml"), "kind": str(self.kind), "kubectl": str(self.kubectl),
                "owner": OWNER, "timeout": 60, "interrupted_create": interrupted}


@pytest.fixture
def kind(tmp_path) -> StandInKind:
    directory = tmp_path / "bin"
    directory.mkdir()
    return StandInKind(directory)


def test_a_complete_cluster_of_this_home_is_adopted_not_created_again(kind, tmp_path):
    kind.left_by_an_interrupted_create("envbuilder-dev", [OWNER, OWNER])
    result = _KindClusterProvider().create(kind.props(tmp_path))
    assert result.id == "envbuilder-dev" and result.outs["context"] == "kind-envbuilder-dev"
    assert kind.calls() == ["export kubeconfig"]
    assert (tmp_path / "kube" / "dev.yaml").read_text() == "exported"


def test_a_half_made_cluster_of_this_home_is_made_anew(kind, tmp_path):
    kind.left_by_an_interrupted_create("envbuilder-dev", [OWNER])  # the worker never joined
    _KindClusterProvider().create(kind.props(tmp_path))
    assert kind.calls() == ["delete cluster", "create cluster"]


def test_a_cluster_this_homes_interrupted_create_left_unreachable_is_made_anew(kind, tmp_path):
    kind.left_by_an_interrupted_create("envbuilder-dev", None)
    _KindClusterProvider().create(kind.props(tmp_path, interrupted=True))
    assert kind.calls() == ["delete cluster", "create cluster"]


@pytest.mark.parametrize(("owners", "reason"), [
    (["another-home", "another-home"], "belongs to another envbuilder home (owner another-home)"),
    (None, "its API server does not answer"),
])
def test_a_cluster_not_proven_this_homes_is_refused_and_left_alone(kind, tmp_path, owners, reason):
    kind.left_by_an_interrupted_create("envbuilder-dev", owners)
    with pytest.raises(EnvbuilderError, match="kind cluster envbuilder-dev already exists") as refused:
        _KindClusterProvider().create(kind.props(tmp_path))
    assert reason in str(refused.value)
    assert kind.calls() == []


@pytest.mark.docker
def test_a_container_of_the_same_name_that_is_not_this_homes_is_refused_and_left_alone():
    name = f"envbuilder-test-{secrets.token_hex(4)}-f5"
    subprocess.run(["docker", "create", "--name", name, "--label", "envbuilder.io/environment=dev",
                    "--label", "envbuilder.io/owner=another-home", empty_image(), "/nothing"],
                   check=True, capture_output=True)
    spec = {"name": name, "image": empty_image(), "network": "bridge", "env": {}, "secret_files": [], "publish": [],
            "volumes": [], "labels": {"envbuilder.io/environment": "dev", "envbuilder.io/owner": OWNER}}
    try:
        with pytest.raises(EnvbuilderError, match=f"container {name} already exists") as refused:
            _ContainerProvider().create({"spec": spec, "docker": "docker"})
        assert "another envbuilder home (owner another-home)" in str(refused.value)
        labels = subprocess.run(["docker", "inspect", name, "--format", "{{json .Config.Labels}}"],
                                capture_output=True, text=True, check=True).stdout
        assert json.loads(labels)["envbuilder.io/owner"] == "another-home"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
