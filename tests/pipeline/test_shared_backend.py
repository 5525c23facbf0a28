"""A shared backend holds other homes' stacks: `down` and `reap` leave alone the ones this home has no record of.

Real Pulumi CLI and a real file backend standing in for the shared one (outside this home); real
Docker for the environment's own leftovers, under a test-only name.
"""

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.cluster.tools import find_tool
from envbuilder.engine.stacks import select_stack, stack_exists
from envbuilder.state.identity import home_identity
from tests.pipeline.conftest import exists, test_environment_name
from tests.support.tools import missing

pytestmark = [pytest.mark.docker]
runner = CliRunner()


@pytest.fixture
def shared_backend(tmp_path) -> str:
    if find_tool("pulumi") is None:
        missing("toolchain", "the Pulumi CLI is not built", "make setup")
    directory = tmp_path / "shared-backend"
    directory.mkdir()
    return directory.as_uri()


def test_down_removes_its_own_leftovers_but_not_a_stack_of_the_same_name_it_has_no_record_of(
        shared_backend, labelled_docker_objects, monkeypatch):
    from envbuilder.cluster import tools

    real = tools.find_tool
    monkeypatch.setattr("envbuilder.pipeline.down.find_tool", lambda name: None if name == "kind" else real(name))
    name = test_environment_name()
    select_stack(name, lambda: None, shared_backend)  # another home's environment in the shared backend
    container, _ = labelled_docker_objects(name)  # and a leftover of this home's of the same name

    result = runner.invoke(app, ["down", name, "--backend-url", shared_backend])
    assert result.exit_code == 0, result.output
    assert not exists("container", container)
    assert stack_exists(name, shared_backend)
    assert f"left alone: Pulumi stack {name}" in " ".join(result.output.split())

    reaped = runner.invoke(app, ["reap", "--dry-run", "--backend-url", shared_backend])
    assert reaped.exit_code == 0 and f"left alone: Pulumi stack {name}" in " ".join(reaped.output.split())


def test_reap_on_a_shared_backend_takes_the_stacks_that_name_this_home_and_leaves_the_rest(shared_backend):
    import pulumi

    from envbuilder.engine.stacks import OWNER_OUTPUT

    mine, theirs = test_environment_name(), test_environment_name()
    for name, owner in ((mine, home_identity()), (theirs, "another-home")):
        stack = select_stack(name, lambda owner=owner: pulumi.export(OWNER_OUTPUT, owner), shared_backend)
        stack.up(color="never", on_output=lambda _line: None)

    plan = runner.invoke(app, ["reap", "--dry-run", "--backend-url", shared_backend])
    said = " ".join(plan.output.split())
    assert f"would remove orphaned traces of {mine}" in said
    assert f"left alone: Pulumi stack {theirs}" in said and "another envbuilder home (owner another-home)" in said
