import subprocess

import pytest

from tests.support.docker import empty_image as make_empty_image


@pytest.fixture(scope="session")
def empty_image() -> str:
    return make_empty_image()


@pytest.fixture
def labelled_docker_objects(empty_image):
    """Creates containers and volumes labelled as an environment's, and removes any a test leaves."""
    created: list[tuple[str, str]] = []

    def create(environment: str, suffix: str = "f5") -> tuple[str, str]:
        label = f"envbuilder.io/environment={environment}"
        container, volume = f"envbuilder-{environment}-{suffix}", f"envbuilder-{environment}-{suffix}-state"
        subprocess.run(["docker", "volume", "create", "--label", label, volume], check=True, capture_output=True)
        subprocess.run(["docker", "create", "--name", container, "--label", label, "-v", f"{volume}:/state",
                        empty_image, "/nothing"], check=True, capture_output=True)
        created.append((container, volume))
        return container, volume

    yield create
    for container, volume in created:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)


def exists(kind: str, name: str) -> bool:
    return subprocess.run(["docker", kind, "inspect", name], capture_output=True).returncode == 0
