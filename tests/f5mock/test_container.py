"""The container image: built offline from the local base, serving /health and the API."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.f5mock.loopback import wait_healthy
from tests.support.docker import remove_images, require_docker

pytestmark = [pytest.mark.slow, pytest.mark.docker]
REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "envbuilder/base:bookworm"


def docker(*args: str, timeout: float = 120) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, timeout=timeout).stdout


@pytest.fixture
def build_context(tmp_path: Path) -> Path:
    """The repository's sources and Dockerfile plus host-prepared wheels (the shared build/ is left alone)."""
    shutil.copytree(REPO / "envbuilder", tmp_path / "envbuilder", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "docker", tmp_path / "docker")
    for name in ("pyproject.toml", "README.md"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, tmp_path / name)
    # As the Dockerfile says: wheels of envbuilder[f5] made by the host's pip (Debian 12, CPython 3.11,
    # like the base image).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--wheel-dir",
            str(tmp_path / "build" / "wheels"),
            f"{tmp_path}[f5]",
        ],
        check=True,
        timeout=600,
    )
    return tmp_path


def test_the_image_serves_health_and_creates_pools(build_context):
    require_docker()
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode != 0:
        pytest.skip(reason=f"the base image {BASE_IMAGE} is not built (envbuilder/images makes it)")
    tag = f"envbuilder-test/f5-mock:{uuid.uuid4().hex[:8]}"
    name = f"envbuilder-test-f5-mock-{uuid.uuid4().hex[:8]}"
    try:
        docker(
            "build",
            "--quiet",
            "-f",
            "docker/f5-mock.Dockerfile",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "-t",
            tag,
            str(build_context),
            timeout=600,
        )
        docker("run", "--detach", "--name", name, "-e", "F5MOCK_PASSWORD=s3cret", "-p", "127.0.0.1::443", tag)
        port = docker("port", name, "443/tcp").splitlines()[0].rpartition(":")[2]
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", auth=("admin", "s3cret"), verify=False) as api:
            wait_healthy(api, timeout=60)
            created = api.post("/mgmt/tm/ltm/pool", json={"name": "web", "members": [{"name": "10.0.0.1:80"}]})
            assert created.status_code == 200, created.text
            assert api.get("/mgmt/tm/ltm/pool/~Common~web/members").json()["items"][0]["address"] == "10.0.0.1"
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=60).stderr
        assert '"event":"change"' in logs
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, timeout=60)
        remove_images(tag)
