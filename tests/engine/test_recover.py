"""Recovering a stack after an interrupted run: its lock must prove no other process holds it.

The stack is a stand-in for the Automation API's (state and import recorded in memory); the
lock files are real files in a local backend's layout, naming real processes.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from envbuilder.engine.backend import STACK_WORKSPACE_VARIABLE, workspace_path
from envbuilder.engine.orphans import recover, restore_cut_checkpoint, stop_orphaned_engines, stop_orphaned_plugins
from envbuilder.errors import EnvbuilderError
from envbuilder.polling import wait_until
from tests.support.engine_locks import finished_process, stack_lock
from tests.support.tools import missing

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
    return stack_lock(backend, "dev", pid, hostname)


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
    monkeypatch.setattr("envbuilder.engine.commands.ENGINE_STOP_SECONDS", 1.0)


def test_an_engine_that_is_still_saving_its_work_is_waited_for_then_its_pending_operations_cleared(tmp_path):
    # What kill -9 of envbuilder leaves: its engine, still running, finishing the update and letting go.
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
    held = lock(tmp_path, engine.pid)
    stack = stack_in(tmp_path)
    done = recover(stack)
    assert engine.poll() is not None or engine.wait(5) == 0
    assert not held.exists() and stack.state["pending_operations"] == []
    assert any("cleared 1 pending operation" in line for line in done)


# An engine as the Automation API starts it (its program's host at --client), holding the stack's lock.
# A responsive one lets go of the lock and stops on Ctrl-C; a wedged one ignores it, and runs a
# plugin of its own. Left alone, either goes on for a minute.
ENGINE = """
import pathlib, signal, subprocess, sys, time
locks, wedged = pathlib.Path(sys.argv[1]), sys.argv[2] == "wedged"
if wedged:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    plugin = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
try:  # from its first word on: Ctrl-C may come as soon as it has said it runs
    print(plugin.pid if wedged else 0, flush=True)
    time.sleep(60)
except KeyboardInterrupt:
    for lock in locks.glob("*.json"):
        lock.unlink()
"""


@dataclass
class Engine:
    process: subprocess.Popen
    lock: Path
    plugin: int  # the pid of a process it started (0: none)


def engine_of(backend: Path, client: str, behaviour: str = "responsive") -> Engine:
    locks = backend / ".pulumi" / "locks" / "organization" / "envbuilder" / "dev"
    process = subprocess.Popen([sys.executable, "-c", ENGINE, str(locks), behaviour, f"--client={client}"],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    plugin = int(process.stdout.readline())
    return Engine(process, lock(backend, process.pid), plugin)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"


@pytest.fixture
def command_listening() -> Iterator[tuple[str, socket.socket]]:
    """An envbuilder command's address for its engine, and its listening socket."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"127.0.0.1:{server.getsockname()[1]}", server


@pytest.fixture
def command_killed(command_listening) -> str:
    """kill -9 of envbuilder: nothing listens for its engine any more."""
    client, server = command_listening
    server.close()
    return client


def test_an_engine_whose_command_was_killed_is_stopped_as_ctrl_c_would_then_its_work_recovered(
        tmp_path, command_killed, monkeypatch):
    monkeypatch.setattr("envbuilder.engine.commands.ENGINE_STOP_SECONDS", 20.0)  # well short of its minute
    engine = engine_of(tmp_path, command_killed)
    done = stop_orphaned_engines("dev", tmp_path.as_uri())
    assert done == [f"asked the engine an interrupted run left running (pid {engine.process.pid}) to stop: "
                    "its command is gone"]
    assert engine.process.wait(5) == 0 and not engine.lock.exists()
    stack = stack_in(tmp_path)
    recover(stack)
    assert stack.state["pending_operations"] == []


def test_a_wedged_engine_whose_command_was_killed_is_killed_with_what_it_started(tmp_path, command_killed,
                                                                                 short_wait):
    engine = engine_of(tmp_path, command_killed, "wedged")
    done = stop_orphaned_engines("dev", tmp_path.as_uri())
    assert engine.process.wait(5) == -signal.SIGKILL
    wait_until(lambda: not alive(engine.plugin), timeout=5, what="the plugin to die of its SIGKILL")
    assert done[-1].startswith(f"killed that engine (pid {engine.process.pid}) and 1 process(es) it had started")
    stack = stack_in(tmp_path)
    recover(stack)
    assert not engine.lock.exists() and stack.state["pending_operations"] == []


def test_an_engine_whose_command_still_listens_is_left_alone(tmp_path, command_listening, short_wait):
    client, _server = command_listening
    engine = engine_of(tmp_path, client)
    try:
        assert stop_orphaned_engines("dev", tmp_path.as_uri()) == []
        with pytest.raises(EnvbuilderError, match=f"locked by pid {engine.process.pid} on this machine"):
            recover(stack_in(tmp_path))
        assert engine.process.poll() is None and engine.lock.exists()
    finally:
        engine.process.kill()
        engine.process.wait()


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
    from envbuilder.engine.stacks import select_stack

    if find_tool("pulumi") is None:
        missing("toolchain", "the Pulumi CLI is not built", "make setup")
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
    from envbuilder.engine.stacks import kind_clusters_in

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


# A run's engine that starts a plugin in a process group of its own, as the Pulumi CLI does; the plugin
# starts a command of its own (kind, docker). Each prints its pid. The engine either exits at once (its
# run was killed with its process group) or runs on.
RUN = """
import subprocess, sys, time
command = "import subprocess, sys, time; print(subprocess.Popen(['sleep', '60']).pid, flush=True); time.sleep(60)"
plugin = subprocess.Popen([sys.executable, "-c", command], start_new_session=True, stdout=subprocess.PIPE, text=True)
print(plugin.pid, plugin.stdout.readline().strip(), flush=True)
if sys.argv[1] == "runs on":
    time.sleep(60)
"""


def run_of(workspace: Path, engine: str) -> tuple[subprocess.Popen, list[int]]:
    """A run of the stack whose workspace is `workspace`; returns its engine and the pids of its plugin's processes."""
    env = {**os.environ, STACK_WORKSPACE_VARIABLE: str(workspace)}
    process = subprocess.Popen([sys.executable, "-c", RUN, engine], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, [int(pid) for pid in process.stdout.readline().split()]


def test_the_plugins_of_a_run_killed_with_its_process_group_are_killed_by_the_next_command(tmp_path):
    engine, plugin = run_of(workspace_path("dev"), "killed")
    engine.wait(10)  # gone: its plugin lives on, an orphan
    other_engine, other_plugin = run_of(workspace_path("another"), "killed")  # another environment's
    other_engine.wait(10)
    try:
        assert all(alive(pid) for pid in [*plugin, *other_plugin])
        done = stop_orphaned_engines("dev", tmp_path.as_uri())
        assert done == [f"killed 2 plugin process(es) an interrupted run left running (pid {plugin[0]}): "
                        "its engine is gone"]
        assert not any(alive(pid) for pid in plugin)
        assert all(alive(pid) for pid in other_plugin)
    finally:
        for pid in [*plugin, *other_plugin]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_plugins_of_a_live_engine_are_left_alone(tmp_path):
    engine, plugin = run_of(workspace_path("dev"), "runs on")
    try:
        assert stop_orphaned_plugins("dev") == []
        assert all(alive(pid) for pid in plugin) and engine.poll() is None
    finally:
        for pid in [engine.pid, *plugin]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        engine.wait()


def test_a_checkpoint_cut_short_by_a_killed_engine_is_restored_from_its_backup(tmp_path):
    stacks = tmp_path / ".pulumi" / "stacks" / "envbuilder"
    stacks.mkdir(parents=True)
    (stacks / "dev.json.bak").write_text(json.dumps({"version": 3, "checkpoint": {"stack": "dev"}}))
    (stacks / "dev.json.bak.attrs").write_text('{"md5": "of the backup"}')
    (stacks / "dev.json").write_text('{"version": 3, "check')  # the engine died while writing it
    (stacks / "dev.json.attrs").write_text('{"md5": "of the whole checkpoint"}')
    (stacks / "other.json").write_text('{"version": 3}')
    assert restore_cut_checkpoint(tmp_path, "dev") == [
        "restored the stack's checkpoint, cut short by an interrupted run, from dev.json.bak"]
    assert json.loads((stacks / "dev.json").read_text())["checkpoint"] == {"stack": "dev"}
    assert (stacks / "dev.json.attrs").read_text() == '{"md5": "of the backup"}'
    assert restore_cut_checkpoint(tmp_path, "dev") == []


def test_a_checkpoint_whose_attributes_a_killed_engine_cut_short_is_read_without_them(tmp_path):
    stacks = tmp_path / ".pulumi" / "stacks" / "envbuilder"
    stacks.mkdir(parents=True)
    whole = json.dumps({"version": 3, "checkpoint": {"stack": "dev"}})
    (stacks / "dev.json").write_text(whole)
    (stacks / "dev.json.attrs").write_text("")  # the engine died while writing them: Pulumi reads EOF
    (stacks / "other.json").write_text(whole)
    (stacks / "other.json.attrs").write_text('{"md5": "of other"}')
    assert restore_cut_checkpoint(tmp_path, "dev") == [
        "removed the attributes of the stack's checkpoint, cut short by an interrupted run"]
    assert (stacks / "dev.json").read_text() == whole and not (stacks / "dev.json.attrs").exists()
    assert (stacks / "other.json.attrs").read_text() == '{"md5": "of other"}'
    assert restore_cut_checkpoint(tmp_path, "dev") == []
