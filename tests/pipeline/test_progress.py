"""Engine events become phases with durations: one status line per phase, printed once it can no longer
change, even while phases run at once."""

import io
from types import SimpleNamespace

from rich.console import Console

from envbuilder.desired.phases import Phase
from envbuilder.pipeline.progress import Progress

STACK = "urn:pulumi:dev::envbuilder::"
CONTAINER = f"{STACK}pulumi-python:dynamic:Resource::f5-container-envbuilder-dev-f5"
# What the program registered: top-level resource name -> phase.
PROGRAM = {"namespace": Phase.BROKER, "secrets": Phase.BROKER, "broker": Phase.BROKER, "f5": Phase.F5,
           "f5-container-envbuilder-dev-f5": Phase.F5, "services": Phase.SERVICES}


def phase_of(urn: str) -> Phase | None:
    name = urn.rsplit("::", 1)[-1]
    return PROGRAM.get(name.split(":", 1)[0] if "$" in urn else name)


def event(kind: str, urn: str):
    payload = SimpleNamespace(metadata=SimpleNamespace(urn=urn))
    fields = {"resource_pre_event": None, "res_outputs_event": None, "res_op_failed_event": None}
    return SimpleNamespace(**{**fields, kind: payload})


def child(group: str, kind: str, name: str) -> str:
    return f"{STACK}kubernetes:yaml/v2:ConfigGroup$kubernetes:{kind}::{group}:{name}"


def group(name: str) -> str:
    return f"{STACK}kubernetes:yaml/v2:ConfigGroup::{name}"


def run(urns: list[str]) -> tuple[Progress, list[str]]:
    """Each resource created in turn (a group announces itself, then its object comes and goes)."""
    out = io.StringIO()
    with Progress(Console(file=out, width=100)) as progress:
        on_event = progress.engine_events(phase_of)
        for urn in urns:
            if "$" in urn:
                on_event(event("resource_pre_event", group(urn.rsplit("::", 1)[-1].split(":")[0])))
            on_event(event("resource_pre_event", urn))
            on_event(event("res_outputs_event", urn))
        progress.finish_running(ok=True)
    done = [line.split("✓")[1].rsplit(" ", 1)[0].strip() for line in out.getvalue().splitlines() if "✓" in line]
    return progress, done


def test_each_phase_gets_one_line_when_it_is_done_even_when_it_spans_several_groups():
    progress, done = run([child("namespace", "core/v1:Namespace", "env-dev"), child("secrets", "core/v1:Secret", "env-dev/s"),
                          child("broker", "apps/v1:StatefulSet", "env-dev/broker"),
                          child("services", "apps/v1:Deployment", "env-dev/web")])
    assert done == ["Starting the broker", "Deploying services"]
    assert [record.name for record in progress.records()] == ["broker", "services"]
    assert all(record.status == "passed" and record.seconds is not None for record in progress.records())


def test_a_phase_running_beside_another_does_not_end_it_early_nor_print_it_twice():
    # The F5's container starts while the broker's namespace is done but its StatefulSet not yet begun.
    _, done = run([child("namespace", "core/v1:Namespace", "env-dev"), CONTAINER,
                   child("secrets", "core/v1:Secret", "env-dev/s"), child("broker", "apps/v1:StatefulSet", "env-dev/b"),
                   child("f5", "apps/v1:Deployment", "env-dev/f5-sync"),
                   child("services", "apps/v1:Deployment", "env-dev/web")])
    assert sorted(done) == ["Deploying services", "Starting the F5 and f5-sync", "Starting the broker"]
    assert done.index("Starting the broker") < done.index("Deploying services")  # services need the broker


def test_a_phase_is_said_done_when_a_phase_that_needs_it_starts():
    out = io.StringIO()
    with Progress(Console(file=out, width=100)) as progress:
        on_event = progress.engine_events(phase_of)
        for kind in ("resource_pre_event", "res_outputs_event"):
            on_event(event(kind, child("broker", "apps/v1:StatefulSet", "env-dev/broker")))
        assert "✓" not in out.getvalue()  # the broker's group may have more objects to come
        on_event(event("resource_pre_event", child("services", "apps/v1:Deployment", "env-dev/web")))
        assert "✓ Starting the broker" in out.getvalue()


def test_a_failed_resource_fails_its_phase():
    out = io.StringIO()
    with Progress(Console(file=out, width=100)) as progress:
        on_event = progress.engine_events(phase_of)
        on_event(event("resource_pre_event", child("broker", "apps/v1:StatefulSet", "env-dev/broker")))
        on_event(event("res_op_failed_event", child("broker", "apps/v1:StatefulSet", "env-dev/broker")))
    assert "✗ Starting the broker" in out.getvalue()
    assert out.getvalue().splitlines()[0] == " • Starting the broker"  # in a log, where no spinner shows it
    assert progress.records()[0].status == "failed"
