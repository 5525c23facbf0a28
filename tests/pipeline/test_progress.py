"""Engine events become phases with durations: one status line per phase, in the order they ran."""

import io
from types import SimpleNamespace

from rich.console import Console

from envbuilder.pipeline.progress import Progress, phase_of_resource

STACK = "urn:pulumi:dev::envbuilder::"


def event(kind: str, urn: str):
    payload = SimpleNamespace(metadata=SimpleNamespace(urn=urn))
    fields = {"resource_pre_event": None, "res_outputs_event": None, "res_op_failed_event": None}
    return SimpleNamespace(**{**fields, kind: payload})


def child(group: str, kind: str, name: str) -> str:
    return f"{STACK}kubernetes:yaml/v2:ConfigGroup$kubernetes:{kind}::{group}:{name}"


def group(name: str) -> str:
    return f"{STACK}kubernetes:yaml/v2:ConfigGroup::{name}"


def test_resources_are_attributed_to_phases_by_their_names():
    assert phase_of_resource(f"{STACK}pulumi-python:dynamic:Resource::cluster") == "cluster"
    assert phase_of_resource(f"{STACK}pulumi-python:dynamic:Resource::cni-ready") == "cni"
    assert phase_of_resource(child("secrets", "core/v1:Secret", "env-dev/broker-credentials")) == "broker"
    assert phase_of_resource(child("services", "apps/v1:Deployment", "env-dev/web")) == "services"
    assert phase_of_resource(f"{STACK}pulumi-python:dynamic:Resource::f5-container-envbuilder-dev-f5") == "f5"
    assert phase_of_resource(f"{STACK}pulumi:providers:kubernetes::k8s") is None


def test_each_phase_gets_one_line_when_it_is_done_even_when_it_spans_several_groups():
    out = io.StringIO()
    with Progress(Console(file=out, width=100)) as progress:
        for name, kind, obj in [("namespace", "core/v1:Namespace", "env-dev"), ("secrets", "core/v1:Secret", "env-dev/s"),
                                ("broker", "apps/v1:StatefulSet", "env-dev/broker"), ("services", "apps/v1:Deployment", "env-dev/web")]:
            progress.on_engine_event(event("resource_pre_event", group(name)))  # components report no outputs
            progress.on_engine_event(event("resource_pre_event", child(name, kind, obj)))
            progress.on_engine_event(event("res_outputs_event", child(name, kind, obj)))
        progress.finish_running(ok=True)
    lines = [line for line in out.getvalue().splitlines() if "✓" in line]
    assert [line.split("✓")[1].rsplit(" ", 1)[0].strip() for line in lines] == ["Starting the broker", "Deploying services"]
    assert [record.name for record in progress.records()] == ["broker", "services"]
    assert all(record.status == "passed" and record.seconds is not None for record in progress.records())


def test_a_phase_whose_parts_run_before_and_after_another_phase_still_gets_one_line():
    # On kind the F5's container is made before the broker's objects, the F5's objects after them.
    f5_container = f"{STACK}pulumi-python:dynamic:Resource::f5-container-envbuilder-dev-f5"
    out = io.StringIO()
    with Progress(Console(file=out, width=100)) as progress:
        for urn in [f5_container, child("broker", "apps/v1:StatefulSet", "env-dev/broker"),
                    child("f5", "apps/v1:Deployment", "env-dev/f5-sync"),
                    child("services", "apps/v1:Deployment", "env-dev/web")]:
            progress.on_engine_event(event("resource_pre_event", urn))
            progress.on_engine_event(event("res_outputs_event", urn))
        progress.finish_running(ok=True)
    done = [line.split("✓")[1].rsplit(" ", 1)[0].strip() for line in out.getvalue().splitlines() if "✓" in line]
    assert done == ["Starting the broker", "Starting the F5 and f5-sync", "Deploying services"]


def test_a_failed_resource_fails_its_phase():
    out = io.StringIO()
    with Progress(Console(file=out, width=100)) as progress:
        progress.on_engine_event(event("resource_pre_event", child("broker", "apps/v1:StatefulSet", "env-dev/broker")))
        progress.on_engine_event(event("res_op_failed_event", child("broker", "apps/v1:StatefulSet", "env-dev/broker")))
    assert "✗ Starting the broker" in out.getvalue()
    assert out.getvalue().splitlines()[0] == " • Starting the broker"  # in a log, where no spinner shows it
    assert progress.records()[0].status == "failed"
