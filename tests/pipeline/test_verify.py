"""`verify` removes only an environment it created itself.

The engine is replaced by a recorder (tests/pipeline/conftest.py); the teardown is the real
`down`, with the stack and kind left out and Docker as it is (nothing carries these test-only names).
"""

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.desired.state import Credentials
from envbuilder.pipeline.verify import convergence_steps
from envbuilder.reports.json_report import run_from_json
from envbuilder.smoke.result import CheckStatus
from envbuilder.smoke.target import target_from_record
from envbuilder.state.locks import environment_lock
from envbuilder.state.records import find_record, load_record
from tests.pipeline.conftest import test_environment_name

runner = CliRunner()


@pytest.fixture(autouse=True)
def without_stack_kind_or_checks(monkeypatch):
    from envbuilder.cluster import tools

    real = tools.find_tool
    monkeypatch.setattr("envbuilder.pipeline.down.find_tool", lambda name: None if name in ("pulumi", "kind") else real(name))

    async def no_checks(record):
        return []

    async def target_without_credentials(record):
        return target_from_record(record, Credentials(f5_password="", broker_password=""))

    monkeypatch.setattr("envbuilder.smoke.suite.smoke_environment", no_checks)
    monkeypatch.setattr("envbuilder.smoke.suite.recorded_target", target_without_credentials)


def verify(name: str, tmp_path) -> object:
    return runner.invoke(app, ["verify", "--services", "web", "--name", name, "--revision", "HEAD",
                               "--report-dir", str(tmp_path / "reports")])


def up(name: str) -> object:
    return runner.invoke(app, ["up", "--services", "web", "--name", name, "--revision", "HEAD", "--no-smoke"])


def test_verify_of_an_existing_environment_refuses_and_leaves_it_as_it_was(engine_runs, tmp_path):
    name = test_environment_name()
    assert up(name).exit_code == 0
    before = load_record(name)
    result = verify(name, tmp_path)
    assert result.exit_code == 2, result.output
    assert f"environment {name} already exists" in " ".join(result.output.split())
    assert load_record(name) == before and len(engine_runs) == 1


def test_verify_does_not_tear_down_what_another_command_is_creating(engine_runs, tmp_path, monkeypatch):
    name = test_environment_name()
    monkeypatch.setattr("envbuilder.state.locks.WAIT_SECONDS", 0.5)
    with environment_lock(name):  # another `up` of the same name is at work
        result = verify(name, tmp_path)
    assert result.exit_code == 1 and "verify failed: environment comes up" in result.output
    assert "is working on environment" in (tmp_path / "reports" / "smoke.json").read_text()
    assert "Removing environment" not in result.output and engine_runs == []


def test_verify_tears_down_the_environment_it_created(engine_runs, tmp_path):
    name = test_environment_name()
    result = verify(name, tmp_path)
    assert result.exit_code == 0, result.output
    assert len(engine_runs) == 1 and find_record(name) is None and f"environment {name} is gone" in result.output


def test_verify_says_why_it_measured_no_f5_convergence(engine_runs, tmp_path):
    """web's pool holds the nodes (nodeport mode): a scale or roll would not change it."""
    result = verify(test_environment_name(), tmp_path)
    assert result.exit_code == 0, result.output
    run = run_from_json((tmp_path / "reports" / "smoke.json").read_text())
    [skipped] = [check for check in run.checks if check.name == "f5-convergence"]
    assert skipped.status is CheckStatus.SKIPPED and "no service is exposed in cluster mode" in skipped.summary
    assert run.convergence == () and len(engine_runs) == 1


def test_the_changes_scale_up_and_down_within_the_catalogs_bounds_then_roll():
    assert convergence_steps(2, 1, 6) == [("scale up", 3), ("scale down", 2), ("rolling update", None)]
    assert convergence_steps(6, 1, 6) == [("scale down", 5), ("scale up", 6), ("rolling update", None)]
    assert convergence_steps(1, 1, 1) == [("rolling update", None)]
