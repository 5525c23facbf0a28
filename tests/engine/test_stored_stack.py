"""What `down` does to a stack, each in one Pulumi CLI call: read it as stored, have it forget its objects
but its kind cluster, remove it. The real Pulumi CLI on a local backend of this test's home (no plugins)."""

import gzip
import json
import os
from pathlib import Path

import pytest

from envbuilder.cluster.tools import find_tool
from envbuilder.engine.backend import holds_nothing, workspace_path
from envbuilder.engine.orphans import recover
from envbuilder.engine.stacks import kind_clusters_in, select_stack, stack_exists, stored_stack
from envbuilder.errors import EnvbuilderError
from tests.support.engine_locks import finished_process, stack_lock
from tests.support.tools import missing

NAME, CLUSTER, OWNER = "demo", "envbuilder-demo", "this-home"
TYPE = "pulumi-python:dynamic:Resource"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{NAME}::envbuilder::{type_}::{name}"


@pytest.fixture
def stack(isolated_state):
    """A stack holding what an environment's does: its own resource naming its owner, a provider, the
    network, the cluster on it, a container, and an update an interrupted run left pending."""
    if find_tool("pulumi") is None:
        missing("toolchain", "the Pulumi CLI is not built", "make setup")
    selected = select_stack(NAME, lambda: None)
    state = selected.export_stack()
    stack_urn = urn("pulumi:pulumi:Stack", f"envbuilder-{NAME}")
    provider = urn("pulumi:providers:pulumi-python", "default")
    state.deployment["resources"] = [
        {"urn": stack_urn, "type": "pulumi:pulumi:Stack", "custom": False, "outputs": {"owner": OWNER}},
        {"urn": provider, "type": "pulumi:providers:pulumi-python", "custom": True, "id": "provider"},
        {"urn": urn(TYPE, "network"), "type": TYPE, "custom": True, "id": CLUSTER, "parent": stack_urn,
         "provider": f"{provider}::provider", "outputs": {"name": CLUSTER}},
        {"urn": urn(TYPE, "cluster"), "type": TYPE, "custom": True, "id": CLUSTER, "parent": stack_urn,
         "provider": f"{provider}::provider", "inputs": {"name": CLUSTER}, "outputs": {"name": CLUSTER},
         "dependencies": [urn(TYPE, "network")]},
        {"urn": urn(TYPE, "f5-container"), "type": TYPE, "custom": True, "id": "f5", "parent": stack_urn,
         "provider": f"{provider}::provider", "dependencies": [urn(TYPE, "network")]},
    ]
    selected.import_stack(state)
    # As the engine leaves it when it dies mid-update (an import would drop it).
    backend = Path(isolated_state) / "pulumi"
    checkpoint_file = backend / ".pulumi" / "stacks" / "envbuilder" / f"{NAME}.json"
    checkpoint = json.loads(checkpoint_file.read_text())
    checkpoint["checkpoint"]["latest"]["pending_operations"] = [
        {"type": "updating", "resource": {"urn": urn(TYPE, "f5-container"), "type": TYPE, "custom": True}}]
    checkpoint_file.write_text(json.dumps(checkpoint))
    return selected, backend


def test_a_stack_that_does_not_exist_is_none_and_looking_makes_no_backend(isolated_state):
    assert stored_stack("nosuch") is None
    assert not (Path(isolated_state) / "pulumi").exists()


def test_read_as_stored_it_names_its_owner_and_its_kind_cluster(stack):
    stored = stored_stack(NAME)
    assert stored is not None and stored.owner == OWNER and stored.kind_clusters() == {CLUSTER}


def test_forgetting_keeps_the_cluster_as_one_being_created_for_the_next_up_and_down(stack):
    selected, backend = stack
    stale = stack_lock(backend, NAME, finished_process())
    recovered = stored_stack(NAME).forget_objects()
    assert not stale.exists() and any("stale lock" in line for line in recovered)
    assert "cleared 1 pending operation(s) (updating) left by an interrupted run" in recovered
    again = stored_stack(NAME)
    assert [resource["type"] for resource in again.deployment["resources"]] == [
        "pulumi:pulumi:Stack", "pulumi:providers:pulumi-python"]
    assert again.owner == OWNER and again.kind_clusters() == {CLUSTER} and not again.deployment.get("pending_operations")
    # What `up` reads through the Automation API: a cluster that may be half there, which it adopts or remakes.
    assert kind_clusters_in(selected, pending_only=True) == {CLUSTER}


def test_a_stack_held_by_a_live_process_is_not_changed(stack, monkeypatch):
    _, backend = stack
    monkeypatch.setattr("envbuilder.engine.commands.ENGINE_STOP_SECONDS", 0.5)
    held = stack_lock(backend, NAME, os.getpid())
    with pytest.raises(EnvbuilderError, match="may still be working on it"):
        stored_stack(NAME).forget_objects()
    assert held.exists() and len(stored_stack(NAME).deployment["resources"]) == 5


def test_removing_takes_the_stack_whatever_it_still_holds_and_its_workspace(stack):
    stored_stack(NAME).remove()
    assert not stack_exists(NAME) and not workspace_path(NAME).exists()


def test_a_stack_just_made_holds_nothing_and_up_reads_it_without_asking_pulumi(isolated_state, monkeypatch):
    if find_tool("pulumi") is None:
        missing("toolchain", "the Pulumi CLI is not built", "make setup")
    selected = select_stack(NAME, lambda: None)
    backend = Path(isolated_state) / "pulumi"

    def no_export():
        raise AssertionError("pulumi stack export was asked for a stack that holds nothing")

    monkeypatch.setattr(selected, "export_stack", no_export)
    assert holds_nothing(backend, NAME)
    assert kind_clusters_in(selected, pending_only=True) == set() and recover(selected) == []


def test_a_stack_with_objects_or_an_interrupted_operation_holds_something(stack):
    _selected, backend = stack
    checkpoint_file = backend / ".pulumi" / "stacks" / "envbuilder" / f"{NAME}.json"
    assert not holds_nothing(backend, NAME)

    checkpoint = json.loads(checkpoint_file.read_text())
    del checkpoint["checkpoint"]["latest"]["resources"]
    checkpoint_file.write_text(json.dumps(checkpoint))
    assert not holds_nothing(backend, NAME)  # its pending operation still needs recovering


@pytest.mark.parametrize("checkpoint", ["{not json", '{"version": 3}', '{"checkpoint": ["odd"]}'])
def test_a_checkpoint_that_cannot_be_read_is_never_taken_for_an_empty_stack(tmp_path, checkpoint):
    folder = tmp_path / ".pulumi" / "stacks" / "envbuilder"
    folder.mkdir(parents=True)
    (folder / f"{NAME}.json").write_text(checkpoint)
    assert not holds_nothing(tmp_path, NAME)


def test_a_compressed_checkpoint_is_read_and_two_checkpoints_are_not_guessed_between(tmp_path):
    folder = tmp_path / ".pulumi" / "stacks" / "envbuilder"
    folder.mkdir(parents=True)
    just_made = json.dumps({"version": 3, "checkpoint": {"latest": {"manifest": {}, "secrets_providers": {}}}})
    with gzip.open(folder / f"{NAME}.json.gz", "wt") as compressed:
        compressed.write(just_made)
    assert holds_nothing(tmp_path, NAME)

    (folder / f"{NAME}.json").write_text(just_made)
    assert not holds_nothing(tmp_path, NAME)
