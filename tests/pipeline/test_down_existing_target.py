"""`down` on an existing cluster: it removes only this home's labelled objects, and forgets the
environment only once none is left.

The cluster is a stand-in `kubectl` that keeps its objects in a JSON file and can be told to
ignore deletes (a namespace stuck in Terminating); the real-API version of this runs in
tests/engine against the test control plane.
"""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.cluster.tools import pinned_versions
from envbuilder.state.identity import home_identity
from envbuilder.state.records import EnvironmentRecord, HostPorts, find_record, save_record

runner = CliRunner()
STAND_IN_KUBECTL = """#!/usr/bin/env python3
import json, pathlib, sys
store = pathlib.Path({store!r})
state = json.loads(store.read_text())
args = sys.argv[1:]
if args[:1] == ["version"]:  # within the supported skew, so envbuilder uses it
    print(json.dumps({{"clientVersion": {{"gitVersion": {version!r}}}}}))
    sys.exit()
selector = dict(pair.split("=") for pair in args[args.index("-l") + 1].split(","))
chosen = [o for o in state["objects"] if all(o["metadata"]["labels"].get(k) == v for k, v in selector.items())]
if "get" in args:
    print(json.dumps({{"items": chosen}}))
elif "delete" in args and not state["deletes_hang"]:
    state["objects"] = [o for o in state["objects"] if o not in chosen]
    store.write_text(json.dumps(state))
"""


def labelled(kind: str, name: str, owner: str) -> dict:
    return {"kind": kind, "metadata": {"name": name, "labels": {"envbuilder.io/environment": "shared",
                                                                "envbuilder.io/owner": owner}}}


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    store = tmp_path / "cluster.json"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(STAND_IN_KUBECTL.format(store=str(store), version=pinned_versions()["KUBERNETES_VERSION"]))
    (bin_dir / "kubectl").chmod(0o755)
    # Only the stand-in kubectl: no pulumi, kind or docker, so nothing else on this machine is looked at.
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{Path(os.sys.executable).parent}")
    monkeypatch.setattr("envbuilder.cluster.tools.tools_bin", lambda: tmp_path / "no-tools")

    def objects(*items: dict, deletes_hang: bool = False) -> Path:
        store.write_text(json.dumps({"objects": list(items), "deletes_hang": deletes_hang}))
        return store

    return objects


def existing_record() -> EnvironmentRecord:
    return EnvironmentRecord(
        name="shared", owner="ci", owner_id=home_identity(), created_at=datetime.now(UTC), ttl_seconds=3600,
        profile="default", services=["web"], revision="abc1234", target="existing", namespace="env-shared",
        kube_context="team", kubeconfig="/nonexistent/kubeconfig", ports=HostPorts(f5_api=1, broker=2), status="ready",
    )


def remaining(store: Path) -> list[str]:
    return [o["metadata"]["name"] for o in json.loads(store.read_text())["objects"]]


def test_a_namespace_that_stays_keeps_the_record_failed_and_a_second_down_does_not_say_gone(cluster):
    store = cluster(labelled("Namespace", "env-shared", home_identity()), deletes_hang=True)
    save_record(existing_record())
    for _ in range(2):
        result = runner.invoke(app, ["down", "shared"])
        assert result.exit_code == 1, result.output
        assert "in team: namespace env-shared" in " ".join(result.output.split()) and "is gone" not in result.output
        record = find_record("shared")
        assert record is not None and record.status == "failed" and "namespace env-shared" in (record.message or "")
    assert remaining(store) == ["env-shared"]


def test_only_this_homes_objects_are_deleted_and_the_rest_is_named(cluster):
    store = cluster(labelled("Namespace", "env-shared", home_identity()),
                    labelled("ClusterRole", "env-shared-f5-sync", "another-home"))
    save_record(existing_record())
    result = runner.invoke(app, ["down", "shared"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "left alone: in team: clusterrole env-shared-f5-sync" in said and "owner another-home" in said
    assert remaining(store) == ["env-shared-f5-sync"] and find_record("shared") is None
