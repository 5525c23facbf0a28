"""Teardown and reaping against real Docker containers and volumes labelled as envbuilder's.

Every object here has a test-only name (`envbuilder-test-<random>`), and `down` and `reap`
act only on objects their home owns, so these tests never touch anything they did not create.
"""

import secrets
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.state import ports
from envbuilder.state.identity import home_identity
from envbuilder.state.records import EnvironmentRecord, HostPorts, find_record, save_record
from tests.pipeline.conftest import exists, test_environment_name

pytestmark = [pytest.mark.docker, pytest.mark.slow]
runner = CliRunner()


@pytest.fixture(autouse=True)
def without_pulumi_or_kind(monkeypatch):
    # These tests are about Docker leftovers; the stack side is covered by the engine tests, and
    # the machine's kind clusters are none of theirs.
    from envbuilder.cluster import tools

    real = tools.find_tool
    for module in ("down", "reap"):
        monkeypatch.setattr(f"envbuilder.pipeline.{module}.find_tool",
                            lambda name: None if name in ("pulumi", "kind") else real(name))


def record(name: str, age: timedelta = timedelta(minutes=1), ttl: timedelta = timedelta(hours=8)) -> EnvironmentRecord:
    allocated = ports.allocate(name, 3)
    return EnvironmentRecord(
        name=name, owner="ci", owner_id=home_identity(), created_at=datetime.now(UTC) - age,
        ttl_seconds=int(ttl.total_seconds()), profile="default", services=["web"], revision="abc1234", target="kind",
        namespace=f"env-{name}", ports=HostPorts(f5_api=allocated[0], broker=allocated[1], vips={"web": allocated[2]}),
        status="failed",
    )


def another_home() -> str:
    return secrets.token_hex(8)


def output_of(result) -> str:
    return " ".join(result.output.split())


def test_down_removes_the_containers_volumes_ports_and_record_and_says_nothing_is_left(labelled_docker_objects):
    name = test_environment_name()
    save_record(record(name))
    container, volume = labelled_docker_objects(name)
    result = runner.invoke(app, ["down", name])
    assert result.exit_code == 0, result.output
    assert "is gone" in result.output
    assert not exists("container", container) and not exists("volume", volume)
    assert find_record(name) is None and ports.owned_by(name) == []


def test_down_finds_an_environment_by_its_leftovers_even_without_a_record(labelled_docker_objects):
    name = test_environment_name()
    container, _ = labelled_docker_objects(name)
    result = runner.invoke(app, ["down", name])
    assert result.exit_code == 0, result.output
    assert not exists("container", container)


def test_down_leaves_another_homes_objects_of_the_same_name_alone_and_says_so(labelled_docker_objects):
    name, theirs = test_environment_name(), another_home()
    save_record(record(name))
    mine, _ = labelled_docker_objects(name, "f5")
    their_container, their_volume = labelled_docker_objects(name, "web", owner=theirs)
    result = runner.invoke(app, ["down", name])
    assert result.exit_code == 0, result.output
    assert not exists("container", mine)
    assert exists("container", their_container) and exists("volume", their_volume)
    said = output_of(result)
    assert f"left alone: container {their_container}" in said and f"another envbuilder home (owner {theirs})" in said


def test_down_without_a_record_does_not_take_another_homes_environment(labelled_docker_objects):
    name = test_environment_name()
    container, _ = labelled_docker_objects(name, owner=another_home())
    result = runner.invoke(app, ["down", name])
    assert result.exit_code == 2, result.output
    assert "no environment named" in result.output and "left alone" in output_of(result)
    assert exists("container", container)


def test_reap_removes_only_this_homes_expired_environments_and_orphans(labelled_docker_objects):
    old, live, killed, foreign, unowned = (test_environment_name() for _ in range(5))
    save_record(record(old, age=timedelta(hours=3), ttl=timedelta(hours=2)))
    save_record(record(live))
    old_container, _ = labelled_docker_objects(old)
    live_container, _ = labelled_docker_objects(live)
    # What a killed `up` leaves: labelled objects and no record.
    orphan_container, orphan_volume = labelled_docker_objects(killed)
    # Another home's environment on the same machine, and one made before objects had owners.
    foreign_container, foreign_volume = labelled_docker_objects(foreign, owner=another_home())
    unowned_container, _ = labelled_docker_objects(unowned, owner=None)

    dry = runner.invoke(app, ["reap", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    said = output_of(dry)
    assert f"would remove expired environment {old}" in said and f"would remove orphaned traces of {killed}" in said
    assert f"left alone: container {foreign_container} (environment {foreign})" in said
    assert f"left alone: container {unowned_container} (environment {unowned}): no owner label" in said
    assert exists("container", orphan_container)

    result = runner.invoke(app, ["reap"])
    assert result.exit_code == 0, result.output
    assert not exists("container", old_container) and find_record(old) is None
    assert not exists("container", orphan_container) and not exists("volume", orphan_volume)
    assert exists("container", live_container) and find_record(live) is not None
    assert exists("container", foreign_container) and exists("volume", foreign_volume)
    assert exists("container", unowned_container)


def test_two_homes_on_one_machine_reap_and_down_without_touching_each_other(labelled_docker_objects, tmp_path,
                                                                               monkeypatch):
    name = test_environment_name()
    first_home_container, _ = labelled_docker_objects(name, "f5")
    monkeypatch.setenv("ENVBUILDER_HOME", str(tmp_path / "second-home"))
    second_home_container, _ = labelled_docker_objects(name, "web")

    assert runner.invoke(app, ["reap"]).exit_code == 0
    assert exists("container", first_home_container) and not exists("container", second_home_container)
    assert runner.invoke(app, ["down", name]).exit_code == 2
    assert exists("container", first_home_container)


def test_up_warns_about_expired_environments(monkeypatch):
    save_record(record("stale", age=timedelta(days=2)))
    # Stop right after the warning: prerequisites fail on a PATH without tools.
    monkeypatch.setattr("envbuilder.pipeline.up.check_prerequisites", lambda spec, *_args, **_kwargs: (_ for _ in ()).throw(SystemExit(3)))
    result = runner.invoke(app, ["up", "--services", "web", "--name", "fresh"])
    assert "expired environments: stale" in " ".join(result.output.split())
    assert "envbuilder reap" in result.output


def test_down_keeps_the_record_as_failed_naming_what_is_left_until_a_later_down_removes_it(labelled_docker_objects,
                                                                                            empty_image):
    name = test_environment_name()
    save_record(record(name))
    _, volume = labelled_docker_objects(name)
    # Something that is not the environment's holds its volume, so the volume cannot be removed.
    holder = f"{name}-holder"
    subprocess.run(["docker", "create", "--name", holder, "-v", f"{volume}:/held", empty_image, "/nothing"],
                   check=True, capture_output=True)
    try:
        first = runner.invoke(app, ["down", name])
        assert first.exit_code == 1, first.output
        assert f"volume {volume}" in output_of(first) and "is gone" not in first.output
        kept = find_record(name)
        assert kept is not None and kept.status == "failed" and f"volume {volume}" in (kept.message or "")
        assert ports.owned_by(name) != []
    finally:
        subprocess.run(["docker", "rm", "-f", holder], capture_output=True)
    second = runner.invoke(app, ["down", name])
    assert second.exit_code == 0, second.output
    assert not exists("volume", volume) and find_record(name) is None and ports.owned_by(name) == []
