"""`envbuilder down`: delete what holds the environment, forget its stack, then prove nothing is left.

The engine does not walk the stack object by object: on kind, deleting the cluster deletes
everything in it; on an existing cluster, one delete of the labelled namespace and
cluster-scoped objects does, waited for once. Beside them go the labelled containers,
volumes and networks, and last the stack itself. Only this home's objects are removed;
another home's objects of the same name are left where they are, and `down` says so. The
record, the host ports and the workspace are forgotten only once nothing of the environment
is left; otherwise the record stays, status `failed`, its message naming what is left.

An interrupted `down` is finished by the next one: before anything is deleted the stack
forgets its objects, keeping its kind cluster as one it was creating (the proof that the
cluster is this home's, which the next `down` reads; an `up` in between recovers from it as
from an interrupted create), and the stack itself goes only after everything else.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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
from envbuilder.naming import identity_selector
from envbuilder.pipeline.output import console
from envbuilder.pipeline.progress import Progress
from envbuilder.state import ports as host_ports
from envbuilder.state.identity import home_identity
from envbuilder.state.locks import environment_lock
from envbuilder.state.records import EnvironmentRecord, delete_record, find_record, list_records, save_record

if TYPE_CHECKING:
    from envbuilder.engine.api import EngineStack, StackState


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


# The actions of a teardown; each step names one and what it acts on.
FORGET_STACK_OBJECTS = "forget the objects of stack"
DESTROY_WITH_ENGINE = "destroy with the engine stack"
DELETE_KIND_CLUSTER = "delete kind cluster"
DELETE_LABELLED_OBJECTS = "delete labelled"
REMOVE_DOCKER_OBJECT = {"container": "remove container", "volume": "remove volume", "network": "remove network"}
REMOVE_STACK = "remove stack"


@dataclass(frozen=True)
class Step:
    phase: Phase  # destroy: what holds the environment's objects; cleanup: what is beside it, then the stack
    action: str
    subject: str

    def __str__(self) -> str:
        return f"{self.action} {self.subject}"


def teardown_plan(name: str, target: str | None, stack: bool, clusters_of_the_stack: set[str],
                  traces: list[Trace], owner: str) -> list[Step]:
    """What `down` deletes, in order. `target` None: no record says where the environment runs; `stack`:
    this home's stack of it exists; `traces`: what exists of it on this machine.

    A stack that holds no kind cluster and whose target no record gives is the one thing whose
    objects only the stack can find: the engine destroys it. Otherwise the stack first forgets its
    objects, then goes what holds them (the kind cluster: this home's by its nodes' labels or by
    the stack; on an existing cluster the labelled namespace and cluster-scoped objects, in one
    pass), the containers before the volumes they mount, the networks, and the stack last.
    """
    steps: list[Step] = []
    if stack and target is None and not clusters_of_the_stack:
        steps.append(Step(Phase.DESTROY, DESTROY_WITH_ENGINE, name))
    elif stack:
        steps.append(Step(Phase.DESTROY, FORGET_STACK_OBJECTS, name))
    if target == "existing":
        steps.append(Step(Phase.DESTROY, DELETE_LABELLED_OBJECTS, f"{LABELLED_CLUSTER_KINDS} of {name} owned by {owner}"))
    steps += [Step(Phase.DESTROY, DELETE_KIND_CLUSTER, trace.name) for trace in traces
              if trace.kind == "kind cluster" and (trace.is_owned_by(owner) or trace.name in clusters_of_the_stack)]
    steps += [Step(Phase.CLEANUP, action, trace.name) for kind, action in REMOVE_DOCKER_OBJECT.items()
              for trace in traces if trace.kind == kind and trace.is_owned_by(owner)]
    if stack:
        steps.append(Step(Phase.CLEANUP, REMOVE_STACK, name))
    return steps


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
        try:
            with Progress(console) as progress:
                with progress.phase(Phase.DESTROY):
                    stack = _take_over_stack(name, backend_url) if stack_is_ours else None
                    clusters_of_the_stack = stack.clusters if stack else set()
                    plan = teardown_plan(name, record.target if record else None, stack is not None,
                                         clusters_of_the_stack, _existing_traces(name), home_identity())
                    teardown = _Teardown(name, record, backend_url, stack)
                    teardown.carry_out([step for step in plan if step.phase == Phase.DESTROY])
                with progress.phase(Phase.CLEANUP):
                    teardown.carry_out([step for step in plan if step.phase == Phase.CLEANUP])
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
                + ("\nerrors on the way:\n  " + "\n  ".join(teardown.problems) if teardown.problems else ""),
                hint=f"its record is kept (status failed); run envbuilder down {name} again once the cause is fixed",
            )
        _forget(name, record)
        console.print(f"[green]environment {name} is gone[/]: no stack, cluster, containers, volumes, "
                      "kube context, ports or records left")


@dataclass(frozen=True)
class _TakenOver:
    """This home's stack, with what it said before recovery cleared the operations an interrupted run
    (or `down`) left pending: its state, and the kind clusters it created or was creating."""

    stack: "EngineStack"
    state: "StackState"
    clusters: set[str]


def _take_over_stack(name: str, backend_url: str | None) -> _TakenOver | None:
    """This home's stack, once no engine of an interrupted run works on it; None when there is none."""
    from envbuilder.engine.api import open_stack, stack_exists, stop_orphaned_engines

    if find_tool("pulumi") is None or not stack_exists(name, backend_url):
        return None
    for message in stop_orphaned_engines(name, backend_url):
        console.print(f"[yellow]recovered:[/] {message}")
    stack = open_stack(name, backend_url)
    taken = _TakenOver(stack, stack.state(), stack.kind_clusters())
    for message in stack.recover():
        console.print(f"[yellow]recovered:[/] {message}")
    return taken


def _existing_traces(name: str) -> list[Trace]:
    """The environment's kind cluster, containers, volumes and networks that exist, whoever owns them."""
    kind_binary, docker = find_tool("kind"), _docker()
    if docker is None:
        return []
    clusters = kind_cluster_traces(Kind(binary=str(kind_binary)), _tool("kubectl"), name) if kind_binary else []
    return clusters + docker_traces(docker, name)


class _Teardown:
    """Carries out a plan's steps, each after an earlier one failed too (a broken stack must not keep a
    cluster alive); the stack goes only once everything it held went. Collects what failed."""

    def __init__(self, name: str, record: EnvironmentRecord | None, backend_url: str | None,
                 stack: _TakenOver | None) -> None:
        self.name, self.record, self.backend_url, self.stack = name, record, backend_url, stack
        self.problems: list[str] = []
        self._something_stayed = False

    def carry_out(self, steps: list[Step]) -> None:
        for step in steps:
            if step.action == REMOVE_STACK and self._something_stayed:
                continue  # kept: the next down reads from it which kind cluster is this home's
            try:
                self._do(step)
            except Exception as error:  # noqa: BLE001 - the engine's and the Automation API's errors too, reported
                self.problems.append(str(error) if isinstance(error, EnvbuilderError) else f"{step}: {error}")
                self._something_stayed |= step.action != FORGET_STACK_OBJECTS

    def _do(self, step: Step) -> None:
        from envbuilder.engine.api import remove_stack

        if step.action == FORGET_STACK_OBJECTS:
            self.stack.stack.forget_objects(self.stack.state)
        elif step.action == DESTROY_WITH_ENGINE:
            self.stack.stack.destroy()
        elif step.action == DELETE_KIND_CLUSTER:
            kubeconfig = self.record.kubeconfig if self.record and self.record.target == "kind" else None
            Kind(binary=str(find_tool("kind"))).delete(step.subject, Path(kubeconfig) if kubeconfig else None)
        elif step.action == DELETE_LABELLED_OBJECTS:
            assert self.record is not None, "only a record says an environment is on an existing cluster"
            _delete_labelled_cluster_objects(self.name, self.record)
        elif step.action in REMOVE_DOCKER_OBJECT.values():
            kind = next(kind for kind, action in REMOVE_DOCKER_OBJECT.items() if action == step.action)
            if not getattr(Docker(binary=str(find_tool("docker"))), f"remove_{kind}")(step.subject):
                raise EnvbuilderError(f"could not {step}")
        elif step.action == REMOVE_STACK:
            remove_stack(self.name, self.backend_url)


def _forget(name: str, record: EnvironmentRecord | None) -> None:
    """This machine's own notes of the environment, once nothing of it is left."""
    from envbuilder.engine.api import forget_workspace

    if record and record.target == "kind" and record.kubeconfig:
        Path(record.kubeconfig).unlink(missing_ok=True)
    host_ports.release(name)
    delete_record(name)
    forget_workspace(name)


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


def _delete_labelled_cluster_objects(name: str, record: EnvironmentRecord) -> None:
    """The namespace (and with it everything in it) and the cluster-scoped objects, found by their labels,
    this home's only, in one pass, waited for once."""
    from envbuilder.cluster.commands import run

    kubectl = _kubectl(record)
    if kubectl is None:
        raise EnvbuilderError("kubectl is not installed: cannot delete the environment's objects in the cluster")
    result = run([*kubectl, "delete", LABELLED_CLUSTER_KINDS, "-l", identity_selector(name, home_identity()),
                  "--ignore-not-found", "--wait=true", "--timeout=180s"], timeout=240)
    if not result.ok:
        raise EnvbuilderError(f"deleting labelled objects: {result.stderr.strip()}")
