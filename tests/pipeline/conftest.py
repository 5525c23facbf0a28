import shutil
import subprocess

import pytest

EMPTY_IMAGE = "envbuilder-test/empty:latest"


def docker_running() -> bool:
    docker = shutil.which("docker")
    return bool(docker) and subprocess.run([docker, "info"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def empty_image() -> str:
    """An image made here from nothing: containers are created from it, never started."""
    if not docker_running():
        pytest.skip("needs a running Docker engine")
    if subprocess.run(["docker", "image", "inspect", EMPTY_IMAGE], capture_output=True).returncode != 0:
        subprocess.run(["docker", "import", "-", EMPTY_IMAGE], input=b"\0" * 1024, check=True, capture_output=True)
    return EMPTY_IMAGE


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
