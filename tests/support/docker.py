"""Docker for tests: a test fails with the fix when no engine answers (unless the run leaves Docker out),
and images made here from nothing."""

import shutil
import subprocess

from tests.support.tools import missing


def require_docker() -> None:
    if shutil.which("docker") is None:
        missing("docker", "docker is not installed", "apt-get install -y docker.io, or make setup")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode != 0:
        missing("docker", "the Docker engine is not running", "make setup starts it (tools/host/prepare-docker.sh)")


def remove_images(*tags: str) -> None:
    subprocess.run(["docker", "image", "rm", "--force", *tags], capture_output=True, timeout=120, check=False)


EMPTY_IMAGE = "envbuilder-test/empty:latest"


def empty_image() -> str:
    """An image imported from nothing (no registry): containers are created from it, never run."""
    require_docker()
    if subprocess.run(["docker", "image", "inspect", EMPTY_IMAGE], capture_output=True, check=False).returncode != 0:
        subprocess.run(["docker", "import", "-", EMPTY_IMAGE], input=b"\0" * 1024, check=True, capture_output=True)
    return EMPTY_IMAGE
