"""`envbuilder down`: delete what holds the environment, forget its stack, then prove nothing is left.

The engine does not walk the stack object by object: on kind, deleting the cluster deletes
everything in it; on an existing cluster, one delete of the labelled namespace and
cluster-scoped objects does, waited for once. Beside them, at the same time, go the labelled
containers and then their volumes; the networks once the cluster and the containers on them
are gone, and the stack once what it proves this home's is. Only this home's objects are
removed; another home's objects of the same name are left where they are, and `down` says so.
The record, the host ports and the workspace are forgotten only once nothing of the environment
is left; otherwise the record stays, status `failed`, its message naming what is left.

An interrupted `down` is finished by the next one: before anything is deleted the stack
forgets its objects, keeping its kind cluster as one it was creating (the proof that the
cluster is this home's, which the next `down` reads; an `up` in between recovers from it as
from an interrupted create), and the stack itself goes only once the cluster is gone.

What exists is looked up once at the start and once at the end, each lookup beside the others;
the stack is read, made to forget its objects and removed with one Pulumi CLI call each.
"""

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from envbuilder.cluster.docker import Docker
from envbuilder.cluster.kind import Kind
from envbuilder.cluster.kubectl import kubectl_command
from envbuilder.cluster.ownership import (
    LABELLED_CLUSTER_KINDS,
    Trace,
    docker_traces,
    kind_cluster_trace,
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

if TYPE_CHECKING:
    from envbuilder.engine.api import StoredStack


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

# What each action waits for (the steps of these actions in the plan); everything else runs at once.
# The stack goes once what only it proves this home's (the cluster) or knows where (the engine's
# objects) is gone; a network once the nodes and containers on it are.
_FIRST = (FORGET_STACK_OBJECTS, DESTROY_WITH_ENGINE)
_HOLDERS = (DELETE_KIND_CLUSTER, DELETE_LABELLED_OBJECTS)
WAITS_FOR: dict[str, tuple[str, ...]] = {
    FORGET_STACK_OBJECTS: (),
    DESTROY_WITH_ENGINE: (),
    DELETE_KIND_CLUSTER: _FIRST,
    DELETE_LABELLED_OBJECTS: _FIRST,
    REMOVE_DOCKER_OBJECT["container"]: _FIRST,
    REMOVE_DOCKER_OBJECT["volume"]: (*_FIRST, REMOVE_DOCKER_OBJECT["container"]),
    REMOVE_DOCKER_OBJECT["network"]: (*_FIRST, *_HOLDERS, REMOVE_DOCKER_OBJECT["container"]),
    REMOVE_STACK: (*_FIRST, *_HOLDERS),
}
# A failure of these keeps the stack: the next `down` reads from it which kind cluster is this home's, or
# its engine destroys what only the stack knows of.
_KEEPS_THE_STACK = (DESTROY_WITH_ENGINE, *_HOLDERS)


@dataclass(frozen=True)
class Step:
    phase: Phase  # destroy: what holds the environment's objects; cleanup: what is beside it, then the stack
    action: str
    subject: str

    def __str__(self) -> str:
        return f"{self.action} {self.subject}"


def teardown_plan(name: str, target: str | None, stack: bool, clusters_of_the_stack: set[str],
                  traces: list[Trace], owner: str) -> list[Step]:
    """What `down` deletes, each step after the steps it waits for (WAITS_FOR). `target` None: no record
    says where the environment runs; `stack`: this home's stack of it exists; `traces`: what exists of it.

    A stack that holds no kind cluster and whose target no record gives is the one thing whose
    objects only the stack can find: the engine destroys it. Otherwise the stack first forgets its
    objects, then go what holds them (the kind cluster: this home's by its nodes' labels or by the
    stack; on an existing cluster the labelled namespace and cluster-scoped objects, in one pass) and,
    at the same time, the containers, then the volumes they mount; the networks once the cluster and
    the containers are gone, and the stack beside them.
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
        # Before anything is looked at: an interrupted run's engine may still be making objects.
        recovered = _stop_orphaned_engines(name, backend_url)
        with ThreadPoolExecutor(max_workers=1) as reading:  # the stack is read while the rest is looked up
            stack_read = reading.submit(_stack_of, name, record, backend_url)
            survey = _survey(name, record, lambda: stack_read.result()[2])
            stack, stack_is_ours, clusters_of_the_stack = stack_read.result()
        found = survey.findings(name, stack is not None, stack_is_ours, backend_url, clusters_of_the_stack)
        if record is None and not found.mine:
            known = [r.name for r in list_records()]
            raise InputError(
                f"no environment named {name!r} in this envbuilder home; existing environments: "
                f"{', '.join(known) or '(none)'}" + "".join(f"\n{line}" for line in found.left_alone)
            )
        console.print(f"Removing environment [bold]{name}[/]")
        for message in recovered:
            console.print(f"[yellow]recovered:[/] {message}")
        if record:
            record.status, record.message = "deleting", None
            save_record(record)
        try:
            with Progress(console) as progress:
                plan = teardown_plan(name, record.target if record else None, stack_is_ours,
                                     clusters_of_the_stack, survey.traces, home_identity())
                teardown = _Teardown(name, record, backend_url, stack if stack_is_ours else None, progress)
                teardown.carry_out(plan)
                with progress.phase(Phase.VERIFY_CLEAN):
                    docker_answers = survey.docker_answers
                    left, stack_stays = _at_once(
                        lambda: _survey(name, record, lambda: clusters_of_the_stack, docker_answers),
                        lambda: _stack_exists(name, backend_url))
                    found = left.findings(name, stack_stays, stack_is_ours, backend_url, clusters_of_the_stack)
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


def _stop_orphaned_engines(name: str, backend_url: str | None) -> list[str]:
    if find_tool("pulumi") is None:
        return []
    from envbuilder.engine.api import stop_orphaned_engines

    return stop_orphaned_engines(name, backend_url)


def _stack_of(name: str, record: EnvironmentRecord | None,
              backend_url: str | None) -> tuple["StoredStack | None", bool, set[str]]:
    """The environment's stack as stored (anyone's; None when there is none), whether it is this home's, and
    then the kind clusters it holds. Every stack of this home's own backend is this home's; in a shared one, a
    recorded environment's and one whose outputs name this home as its owner."""
    if find_tool("pulumi") is None:
        return None, False, set()
    from envbuilder.engine.api import stored_stack

    stack = stored_stack(name, backend_url)
    ours = stack is not None and (record is not None or backend_url is None or stack.owner == home_identity())
    return stack, ours, stack.kind_clusters() if stack and ours else set()


def _stack_exists(name: str, backend_url: str | None) -> bool:
    if find_tool("pulumi") is None:
        return False
    from envbuilder.engine.api import stack_exists

    return stack_exists(name, backend_url)


_T = TypeVar("_T")


def _at_once(*lookups: Callable[[], _T]) -> list[_T]:
    """Each lookup's result, the lookups run beside one another (each is a command or two to wait for)."""
    with ThreadPoolExecutor(max_workers=len(lookups)) as pool:
        return [future.result() for future in [pool.submit(lookup) for lookup in lookups]]


@dataclass
class _Survey:
    """What exists of the environment on this machine (and, on an existing cluster, in it), whoever owns it."""

    traces: list[Trace]
    docker_answers: bool  # False: Docker does not answer, so nothing of Docker's (nor kind's) was looked at

    def findings(self, name: str, stack: bool, stack_is_ours: bool, backend_url: str | None,
                 clusters_of_the_stack: set[str]) -> Findings:
        """`stack`: the backend holds a stack of the environment."""
        found = Findings()
        owner = home_identity()
        if stack and stack_is_ours:
            found.mine.append(f"Pulumi stack {name}")
        elif stack:
            found.left_alone.append(f"left alone: Pulumi stack {name} in {backend_url}: this home has no record of it "
                                    "and the stack does not name this home as its owner")
        for trace in self.traces:
            found.add(trace, owner, proven_mine=trace.kind == "kind cluster" and trace.name in clusters_of_the_stack)
        return found


def _survey(name: str, record: EnvironmentRecord | None, clusters_of_the_stack: Callable[[], set[str]],
            docker_answers: bool | None = None) -> _Survey:
    """The environment's kind cluster, labelled containers, volumes and networks and, on an existing cluster,
    its labelled objects there, each looked up beside the others. A cluster the stack holds is this home's:
    its nodes' labels are not read (`clusters_of_the_stack` waits for the stack's, should it be read
    meanwhile). `docker_answers`: known from an earlier survey of this run."""
    kind_binary, docker_binary = find_tool("kind"), find_tool("docker")
    docker = Docker(binary=str(docker_binary)) if docker_binary else None
    kubectl = _kubectl(record) if record and record.target == "existing" else None

    def answers() -> bool:
        return docker is not None and (docker.running() if docker_answers is None else docker_answers)

    def kind_clusters() -> list[Trace]:
        if kind_binary is None or docker is None:
            return []
        kind = Kind(binary=str(kind_binary))
        return [Trace("kind cluster", cluster, name, None, "its owner was not read: the stack holds it")
                if cluster in clusters_of_the_stack() else kind_cluster_trace(kind, _tool("kubectl"), cluster)
                for cluster in kind.clusters() if cluster == cluster_name(name)]

    def docker_objects() -> list[Trace]:
        return docker_traces(docker, name) if docker else []

    def in_the_cluster() -> list[Trace]:
        return labelled_cluster_traces(kubectl, name, str(record.kube_context)) if kubectl and record else []

    running, clusters, objects, labelled = _at_once(answers, _attempt(kind_clusters), _attempt(docker_objects),
                                                    in_the_cluster)
    if not running:  # kind's and Docker's lookups failed, or told nothing
        return _Survey(labelled, False)
    return _Survey([*_result(clusters), *_result(objects), *labelled], True)


def _attempt(lookup: Callable[[], _T]) -> Callable[[], "_T | Exception"]:
    """The lookup, its failure returned rather than raised: one of Docker's is no error when Docker is down."""
    def attempted() -> "_T | Exception":
        try:
            return lookup()
        except EnvbuilderError as error:
            return error
    return attempted


def _result(outcome: "_T | Exception") -> _T:
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


class _Teardown:
    """Carries out a plan: each step once the steps it waits for (WAITS_FOR) are done, the others at once.
    A step runs after one it waits for failed too (a broken stack must not keep a cluster alive), but the
    stack stays when what only it proves this home's or knows of stayed. Collects what failed; each phase's
    status line ends with its last step."""

    def __init__(self, name: str, record: EnvironmentRecord | None, backend_url: str | None,
                 stack: "StoredStack | None", progress: Progress) -> None:
        self.name, self.record, self.backend_url, self.stack, self.progress = name, record, backend_url, stack, progress
        self.problems: list[str] = []
        self._failed: list[Step] = []
        self._left: dict[Phase, int] = {}
        self._lock = threading.Lock()  # the progress, the problems and what is left are shared by the steps
        self._stopping = threading.Event()

    def carry_out(self, plan: list[Step]) -> None:
        self._left = {phase: sum(step.phase == phase for step in plan) for phase in (Phase.DESTROY, Phase.CLEANUP)}
        self.progress.start(Phase.DESTROY)
        if not self._left[Phase.DESTROY]:
            self.progress.finish(Phase.DESTROY, final=True)
        pool = ThreadPoolExecutor(max_workers=max(len(plan), 1))
        futures: dict[Step, Future[bool]] = {}
        try:
            for step in plan:  # in the plan's order, which puts each step after those it waits for
                waits = [future for earlier, future in futures.items() if earlier.action in WAITS_FOR[step.action]]
                futures[step] = pool.submit(self._after, waits, step)
            for future in futures.values():
                future.result()
        except BaseException:  # Ctrl-C: no step starts any more; the next `down` finishes
            self._stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        if Phase.CLEANUP not in self.progress.phases:  # nothing beside: its line all the same
            self.progress.start(Phase.CLEANUP)
            self.progress.finish(Phase.CLEANUP, final=True)

    def _after(self, waits: list["Future[bool]"], step: Step) -> bool:
        """Carry `step` out once `waits` are done; whether it failed (or did not run)."""
        for future in waits:
            future.exception()  # waits; a failure there is the earlier step's, already collected
        keeps_the_stack = any(failed.action in _KEEPS_THE_STACK for failed in self._failed)
        if self._stopping.is_set() or (step.action == REMOVE_STACK and keeps_the_stack):
            self._done(step, ok=False)  # kept: the next down reads from it which kind cluster is this home's
            return True
        with self._lock:
            self.progress.start(step.phase)
        try:
            self._do(step)
        except Exception as error:  # noqa: BLE001 - the engine's and the Automation API's errors too, reported
            with self._lock:
                self.problems.append(str(error) if isinstance(error, EnvbuilderError) else f"{step}: {error}")
                self._failed.append(step)
            self._done(step, ok=False)
            return True
        except BaseException:  # interrupted: what waits for this step does not start
            self._stopping.set()
            raise
        self._done(step, ok=True)
        return False

    def _done(self, step: Step, ok: bool) -> None:
        with self._lock:
            self._left[step.phase] -= 1
            if not self._left[step.phase]:
                self.progress.start(step.phase)  # a phase whose only step did not run still gets its line
                self.progress.finish(step.phase, ok=not any(failed.phase == step.phase for failed in self._failed),
                                     final=True)

    def _do(self, step: Step) -> None:
        if step.action == FORGET_STACK_OBJECTS:
            assert self.stack is not None, "only this home's stack forgets its objects"
            for message in self.stack.forget_objects():
                console.print(f"[yellow]recovered:[/] {message}")
        elif step.action == DESTROY_WITH_ENGINE:
            from envbuilder.engine.api import open_stack

            engine = open_stack(self.name, self.backend_url)
            for message in engine.recover():
                console.print(f"[yellow]recovered:[/] {message}")
            engine.destroy()
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
            assert self.stack is not None, "only this home's stack is removed"
            self.stack.remove()


def _forget(name: str, record: EnvironmentRecord | None) -> None:
    """This machine's own notes of the environment, once nothing of it is left."""
    from envbuilder.engine.api import forget_workspace

    if record and record.target == "kind" and record.kubeconfig:
        Path(record.kubeconfig).unlink(missing_ok=True)
    host_ports.release(name)
    delete_record(name)
    forget_workspace(name)


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
