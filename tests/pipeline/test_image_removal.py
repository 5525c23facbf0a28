"""Which images envbuilder removes: only this home's builds (its owner label) that none of its environments
runs. After an `up`, an earlier edit's; with `envbuilder images prune`, also an earlier commit's, but never
what the working tree builds now. Docker is a fake here: what it would be asked is the specification."""

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.cluster.commands import CommandFailed, CommandResult
from envbuilder.images.registry import Registry
from envbuilder.pipeline.images import prune_images, remove_superseded_images
from envbuilder.state.identity import home_identity
from envbuilder.state.records import EnvironmentRecord, HostPorts, record_path, save_record

RUNNING = "envbuilder/web:abc-dirty-222222222222"
EARLIER_EDIT = "envbuilder/web:abc-dirty-111111111111"
EARLIER_COMMIT = "envbuilder/web:0ld0ld0"
CURRENT_COMMIT = "envbuilder/worker:abc"
IN_A_CONTAINER = "envbuilder/f5-mock:abc-dirty-444444444444"
BUILT_HERE = [RUNNING, EARLIER_EDIT, EARLIER_COMMIT, CURRENT_COMMIT, IN_A_CONTAINER]


class FakeDocker:
    def __init__(self, listed: list[str] = BUILT_HERE, answers: bool = True):
        self.listed, self.answers = listed, answers
        self.calls: list[list[str]] = []

    def __call__(self, args, **_kwargs) -> CommandResult:
        self.calls.append(list(args))
        if not self.answers:
            return CommandResult(tuple(args), 1, "", "Cannot connect to the Docker daemon")
        if args[1] == "images":
            return CommandResult(tuple(args), 0, "\n".join(self.listed), "")
        in_use = args[-1] == IN_A_CONTAINER
        return CommandResult(tuple(args), 1 if in_use else 0, "", "image is being used by a container" if in_use else "")

    @property
    def removed(self) -> list[str]:
        return [call[-1] for call in self.calls if call[:3] == ["docker", "image", "rm"]]


@pytest.fixture
def registry_deletes(monkeypatch) -> list[str]:
    deleted: list[str] = []
    monkeypatch.setattr(Registry, "delete", lambda self, image: deleted.append(image) or True)
    return deleted


@pytest.fixture
def running_environment(isolated_state) -> EnvironmentRecord:
    record = EnvironmentRecord(
        name="envbuilder-test-images", owner="ci", owner_id=home_identity(), created_at=datetime.now(UTC),
        ttl_seconds=3600, profile="default", services=["web"], revision="abc-dirty", target="kind",
        namespace="env-envbuilder-test-images", ports=HostPorts(f5_api=1, broker=2, vips={"web": 3}),
        images={"web": RUNNING}, status="ready",
    )
    save_record(record)
    return record


def test_after_an_up_only_this_homes_earlier_edits_that_no_environment_runs_are_removed(
        running_environment, registry_deletes):
    docker = FakeDocker()

    class Spec:
        images = {"worker": CURRENT_COMMIT}

    removed = remove_superseded_images(Spec(), runner=docker)

    assert removed == [EARLIER_EDIT]
    assert f"label=envbuilder.io/owner={home_identity()}" in docker.calls[0]
    assert docker.removed == [EARLIER_EDIT, IN_A_CONTAINER]  # Docker refused the one a container uses
    assert registry_deletes == [EARLIER_EDIT]


def test_prune_also_removes_earlier_commits_but_keeps_what_runs_and_what_the_tree_builds(
        running_environment, registry_deletes):
    docker = FakeDocker()

    removed = prune_images([CURRENT_COMMIT], runner=docker)

    assert removed == [EARLIER_EDIT, EARLIER_COMMIT]
    # A commit's image may serve another home's environment on that commit from the machine's registry.
    assert registry_deletes == [EARLIER_EDIT]


def test_prune_removes_nothing_while_a_record_cannot_be_read(running_environment, registry_deletes, monkeypatch):
    record_path("broken").write_text("{not json")
    asked: list[str] = []
    monkeypatch.setattr("envbuilder.pipeline.images.remove_images", lambda references, runner: asked.extend(references))

    result = CliRunner().invoke(app, ["images", "prune"])

    assert result.exit_code == 2, result.output
    assert f"{record_path('broken')}cannotberead" in "".join(result.output.split())  # however rich wrapped it
    assert asked == [] and registry_deletes == []


def test_an_up_whose_docker_stops_answering_keeps_its_images_and_a_prune_fails(running_environment, registry_deletes):
    docker = FakeDocker(answers=False)

    class Spec:
        images = {"worker": CURRENT_COMMIT}

    assert remove_superseded_images(Spec(), runner=docker) == []
    with pytest.raises(CommandFailed, match="listing this home's images"):
        prune_images([CURRENT_COMMIT], runner=docker)
