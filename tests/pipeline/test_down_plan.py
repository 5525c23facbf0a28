"""What `down` deletes, in which order, on which target, what runs at once: the plan, from what exists, and
its teardown, without the engine.

The objects found are plain traces, the stack's state a plain deployment, the steps recorded, not done.
"""

import io
import threading
import time

import pytest
from rich.console import Console

from envbuilder.cluster.ownership import Trace
from envbuilder.desired.phases import Phase
from envbuilder.engine.stacks import CLUSTERS_BEING_DELETED_OUTPUT, forgotten, kind_clusters_of
from envbuilder.errors import EnvbuilderError
from envbuilder.pipeline.progress import Progress
from envbuilder.pipeline.down import (
    DELETE_KIND_CLUSTER,
    DELETE_LABELLED_OBJECTS,
    DESTROY_WITH_ENGINE,
    FORGET_STACK_OBJECTS,
    REMOVE_STACK,
    Step,
    _Teardown,
    teardown_plan,
)

ME, THEM = "this-home", "another-home"
CLUSTER = "envbuilder-demo"


def found(*objects: tuple[str, str, str | None]) -> list[Trace]:
    return [Trace(kind, name, "demo", owner) for kind, name, owner in objects]


def actions(steps: list[Step]) -> list[str]:
    return [f"{step.phase}: {step}" for step in steps]


ON_KIND = found(("kind cluster", CLUSTER, ME), ("container", f"{CLUSTER}-f5", ME),
                ("container", f"{CLUSTER}-legacy-worker", ME), ("container", f"{CLUSTER}-web", THEM),
                ("volume", f"{CLUSTER}-f5-state", ME), ("network", f"{CLUSTER}-net", ME))


def test_on_kind_the_stack_forgets_its_objects_then_the_cluster_goes_then_what_is_beside_it_and_the_stack_last():
    plan = teardown_plan("demo", "kind", True, {CLUSTER}, ON_KIND, ME)
    assert actions(plan) == [
        f"destroy: {FORGET_STACK_OBJECTS} demo",
        f"destroy: {DELETE_KIND_CLUSTER} {CLUSTER}",
        f"cleanup: remove container {CLUSTER}-f5",
        f"cleanup: remove container {CLUSTER}-legacy-worker",
        f"cleanup: remove volume {CLUSTER}-f5-state",
        f"cleanup: remove network {CLUSTER}-net",
        f"cleanup: {REMOVE_STACK} demo",
    ]
    assert not any(step.action == DESTROY_WITH_ENGINE for step in plan), "the engine walks no object on kind"
    assert not any(f"{CLUSTER}-web" in str(step) for step in plan), "another home's container stays"


def test_a_kind_cluster_whose_owner_cannot_be_read_is_deleted_only_when_the_stack_holds_it():
    unreadable = found(("kind cluster", CLUSTER, None))
    assert f"{DELETE_KIND_CLUSTER} {CLUSTER}" in map(str, teardown_plan("demo", "kind", True, {CLUSTER}, unreadable, ME))
    assert not any(step.action == DELETE_KIND_CLUSTER for step in teardown_plan("demo", "kind", False, set(), unreadable, ME))
    theirs = found(("kind cluster", CLUSTER, THEM))
    assert not any(step.action == DELETE_KIND_CLUSTER for step in teardown_plan("demo", "kind", True, set(), theirs, ME))


def test_on_an_existing_cluster_one_delete_of_the_labelled_objects_stands_for_every_object_of_the_stack():
    plan = teardown_plan("demo", "existing", True, set(), [], ME)
    assert actions(plan) == [
        f"destroy: {FORGET_STACK_OBJECTS} demo",
        f"destroy: {DELETE_LABELLED_OBJECTS} namespaces,clusterroles,clusterrolebindings of demo owned by {ME}",
        f"cleanup: {REMOVE_STACK} demo",
    ]


def test_without_a_record_a_stack_that_holds_no_kind_cluster_is_destroyed_by_the_engine_which_alone_knows_where():
    plan = teardown_plan("demo", None, True, set(), found(("container", f"{CLUSTER}-f5", ME)), ME)
    assert actions(plan) == [f"destroy: {DESTROY_WITH_ENGINE} demo", f"cleanup: remove container {CLUSTER}-f5",
                             f"cleanup: {REMOVE_STACK} demo"]


def test_without_a_record_a_stack_that_holds_a_kind_cluster_goes_the_fast_way():
    plan = teardown_plan("demo", None, True, {CLUSTER}, found(("kind cluster", CLUSTER, None)), ME)
    assert [step.action for step in plan] == [FORGET_STACK_OBJECTS, DELETE_KIND_CLUSTER, REMOVE_STACK]


def test_without_a_stack_of_this_home_only_its_labelled_objects_go_and_no_stack_is_touched():
    plan = teardown_plan("demo", None, False, set(), ON_KIND, ME)
    assert [step.action for step in plan] == [DELETE_KIND_CLUSTER, "remove container", "remove container",
                                              "remove volume", "remove network"]


def resource(urn_name: str, type_: str, **extra) -> dict:
    return {"urn": f"urn:pulumi:demo::envbuilder::{type_}::{urn_name}", "type": type_, **extra}


def test_forgetting_keeps_the_stack_naming_its_cluster_as_being_deleted_and_its_providers():
    stack_resource = resource("envbuilder-demo", "pulumi:pulumi:Stack", outputs={"owner": ME})
    provider = resource("default", "pulumi:providers:pulumi-python")
    network = resource("network", "pulumi-python:dynamic:Resource", outputs={"name": CLUSTER})
    cluster = resource("cluster", "pulumi-python:dynamic:Resource", outputs={"name": CLUSTER},
                       dependencies=[network["urn"]], propertyDependencies={"network": [network["urn"]]})
    k8s_provider = resource("k8s", "pulumi:providers:kubernetes", dependencies=[cluster["urn"]])
    deployment = {"manifest": {"time": "then"},
                  "resources": [stack_resource, provider, network, cluster, k8s_provider,
                                resource("f5-container-f5", "pulumi-python:dynamic:Resource"),
                                resource("services", "kubernetes:yaml/v2:ConfigGroup")],
                  "pending_operations": [{"type": "updating", "resource": resource("services", "x")}]}
    kept = forgotten(deployment)
    assert kept["manifest"] == deployment["manifest"], "the rest of the state is kept as it is"
    assert kept["resources"] == [
        {**stack_resource, "outputs": {"owner": ME, CLUSTERS_BEING_DELETED_OUTPUT: [CLUSTER]}}, provider]
    assert kept["pending_operations"] == [], "the Pulumi CLI's import drops them anyway"
    # What the next down reads as proof, and what the next up recovers from as an interrupted create.
    assert kind_clusters_of(kept) == kind_clusters_of(kept, pending_only=True) == {CLUSTER}
    assert kind_clusters_of(deployment, pending_only=True) == set(), "a cluster made and not being deleted"


def test_forgetting_a_stack_already_forgotten_or_interrupted_while_creating_keeps_its_cluster():
    cluster = resource("cluster", "pulumi-python:dynamic:Resource", outputs={"name": CLUSTER})
    stack_resource = resource("envbuilder-demo", "pulumi:pulumi:Stack", outputs={"owner": ME})
    creating = forgotten({"resources": [stack_resource], "pending_operations": [{"type": "creating",
                                                                                  "resource": cluster}]})
    assert kind_clusters_of(creating, pending_only=True) == {CLUSTER}
    assert kind_clusters_of(forgotten(creating), pending_only=True) == {CLUSTER}


def quiet_progress() -> Progress:
    return Progress(Console(file=io.StringIO(), force_terminal=False))


class RecordingTeardown(_Teardown):
    """Records when each step starts and ends instead of doing it; `failing` actions fail, `held` ones
    wait until every action of `until` has started (so they can only pass if those run beside them)."""

    def __init__(self, failing: set[str] = frozenset(), held: dict[str, set[str]] | None = None) -> None:
        super().__init__("demo", None, None, None, quiet_progress())
        self.failing, self.held = failing, held or {}
        self.events: list[tuple[str, str]] = []
        self.started: dict[str, threading.Event] = {}

    def _do(self, step: Step) -> None:
        self.events.append(("start", step.action))
        self.started.setdefault(step.action, threading.Event()).set()
        for action in self.held.get(step.action, ()):
            assert self.started.setdefault(action, threading.Event()).wait(10), f"{action} did not run beside {step}"
        if step.action in self.failing:
            self.events.append(("failed", step.action))
            raise EnvbuilderError(f"{step} failed")
        self.events.append(("end", step.action))

    @property
    def done(self) -> list[str]:
        return [action for event, action in self.events if event == "end"]

    def before(self, first: str, then: str) -> bool:
        """Every step of `first` ended (or failed) before any step of `then` started."""
        ended = [i for i, (event, action) in enumerate(self.events) if action == first and event != "start"]
        started = [i for i, (event, action) in enumerate(self.events) if action == then and event == "start"]
        return bool(ended) and bool(started) and max(ended) < min(started)


def test_the_cluster_and_the_containers_beside_it_go_at_once_the_volumes_after_their_containers():
    teardown = RecordingTeardown(held={DELETE_KIND_CLUSTER: {"remove container"}})
    teardown.carry_out(teardown_plan("demo", "kind", True, {CLUSTER}, ON_KIND, ME))
    assert teardown.problems == []
    assert teardown.before(FORGET_STACK_OBJECTS, DELETE_KIND_CLUSTER)
    assert teardown.before(FORGET_STACK_OBJECTS, "remove container")
    assert teardown.before("remove container", "remove volume")
    # The network once the nodes and the containers on it are gone; the stack once the cluster is.
    assert teardown.before(DELETE_KIND_CLUSTER, "remove network") and teardown.before("remove container", "remove network")
    assert teardown.before(DELETE_KIND_CLUSTER, REMOVE_STACK)
    assert sorted(teardown.done) == sorted(step.action for step in teardown_plan("demo", "kind", True, {CLUSTER},
                                                                                    ON_KIND, ME))


def test_each_phase_says_its_end_once_its_last_step_is_done():
    teardown = RecordingTeardown()
    teardown.carry_out(teardown_plan("demo", "kind", True, {CLUSTER}, ON_KIND, ME))
    destroy, cleanup = (teardown.progress.phases[phase] for phase in (Phase.DESTROY, Phase.CLEANUP))
    assert destroy.status == cleanup.status == "passed"
    assert destroy.finished_at <= cleanup.finished_at, "the network and the stack wait for the cluster"


def test_a_teardown_with_nothing_beside_the_cluster_still_says_each_phase():
    teardown = RecordingTeardown()
    teardown.carry_out([])
    assert {phase: record.status for phase, record in teardown.progress.phases.items()} == {
        Phase.DESTROY: "passed", Phase.CLEANUP: "passed"}


@pytest.mark.parametrize(("failing", "stack_removed"), [
    (set(), True),
    ({FORGET_STACK_OBJECTS}, True),  # everything it held went: nothing is left for it to prove
    ({DELETE_KIND_CLUSTER}, False),  # the next down reads from it that the cluster is this home's
    ({"remove volume"}, True),  # labelled: the next down finds it without the stack
])
def test_every_step_runs_after_a_failure_and_the_stack_goes_only_once_what_it_proves_went(failing, stack_removed):
    plan = teardown_plan("demo", "kind", True, {CLUSTER}, ON_KIND, ME)
    teardown = RecordingTeardown(failing)
    teardown.carry_out(plan)
    assert (REMOVE_STACK in teardown.done) is stack_removed
    assert sorted(teardown.done) == sorted(step.action for step in plan if step.action not in failing
                                           and (stack_removed or step.action != REMOVE_STACK))
    assert teardown.problems == [f"{step} failed" for step in plan if step.action in failing]
    failed_phases = {step.phase for step in plan if step.action in failing}
    assert {phase for phase, record in teardown.progress.phases.items() if record.status == "failed"} == failed_phases


def test_ctrl_c_during_the_teardown_starts_no_further_step():
    class Interrupted(RecordingTeardown):
        def _do(self, step: Step) -> None:
            if step.action == DELETE_KIND_CLUSTER:
                raise KeyboardInterrupt
            super()._do(step)

    teardown = Interrupted()
    with pytest.raises(KeyboardInterrupt):
        teardown.carry_out(teardown_plan("demo", "kind", True, {CLUSTER}, ON_KIND, ME))
    time.sleep(0.2)  # what was already running ends on its own
    assert "remove network" not in teardown.done and REMOVE_STACK not in teardown.done
