"""`up` of an environment whose state would not change runs no engine when the environment is alive.

The engine is replaced by a recorder of what it was asked to do, prerequisites are taken as met, and
the smoke checks by a recorder that passes or fails as a test says.
"""

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.smoke.result import CheckResult, CheckStatus
from envbuilder.state.records import load_record, save_record

runner = CliRunner()


def up(*extra: str):
    return runner.invoke(app, ["up", "--services", "web,worker", "--name", "dev", "--revision", "HEAD", *extra])


class SmokeRuns(list):
    """Each smoke run's arguments; runs pass until `fail()`."""

    failing = False

    def fail(self) -> None:
        self.failing = True


@pytest.fixture
def smoke_runs(monkeypatch) -> SmokeRuns:
    runs = SmokeRuns()

    async def smoke_environment(record, *, liveness_only: bool = False):
        runs.append({"liveness_only": liveness_only})
        now = datetime.now(UTC)
        status = CheckStatus.FAILED if runs.failing else CheckStatus.PASSED
        return [CheckResult("health:web", status, 0.1, "", "", now, now)]

    monkeypatch.setattr("envbuilder.smoke.suite.smoke_environment", smoke_environment)
    return runs


def test_an_unchanged_live_environment_gets_its_liveness_checked_and_no_engine_run(engine_runs, smoke_runs):
    assert up().exit_code == 0 and len(engine_runs) == 1 and smoke_runs == [{"liveness_only": False}]
    again = up()
    assert again.exit_code == 0, again.output
    assert len(engine_runs) == 1 and smoke_runs[-1] == {"liveness_only": True}
    assert "is up to date" in again.output and "--refresh" in again.output


def test_full_smoke_runs_every_check_and_refresh_runs_the_engine(engine_runs, smoke_runs):
    assert up().exit_code == 0
    assert up("--full-smoke").exit_code == 0 and len(engine_runs) == 1 and smoke_runs[-1] == {"liveness_only": False}
    assert up("--refresh").exit_code == 0 and len(engine_runs) == 2


def test_a_change_runs_the_engine_without_asking_for_liveness_first(engine_runs, smoke_runs):
    assert up().exit_code == 0
    assert up("--set", "web.GREETING=hi").exit_code == 0
    assert len(engine_runs) == 2 and smoke_runs == [{"liveness_only": False}] * 2


def test_an_unchanged_environment_that_does_not_answer_is_brought_back_by_the_engine(engine_runs, smoke_runs):
    assert up("--no-smoke").exit_code == 0
    smoke_runs.fail()
    result = up("--no-smoke")
    assert result.exit_code == 0, result.output
    assert "does not answer (health:web)" in result.output and len(engine_runs) == 2


def test_an_environment_whose_last_up_failed_is_never_taken_as_up_to_date(engine_runs, smoke_runs):
    assert up("--no-smoke").exit_code == 0
    record = load_record("dev")
    record.status = "failed"
    save_record(record)
    assert up("--no-smoke").exit_code == 0 and len(engine_runs) == 2 and smoke_runs == []


def test_a_new_ttl_is_applied_to_an_unchanged_environment(engine_runs, smoke_runs):
    assert up("--no-smoke", "--ttl", "1h").exit_code == 0
    assert up("--no-smoke", "--ttl", "9h").exit_code == 0 and len(engine_runs) == 1
    assert load_record("dev").ttl_seconds > 8 * 3600


def test_live_changes_make_up_start_those_services_from_their_images_once(engine_runs, smoke_runs):
    assert up("--no-smoke").exit_code == 0
    record = load_record("dev")
    record.live_changes = {"web": ["fixtures/services/web/web.py"]}
    save_record(record)

    assert up("--no-smoke").exit_code == 0 and len(engine_runs) == 2
    assert engine_runs[-1].spec.code_resets == {"web": 1}
    assert load_record("dev").live_changes == {}
    assert up("--no-smoke").exit_code == 0 and len(engine_runs) == 2  # nothing to undo any more: unchanged


def test_scale_keeps_the_live_changes_and_rolls_nothing_back(engine_runs, smoke_runs):
    assert up("--no-smoke").exit_code == 0
    record = load_record("dev")
    record.live_changes = {"web": ["fixtures/services/web/web.py"]}
    save_record(record)

    assert runner.invoke(app, ["scale", "dev", "web=3"]).exit_code == 0
    assert engine_runs[-1].spec.code_resets == {}
    assert load_record("dev").live_changes == {"web": ["fixtures/services/web/web.py"]}


def test_a_roll_replaces_a_services_pods_with_nothing_else_changed_each_time(engine_runs, smoke_runs):
    from envbuilder.pipeline.up import roll

    assert up("--no-smoke").exit_code == 0
    roll("dev", ["web"])
    roll("dev", ["web"])
    assert len(engine_runs) == 3 and engine_runs[-1].spec.code_resets == {"web": 2}
    assert engine_runs[-1].spec.services == engine_runs[0].spec.services
    assert load_record("dev").code_resets == {"web": 2}
