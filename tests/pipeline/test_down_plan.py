"""What `down` deletes, in which order, on which target: the plan, from what exists, without the engine.

Pure: the objects found are plain traces, the stack a fake that holds a state.
"""

from types import SimpleNamespace

import pytest

from envbuilder.cluster.ownership import Trace
from envbuilder.engine.stacks import forget_objects, kind_clusters_in
from envbuilder.errors import EnvbuilderError
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


class FakeStack:
    """A stack that holds a state: what the Automation API's export and import do to it."""

    def __init__(self, deployment: dict) -> None:
        self.deployment = deployment
        self.imported: dict | None = None

    def export_stack(self) -> SimpleNamespace:
        return SimpleNamespace(deployment=self.imported or self.deployment)

    def import_stack(self, state: SimpleNamespace) -> None:
        self.imported = state.deployment


def resource(urn_name: str, type_: str, **extra) -> dict:
    return {"urn": f"urn:pulumi:demo::envbuilder::{type_}::{urn_name}", "type": type_, **extra}


def test_forgetting_keeps_the_stack_its_providers_and_the_cluster_as_one_being_created():
    stack_resource = resource("envbuilder-demo", "pulumi:pulumi:Stack", outputs={"owner": ME})
    provider = resource("default", "pulumi:providers:pulumi-python")
    network = resource("network", "pulumi-python:dynamic:Resource", outputs={"name": CLUSTER})
    cluster = resource("cluster", "pulumi-python:dynamic:Resource", outputs={"name": CLUSTER},
                       dependencies=[network["urn"]], propertyDependencies={"network": [network["urn"]]})
    k8s_provider = resource("k8s", "pulumi:providers:kubernetes", dependencies=[cluster["urn"]])
    deployment = {"resources": [stack_resource, provider, network, cluster, k8s_provider,
                                resource("f5-container-f5", "pulumi-python:dynamic:Resource"),
                                resource("services", "kubernetes:yaml/v2:ConfigGroup")],
                  "pending_operations": [{"type": "updating", "resource": resource("services", "x")}]}
    stack = FakeStack(deployment)
    forget_objects(stack, stack.export_stack())
    assert stack.imported is not None
    assert stack.imported["resources"] == [stack_resource, provider]
    # Without its dependency on the network, which the state no longer holds.
    assert stack.imported["pending_operations"] == [
        {"resource": resource("cluster", "pulumi-python:dynamic:Resource", outputs={"name": CLUSTER}), "type": "creating"}]
    # What the next down reads as proof, and what the next up recovers from as an interrupted create.
    assert kind_clusters_in(stack) == kind_clusters_in(stack, pending_only=True) == {CLUSTER}


def test_forgetting_a_stack_already_forgotten_keeps_its_cluster_pending():
    cluster = resource("cluster", "pulumi-python:dynamic:Resource", outputs={"name": CLUSTER})
    stack = FakeStack({"resources": [], "pending_operations": [{"type": "creating", "resource": cluster}]})
    forget_objects(stack, stack.export_stack())
    assert kind_clusters_in(stack, pending_only=True) == {CLUSTER}


class RecordingTeardown(_Teardown):
    def __init__(self, failing: set[str]) -> None:
        super().__init__("demo", None, None, None)
        self.failing, self.done = failing, []

    def _do(self, step: Step) -> None:
        if step.action in self.failing:
            raise EnvbuilderError(f"{step} failed")
        self.done.append(step.action)


@pytest.mark.parametrize(("failing", "stack_removed"), [
    (set(), True),
    ({FORGET_STACK_OBJECTS}, True),  # everything it held went: nothing is left for it to prove
    ({DELETE_KIND_CLUSTER}, False),  # the next down reads from it that the cluster is this home's
    ({"remove volume"}, False),
])
def test_every_step_runs_after_a_failure_and_the_stack_goes_only_once_all_it_held_went(failing, stack_removed):
    plan = teardown_plan("demo", "kind", True, {CLUSTER}, ON_KIND, ME)
    teardown = RecordingTeardown(failing)
    teardown.carry_out(plan)
    assert (REMOVE_STACK in teardown.done) is stack_removed
    assert [action for action in teardown.done if action != REMOVE_STACK] == [
        step.action for step in plan if step.action not in failing | {REMOVE_STACK}]
    assert teardown.problems == [f"{step} failed" for step in plan if step.action in failing]
