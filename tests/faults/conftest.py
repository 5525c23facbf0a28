"""Fault injection: the real CLI interrupted in a phase, then run again, as a user would.

A run is interrupted the way it happens on a workstation: Ctrl-C (SIGINT to the terminal's
foreground process group: envbuilder and the Pulumi CLI it started) or kill -9 of the
envbuilder process alone (the OOM killer, `kill -9 PID`), which leaves its Pulumi CLI and
providers running as orphans. The phase is read from the progress lines the CLI prints in a
log (" • <phase title>"). The suite counts runs killed, runs recovered (the next `up` green)
and objects leaked (anything of the environment left after the next `down`), prints the
figures at the end of the session and writes them to build/faults.json. No process of the
interrupted run may outlive the next command.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from envbuilder.desired.phases import Phase
from tests.support.fault_figures import CASE_PROPERTY
from tests.support.ports import in_the_machines_registry

ENVBUILDER = [sys.executable, "-m", "envbuilder"]
REPO = Path(__file__).resolve().parents[2]
# How each interruption reaches the processes: (signal, to the whole process group). kill -9 of the
# group takes the engine too, which then cannot stop its plugins (they run in process groups of their own).
INTERRUPTIONS = {"ctrl-c": (signal.SIGINT, True), "kill-9": (signal.SIGKILL, False),
                 "kill-9 of the group": (signal.SIGKILL, True)}


@dataclass
class Case:
    target: str
    command: str  # up or down
    phase: str
    interruption: str
    recovered: bool = False
    leaked: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Figures:
    """The cases of one test; recorded in its report (tests/support/fault_figures.py sums up the session's)."""
    cases: list[Case] = field(default_factory=list)


@pytest.fixture(scope="package", autouse=True)  # defined here, so the package is this one
def _ports_of_the_machine() -> Iterator[None]:
    """These environments publish host ports: they reserve them where every environment of the machine does."""
    with in_the_machines_registry():
        yield


@pytest.fixture
def figures(request) -> Iterator[Figures]:
    recorded = Figures()
    yield recorded
    request.node.user_properties.extend((CASE_PROPERTY, asdict(case)) for case in recorded.cases)


@dataclass
class Interrupted:
    output: str
    returncode: int
    pgid: int  # the run's process group, where its orphans live on after kill -9
    processes: dict[int, str] = field(default_factory=dict)  # the run's, when it was interrupted: pid -> command


def process_tree(root: int) -> dict[int, str]:
    """The processes under `root`, by parent pid (plugins run in process groups of their own), with their
    command lines."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[-1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid in (pid for pid, ppid in parents.items() if ppid == parent):
            found[pid] = _command(pid)
            frontier.append(pid)
    return {pid: command for pid, command in found.items() if command}


def survivors(processes: dict[int, str]) -> list[str]:
    """Which of `processes` still run (the same command under the same pid, not a zombie)."""
    return [f"{pid} {command[:120]}" for pid, command in processes.items()
            if _command(pid) == command and not _is_zombie(pid)]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def run(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([*ENVBUILDER, *args], env=env, capture_output=True, text=True, timeout=timeout)


def interrupt_at(env: dict[str, str], args: list[str], phase: str, interruption: str,
                 timeout: float = 900, on_reaching: Callable[[int], None] = lambda pgid: None) -> Interrupted:
    """Run the CLI until `phase` has begun, then (after `on_reaching` its process group) interrupt it; returns
    once envbuilder has exited.

    The CLI runs in a process group of its own, as a job of a terminal does. After kill -9 its
    orphans (the Pulumi CLI, providers) are left running: what the next command meets."""
    signum, whole_group = INTERRUPTIONS[interruption]
    banner = f"• {Phase(phase).title}"
    process = subprocess.Popen([*ENVBUILDER, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    lines: list[str] = []
    reached = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if line.strip() == banner:
                reached.set()
        reached.set()  # the stream ended: the process exited on its own

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not reached.wait(timeout) or process.poll() is not None:
        _stop_group(process.pid)
        pytest.fail(f"envbuilder {args[0]} never reached the {phase} phase (exit {process.poll()}):\n{''.join(lines)}")
    on_reaching(process.pid)
    processes = process_tree(process.pid)
    if whole_group:
        os.killpg(process.pid, signum)
    else:
        os.kill(process.pid, signum)
    try:
        returncode = process.wait(timeout=300)
    except subprocess.TimeoutExpired:
        _stop_group(process.pid)
        pytest.fail(f"envbuilder {args[0]} did not stop within 300 s of {interruption}:\n{''.join(lines)}")
    if not whole_group:
        process.stderr.close()  # orphans hold the pipe open; envbuilder itself is gone
    reader.join(5)
    return Interrupted("".join(lines), returncode, process.pid, processes)


def engines_of(pgid: int) -> list[int]:
    """The run's Pulumi CLI processes that are alive (also as orphans, after kill -9 of envbuilder)."""
    listed = subprocess.run(["ps", "-o", "pid=,stat=,comm=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return [int(pid) for pid, stat, comm in (line.split(None, 2) for line in listed.splitlines() if line.strip())
            if comm == "pulumi" and not stat.startswith("Z")]


def _stop_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_case(case: Case, figures: Figures, interrupt: Callable[[], Interrupted],
             again: Callable[[], subprocess.CompletedProcess],
             down: Callable[[], subprocess.CompletedProcess] | None,
             left: Callable[[], dict[str, list[str]]]) -> subprocess.CompletedProcess:
    """Interrupt, run `again` (the next `up`, or the next `down` of an interrupted one: green; returned; no
    process of the interrupted run left), then `down` unless `again` was one (nothing of the environment
    left); the figures count every step. Whatever of the run's processes is still there at the end is stopped."""
    started = time.monotonic()
    figures.cases.append(case)
    interrupted = interrupt()
    try:
        assert interrupted.returncode != 0, interrupted.output
        recovering = again()
        # The next command stops whatever the interrupted run left running: its engine, its plugins.
        outlived = survivors(interrupted.processes)
        case.leaked += [f"process of the interrupted run: {process}" for process in outlived]
        case.recovered = recovering.returncode == 0
        assert case.recovered, (f"the command after {case.interruption} in {case.phase}:\n{interrupted.output}\n"
                                f"---\n{recovering.stdout}{recovering.stderr}")
        assert outlived == [], f"the run interrupted by {case.interruption} outlived the next command: {outlived}"
        removed = down() if down else recovering
        case.leaked += [f"{kind}: {name}" for kind, names in left().items() for name in names]
        case.seconds = time.monotonic() - started
        assert removed.returncode == 0, removed.stdout + removed.stderr
        assert case.leaked == []
    finally:
        _stop_group(interrupted.pgid)
        for pid in (int(process.split()[0]) for process in survivors(interrupted.processes)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return recovering
