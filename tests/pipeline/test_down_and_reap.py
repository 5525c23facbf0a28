"""Teardown and reaping against real Docker containers and volumes labelled as envbuilder's."""

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.state import ports
from envbuilder.state.records import EnvironmentRecord, HostPorts, find_record, save_record
from tests.pipeline.conftest import exists

pytestmark = [pytest.mark.docker, pytest.mark.slow]
runner = CliRunner()


@pytest.fixture(autouse=True)
def without_pulumi(monkeypatch):
    # These tests are about Docker leftovers; the stack side is covered by the engine tests.
    from envbuilder.cluster import tools

    real = tools.find_tool
    monkeypatch.setattr("envbuilder.pipeline.down.find_tool", lambda name: None if name == "pulumi" else real(name))
    monkeypatch.setattr("envbuilder.pipeline.reap.find_tool", lambda name: None if name == "pulumi" else real(name))


def record(name: str, age: timedelta = timedelta(minutes=1), ttl: timedelta = timedelta(hours=8)) -> EnvironmentRecord:
    allocated = ports.allocate(name, 3)
    return EnvironmentRecord(
        name=name, owner="ci", created_at=datetime.now(UTC) - age, ttl_seconds=int(ttl.total_seconds()),
        profile="default", services=["web"], revision="abc1234", target="kind", namespace=f"env-{name}",
        ports=HostPorts(f5_api=allocated[0], broker=allocated[1], vips={"web": allocated[2]}), status="failed",
    )


def test_down_removes_the_containers_volumes_ports_and_record_and_says_nothing_is_left(labelled_docker_objects):
    save_record(record("dev"))
    container, volume = labelled_docker_objects("dev")
    result = runner.invoke(app, ["down", "dev"])
    assert result.exit_code == 0, result.output
    assert "is gone" in result.output
    assert not exists("container", container) and not exists("volume", volume)
    assert find_record("dev") is None and ports.owned_by("dev") == []


def test_down_finds_an_environment_by_its_leftovers_even_without_a_record(labelled_docker_objects):
    container, _ = labelled_docker_objects("crashed")
    result = runner.invoke(app, ["down", "crashed"])
    assert result.exit_code == 0, result.output
    assert not exists("container", container)


def test_reap_removes_expired_environments_and_orphans_but_not_live_ones(labelled_docker_objects):
    save_record(record("old", age=timedelta(hours=3), ttl=timedelta(hours=2)))
    save_record(record("live"))
    old_container, _ = labelled_docker_objects("old")
    live_container, _ = labelled_docker_objects("live")
    # What a killed `up` leaves: labelled objects and no record.
    orphan_container, orphan_volume = labelled_docker_objects("killed")

    dry = runner.invoke(app, ["reap", "--dry-run"])
    assert dry.exit_code == 0
    assert "would remove expired environment old" in dry.output and "would remove orphaned traces of killed" in dry.output
    assert exists("container", orphan_container)

    result = runner.invoke(app, ["reap"])
    assert result.exit_code == 0, result.output
    assert not exists("container", old_container) and find_record("old") is None
    assert not exists("container", orphan_container) and not exists("volume", orphan_volume)
    assert exists("container", live_container) and find_record("live") is not None


def test_up_warns_about_expired_environments(monkeypatch):
    save_record(record("stale", age=timedelta(days=2)))
    # Stop right after the warning: prerequisites fail on a PATH without tools.
    monkeypatch.setattr("envbuilder.pipeline.up.check_prerequisites", lambda spec: (_ for _ in ()).throw(SystemExit(3)))
    result = runner.invoke(app, ["up", "--services", "web", "--name", "fresh"])
    assert "expired environments: stale" in " ".join(result.output.split())
    assert "envbuilder reap" in result.output
