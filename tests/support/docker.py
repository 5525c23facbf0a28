"""Skipping Docker tests with a stated reason when no Docker engine answers."""

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
