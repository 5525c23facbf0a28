"""Docker for tests: skipping with a stated reason when no engine answers, and images made here from nothing."""

import shutil
import subprocess

import pytest


def require_docker() -> None:
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode != 0:
        pytest.skip("the Docker engine is not running (start dockerd)")


def remove_images(*tags: str) -> None:
    subprocess.run(["docker", "image", "rm", "--force", *tags], capture_output=True, timeout=120, check=False)


EMPTY_IMAGE = "envbuilder-test/empty:latest"


def empty_image() -> str:
    """An image imported from nothing (no registry): containers are created from it, never run."""
    require_docker()
    if subprocess.run(["docker", "image", "inspect", EMPTY_IMAGE], capture_output=True, check=False).returncode != 0:
        subprocess.run(["docker", "import", "-", EMPTY_IMAGE], input=b"\0" * 1024, check=True, capture_output=True)
    return EMPTY_IMAGE
