from envbuilder.pipeline.engine_run import engine_error

ENGINE_OUTPUT = """
 code: 1
 stdout: Updating (dev):
 +  pulumi-python:dynamic:Resource f5-container creating (0s) error: Traceback (most recent call last):
Diagnostics:
  pulumi:pulumi:Stack (envbuilder-dev):
    warning: using pulumi-resource-kubernetes from $PATH
    error: update failed

  pulumi-python:dynamic:Resource (f5-container-envbuilder-dev-f5):
    error: Traceback (most recent call last):
      File "/x/resources.py", line 122, in create
    envbuilder.cluster.commands.CommandFailed: starting container envbuilder-dev-f5 failed (exit 125)
    docker: invalid containerPort: 443.0

Resources:
    + 10 created
    2 errored
"""


def test_an_engine_failure_shows_each_failed_resource_and_its_cause_without_warnings():
    message = str(engine_error("up", RuntimeError(ENGINE_OUTPUT)))
    assert message.startswith("pulumi up failed:")
    assert "pulumi-python:dynamic:Resource (f5-container-envbuilder-dev-f5):" in message
    assert "docker: invalid containerPort: 443.0" in message
    assert "warning" not in message and "10 created" not in message
