"""`envbuilder down`: destroy the stack, remove what the stack could not, then prove nothing is left.

Each step goes on after an earlier one failed (a broken stack must not keep a cluster
alive). Only this home's objects are removed; another home's objects of the same name are
left where they are, and `down` says so. The record, the host ports and the workspace are
forgotten only once nothing of the environment is left; otherwise the record stays, status
`failed`, its message naming what is left.
"""

from dataclasses import dataclass, field
from pathlib import Path

from envbuilder.cluster.docker import Docker
from envbuilder.cluster.kind import Kind
from envbuilder.cluster.kubectl import kubectl_command
from envbuilder.cluster.ownership import (
    LABELLED_CLUSTER_KINDS,
    Trace,
    docker_traces,
    kind_cluster_traces,
    labelled_cluster_traces,
)
from envbuilder.cluster.tools import find_tool
from envbuilder.desired.phases import Phase
from envbuilder.errors import EnvbuilderError, InputError
from envbuilder.naming import cluster_name, identity_selector
from envbuilder.pipeline.output import console
from envbuilder.pipeline.progress import Progress
from envbuilder.state import ports as host_ports
from envbuilder.state.identity import home_identity
from envbuilder.state.locks import environment_lock
from envbuilder.state.records import EnvironmentRecord, delete_record, find_record, list_records, save_record


@dataclass
class Findings:
    """What exists of an environment: this home's (to remove) and other homes' (left alone, with why)."""

    mine: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)

    def add(self, trace: Trace, owner: str, proven_mine: bool = False) -> None:
        if proven_mine or trace.is_owned_by(owner):
            self.mine.append(str(trace))
        else:
            self.left_alone.append(trace.left_alone())


def down(name: str, backend_url: str | None = None) -> None:
    with environment_lock(name):
        record = find_record(name)
        backend_url = record.resolve_backend(backend_url) if record else backend_url
        stack_is_ours = _stack_is_ours(name, record, backend_url)
        found = _traces(name, backend_url, record, set(), stack_is_ours)
        if record is None and not found.mine:
            known = [r.name for r in list_records()]
            raise InputError(
                f"no environment named {name!r} in this envbuilder home; existing environments: "
                f"{', '.join(known) or '(none)'}" + "".join(f"\n{line}" for line in found.left_alone)
            )
        console.print(f"Removing environment [bold]{name}[/]")
        if record:
            record.status, record.message = "deleting", None
            save_record(record)
        problems: list[str] = []
        try:
            with Progress(console) as progress:
                with progress.phase(Phase.DESTROY):
                    stack_problems, clusters_of_the_stack = (
                        _destroy_stack(name, backend_url) if stack_is_ours else ([], set())
                    )
                    problems += stack_problems
                with progress.phase(Phase.CLEANUP):
                    problems += _remove_leftovers(name, record, backend_url, clusters_of_the_stack, stack_is_ours)
                with progress.phase(Phase.VERIFY_CLEAN):
                    found = _traces(name, backend_url, record, clusters_of_the_stack, stack_is_ours)
        except EnvbuilderError as error:  # e.g. the stack is locked by a run that may still be going
            if record:
                record.status, record.message = "failed", f"down stopped: {str(error).splitlines()[0]}"
                save_record(record)
            raise
        for line in found.left_alone:
            console.print(f"[yellow]{line}[/]")
        if found.mine:
            message = "not removed completely; still there: " + "; ".join(found.mine)
            if record:
                record.status, record.message = "failed", message
                save_record(record)
            raise EnvbuilderError(
                f"environment {name} was not removed completely; still there:\n  " + "\n  ".join(found.mine)
                + ("\nerrors on the way:\n  " + "\n  ".join(problems) if problems else ""),
                hint=f"its record is kept (status failed); run envbuilder down {name} again once the cause is fixed",
            )
        _forget(name, record)
        console.print(f"[green]environment {name} is gone[/]: no stack, cluster, containers, volumes, "
                      "kube context, ports or records left")


def _destroy_stack(name: str, backend_url: str | None) -> tuple[list[str], set[str]]:
    """Destroy the stack; also returns the kind clusters the stack held, which are this home's for sure."""
    from envbuilder.engine.api import open_stack, remove_stack, stack_exists, stop_orphaned_engines

    if find_tool("pulumi") is None or not stack_exists(name, backend_url):
        return [], set()
    for message in stop_orphaned_engines(name, backend_url):
        console.print(f"[yellow]recovered:[/] {message}")
    stack = open_stack(name, backend_url)
    for message in stack.recover():
        console.print(f"[yellow]recovered:[/] {message}")
    clusters = stack.kind_clusters()
    try:
        stack.destroy()
        remove_stack(name, backend_url)
    except Exception as error:  # noqa: BLE001 - reported, and the fallback below still runs
        return [str(error)], clusters
    return [], clusters


def _remove_leftovers(name: str, record: EnvironmentRecord | None, backend_url: str | None,
                      clusters_of_the_stack: set[str], stack_is_ours: bool) -> list[str]:
    """What the stack did not take with it: found by name and label, not by the stack's word; this home's only."""
    problems = []
    owner = home_identity()
    kind_binary, docker = find_tool("kind"), _docker()
    if kind_binary and docker:
        kind = Kind(binary=str(kind_binary))
        for trace in kind_cluster_traces(kind, _tool("kubectl"), name):
            if trace.is_owned_by(owner) or trace.name in clusters_of_the_stack:
                try:
                    kind.delete(trace.name)
                except EnvbuilderError as error:
                    problems.append(str(error))
    if docker:
        for trace in docker_traces(docker, name):
            if not trace.is_owned_by(owner):
                continue
            removed = {"container": docker.remove_container, "volume": docker.remove_volume,
                       "network": docker.remove_network}[trace.kind](trace.name)
            if not removed:
                problems.append(f"could not remove {trace}")
    if record and record.target == "existing":
        problems += _delete_labelled_cluster_objects(name, record)
    if (record is None or record.target == "kind") and find_tool("pulumi") and stack_is_ours:
        _forget_stack_of_a_gone_cluster(name, backend_url, clusters_of_the_stack)
    return problems


def _forget(name: str, record: EnvironmentRecord | None) -> None:
    """This machine's own notes of the environment, once nothing of it is left."""
    from envbuilder.engine.api import forget_workspace

    if record and record.target == "kind" and record.kubeconfig:
        Path(record.kubeconfig).unlink(missing_ok=True)
    host_ports.release(name)
    delete_record(name)
    forget_workspace(name)


def _forget_stack_of_a_gone_cluster(name: str, backend_url: str | None, clusters_of_the_stack: set[str]) -> None:
    """A stack that could not be destroyed, once its kind cluster and containers are gone, holds nothing real."""
    from envbuilder.engine.api import remove_stack, stack_exists

    kind_binary = find_tool("kind")
    if not stack_exists(name, backend_url):
        return
    if kind_binary and any(Kind(binary=str(kind_binary)).exists(c) for c in clusters_of_the_stack | {cluster_name(name)}):
        return
    remove_stack(name, backend_url)
    console.print(f"[yellow]removed stack {name}[/]: its cluster is gone, so nothing it held remains")


def _traces(name: str, backend_url: str | None, record: EnvironmentRecord | None,
            clusters_of_the_stack: set[str], stack_is_ours: bool) -> Findings:
    """Everything of the environment that exists on this machine (and, on an existing cluster, in it)."""
    from envbuilder.engine.api import stack_exists

    found = Findings()
    owner = home_identity()
    if find_tool("pulumi") and stack_exists(name, backend_url):
        if stack_is_ours:
            found.mine.append(f"Pulumi stack {name}")
        else:
            found.left_alone.append(f"left alone: Pulumi stack {name} in {backend_url}: this home has no record of it "
                                    "and the stack does not name this home as its owner")
    if record and record.target == "existing":
        kubectl = _kubectl(record)
        for trace in labelled_cluster_traces(kubectl, name, str(record.kube_context)) if kubectl else []:
            found.add(trace, owner)
    kind_binary, docker = find_tool("kind"), _docker()
    if docker:
        if kind_binary:
            for trace in kind_cluster_traces(Kind(binary=str(kind_binary)), _tool("kubectl"), name):
                found.add(trace, owner, proven_mine=trace.name in clusters_of_the_stack)
        for trace in docker_traces(docker, name):
            found.add(trace, owner)
    return found


def _stack_is_ours(name: str, record: EnvironmentRecord | None, backend_url: str | None) -> bool:
    """Every stack of this home's own backend is this home's; in a shared one, a recorded environment's
    and one whose outputs name this home as its owner."""
    if record is not None or backend_url is None:
        return True
    if find_tool("pulumi") is None:
        return False
    from envbuilder.engine.api import stack_owner

    return stack_owner(name, backend_url) == home_identity()


def _docker() -> Docker | None:
    binary = find_tool("docker")
    docker = Docker(binary=str(binary)) if binary else None
    return docker if docker and docker.running() else None


def _tool(name: str) -> str | None:
    path = find_tool(name)
    return str(path) if path else None


def _kubectl(record: EnvironmentRecord) -> list[str] | None:
    kubectl = find_tool("kubectl")
    return kubectl_command(kubectl, record.kubeconfig, str(record.kube_context)) if kubectl else None


def _delete_labelled_cluster_objects(name: str, record: EnvironmentRecord) -> list[str]:
    """What the stack lost track of (an interrupted create) is still found by its labels: this home's only."""
    from envbuilder.cluster.commands import run

    kubectl = _kubectl(record)
    if kubectl is None:
        return ["kubectl is not installed: cannot check the cluster for leftovers"]
    result = run([*kubectl, "delete", LABELLED_CLUSTER_KINDS, "-l", identity_selector(name, home_identity()),
                  "--ignore-not-found", "--wait=true", "--timeout=180s"], timeout=240)
    return [] if result.ok else [f"deleting labelled objects: {result.stderr.strip()}"]

