import secrets
import subprocess
from collections.abc import Callable, Iterator

import pytest

from envbuilder.pipeline.prerequisites import Prerequisites
from envbuilder.pipeline.request import ResolvedRequest
from envbuilder.state.identity import home_identity
from tests.support.docker import empty_image as make_empty_image


@pytest.fixture(scope="session")
def empty_image() -> str:
    return make_empty_image()


def test_environment_name() -> str:
    """A name no real environment has: tests create, find and remove only their own objects."""
    return f"envbuilder-test-{secrets.token_hex(4)}"


test_environment_name.__test__ = False  # a helper, not a test


@pytest.fixture
def labelled_docker_objects(empty_image) -> Iterator[Callable[..., tuple[str, str]]]:
    """Creates a container and a volume labelled as an environment's, owned by this test's home unless
    `owner` says otherwise (None: no owner label, as envbuilder made them before it had one); removes
    whatever a test leaves."""
    created: list[tuple[str, str]] = []

    def create(environment: str, suffix: str = "f5", owner: str | None = "") -> tuple[str, str]:
        owner = home_identity() if owner == "" else owner
        labels = [f"envbuilder.io/environment={environment}"] + ([f"envbuilder.io/owner={owner}"] if owner else [])
        label_args = [arg for label in labels for arg in ("--label", label)]
        container, volume = f"{environment}-{suffix}", f"{environment}-{suffix}-state"
        subprocess.run(["docker", "volume", "create", *label_args, volume], check=True, capture_output=True)
        subprocess.run(["docker", "create", "--name", container, *label_args, "-v", f"{volume}:/state",
                        empty_image, "/nothing"], check=True, capture_output=True)
        created.append((container, volume))
        return container, volume

    yield create
    for container, volume in created:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)


def exists(kind: str, name: str) -> bool:
    return subprocess.run(["docker", kind, "inspect", name], capture_output=True).returncode == 0


@pytest.fixture
def engine_runs(monkeypatch) -> list[ResolvedRequest]:
    """The engine replaced by a recorder of what it was asked to do; prerequisites taken as met."""
    runs: list[ResolvedRequest] = []
    monkeypatch.setattr("envbuilder.pipeline.up.check_prerequisites", lambda spec, *_args, **_kwargs: Prerequisites({}, None, None))
    monkeypatch.setattr("envbuilder.pipeline.up._apply", lambda resolved, record, prerequisites, progress: runs.append(resolved))
    return runs
