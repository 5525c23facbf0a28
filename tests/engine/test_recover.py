"""Recovering a stack after an interrupted run: its lock must prove no other process holds it.

The stack is a stand-in for the Automation API's (state and import recorded in memory); the
lock files are real files in a local backend's layout, naming real processes.
"""

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from envbuilder.engine.workspace import recover
from envbuilder.errors import EnvbuilderError

PENDING = [{"resource": {"urn": "urn:pulumi:dev::envbuilder::kubernetes:apps/v1:Deployment::web"}, "type": "updating"}]


@dataclass
class Deployment:
    deployment: dict


@dataclass
class Workspace:
    env_vars: dict[str, str]


@dataclass
class StandInStack:
    name: str
    workspace: Workspace
    state: dict = field(default_factory=lambda: {"resources": [], "pending_operations": list(PENDING)})
    cancelled: bool = False

    def export_stack(self) -> Deployment:
        return Deployment(json.loads(json.dumps(self.state)))

    def import_stack(self, deployment: Deployment) -> None:
        self.state = deployment.deployment

    def cancel(self) -> None:
        self.cancelled = True


def stack_in(backend: Path) -> StandInStack:
    return StandInStack("dev", Workspace({"PULUMI_BACKEND_URL": backend.as_uri()}))


def lock(backend: Path, pid: int, hostname: str | None = None) -> Path:
    path = backend / ".pulumi" / "locks" / "organization" / "envbuilder" / "dev" / f"{pid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "username": "ci", "hostname": hostname or socket.gethostname(),
                                "timestamp": "2026-01-01T00:00:00Z"}))
    return path


def finished_process() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_lock_of_a_process_that_is_gone_is_removed_and_the_pending_operations_cleared(tmp_path):
    stale = lock(tmp_path, finished_process())
    stack = stack_in(tmp_path)
    done = recover(stack)
    assert not stale.exists() and stack.state["pending_operations"] == []
    assert any("stale lock" in line for line in done) and any("cleared 1 pending operation" in line for line in done)


def test_pending_operations_without_a_lock_are_cleared(tmp_path):
    stack = stack_in(tmp_path)
    recover(stack)
    assert stack.state["pending_operations"] == []


@pytest.fixture
def short_wait(monkeypatch):
    """How long a command waits for an interrupted run's engine to let go, shortened for the test."""
    monkeypatch.setattr("envbuilder.engine.workspace.ENGINE_STOP_SECONDS", 1.0)


def test_an_engine_that_is_still_saving_its_work_is_waited_for_then_its_pending_operations_cleared(tmp_path):
    # What kill -9 of envbuilder leaves: its engine, still running, finishing the update and letting go.
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
    held = lock(tmp_path, engine.pid)
    stack = stack_in(tmp_path)
    done = recover(stack)
    assert engine.poll() is not None or engine.wait(5) == 0
    assert not held.exists() and stack.state["pending_operations"] == []
    assert any("cleared 1 pending operation" in line for line in done)


@pytest.mark.parametrize("holder", ["a live process on this machine", "a process on another machine"])
def test_a_lock_that_may_still_be_held_stops_recovery_and_changes_nothing(tmp_path, holder, short_wait):
    held = lock(tmp_path, *((os.getpid(),) if holder.endswith("this machine") else (1234, "elsewhere")))
    stack = stack_in(tmp_path)
    with pytest.raises(EnvbuilderError, match="may still be working on it") as refused:
        recover(stack)
    assert held.exists() and stack.state["pending_operations"] == PENDING
    assert str(held) in (refused.value.hint or "")


def test_on_a_shared_backend_nothing_is_cancelled_or_cleared(tmp_path):
    stack = StandInStack("dev", Workspace({"PULUMI_BACKEND_URL": "s3://team-bucket/envbuilder"}))
    done = recover(stack)
    assert not stack.cancelled and stack.state["pending_operations"] == PENDING
    assert any("left as they are" in line for line in done)


@pytest.fixture
def real_stack(isolated_state, monkeypatch):
    """A stack of the local backend, through the real Pulumi CLI (no plugins needed)."""
    from envbuilder.cluster.tools import find_tool
    from envbuilder.engine.workspace import select_stack

    if find_tool("pulumi") is None:
        pytest.skip(reason="the Pulumi CLI is not built yet: run make toolchain")
    stack = select_stack("interrupted", lambda: None)
    return stack, Path(isolated_state) / "pulumi"


def interrupted_cluster_create(backend: Path) -> None:
    """What the engine leaves when it is killed while kind creates the cluster: a pending create."""
    state_file = backend / ".pulumi" / "stacks" / "envbuilder" / "interrupted.json"
    checkpoint = json.loads(state_file.read_text())
    cluster = {"urn": "urn:pulumi:interrupted::envbuilder::pulumi-python:dynamic:Resource::cluster", "custom": True,
               "type": "pulumi-python:dynamic:Resource", "inputs": {"name": "envbuilder-interrupted"}}
    checkpoint["checkpoint"]["latest"]["pending_operations"] = [{"resource": cluster, "type": "creating"}]
    state_file.write_text(json.dumps(checkpoint))


def real_lock(backend: Path, pid: int) -> Path:
    path = backend / ".pulumi" / "locks" / "organization" / "envbuilder" / "interrupted" / "crashed-run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "username": "ci", "hostname": socket.gethostname(),
                                "timestamp": "2026-01-01T00:00:00Z"}))
    return path


def test_on_the_real_cli_a_live_lock_keeps_the_interrupted_create_and_a_dead_one_lets_it_be_cleared(real_stack,
                                                                                                    short_wait):
    from envbuilder.engine.workspace import kind_clusters_in

    stack, backend = real_stack
    interrupted_cluster_create(backend)
    assert kind_clusters_in(stack, pending_only=True) == {"envbuilder-interrupted"}

    held = real_lock(backend, os.getpid())
    with pytest.raises(EnvbuilderError, match="may still be working on it"):
        recover(stack)
    assert held.exists() and kind_clusters_in(stack, pending_only=True) == {"envbuilder-interrupted"}

    real_lock(backend, finished_process())
    done = recover(stack)
    assert any("cleared 1 pending operation(s) (creating)" in line for line in done)
    assert kind_clusters_in(stack, pending_only=True) == set()
