"""The engine's failure message from its events (the real engine's run is tests/engine)."""

from pulumi.automation import EngineEvent

from envbuilder.engine.failures import EngineFailures

STACK_URN = "urn:pulumi:dev::envbuilder::pulumi:pulumi:Stack::envbuilder-dev"
CONTAINER_URN = "urn:pulumi:dev::envbuilder::pulumi-python:dynamic:Resource::f5-container"
TRACEBACK = "\n".join(
    ["Traceback (most recent call last):"]
    + [f'  File "/x/frame{index}.py", line {index}, in create' for index in range(20)]
    + ["envbuilder.cluster.commands.CommandFailed: starting container envbuilder-dev-f5 failed (exit 125)",
       "docker: invalid containerPort: 443.0"]
)


def diagnostic(urn: str, message: str, severity: str = "error") -> EngineEvent:
    return EngineEvent.from_json(
        {"sequence": 1, "timestamp": 1,
         "diagnosticEvent": {"urn": urn, "message": message, "color": "never", "severity": severity}}
    )


def op_failed(urn: str, resource_type: str) -> EngineEvent:
    metadata = {"op": "create", "urn": urn, "type": resource_type, "provider": ""}
    return EngineEvent.from_json(
        {"sequence": 2, "timestamp": 1, "resOpFailedEvent": {"metadata": metadata, "status": 0, "steps": 1}}
    )


def message_after(*events: EngineEvent) -> str:
    failures = EngineFailures()
    for event in events:
        failures.record(event)
    return str(failures.error("up", RuntimeError("code: 255")))


def test_a_failed_dynamic_resource_is_named_with_the_end_of_its_traceback_and_no_warnings():
    message = message_after(
        diagnostic(STACK_URN, "using pulumi-resource-kubernetes from $PATH", severity="warning"),
        diagnostic(CONTAINER_URN, TRACEBACK),
        op_failed(CONTAINER_URN, "pulumi-python:dynamic:Resource"),
        diagnostic(STACK_URN, "update failed"),
    )
    assert message.startswith("pulumi up failed: 1 resource(s) failed\n")
    assert f"pulumi-python:dynamic:Resource 'f5-container' ({CONTAINER_URN})" in message
    assert "docker: invalid containerPort: 443.0" in message and "frame0.py" not in message
    assert "warning" not in message and "update failed" not in message


def test_the_stacks_own_error_is_the_reason_when_no_resource_failed():
    message = message_after(diagnostic(STACK_URN, "Program failed with an unhandled exception: KeyError: 'web'"))
    assert message.startswith("pulumi up failed: the stack failed\n")
    assert "KeyError: 'web'" in message


def test_a_failure_before_any_event_gives_the_commands_own_output():
    assert message_after() == "pulumi up failed before the engine reported anything:\ncode: 255"
