"""Building the sample services' images for a commit, from the local base image, without any registry."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from envbuilder.images.base import ensure_base_image
from envbuilder.images.build import build_images
from envbuilder.images.revision import current_revision
from tests.support.docker import remove_images, require_docker

pytestmark = [pytest.mark.slow, pytest.mark.docker]
REPO = Path(__file__).resolve().parents[2]
SAMPLES = ["fixtures/services/web", "fixtures/services/worker", "stacks/services/web.yaml", "stacks/services/worker.yaml"]


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """A repository holding only the two sample services, committed."""
    for relative in SAMPLES:
        source, target = REPO / relative, tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("build", "__pycache__"))
        else:
            shutil.copy2(source, target)
    for command in (["init", "--quiet"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@example.invalid",
                                                        "commit", "--quiet", "-m", "samples"]):
        subprocess.run(["git", "-C", str(tmp_path), *command], check=True)
    return tmp_path


def inspect(image: str) -> dict:
    output = subprocess.run(["docker", "image", "inspect", image], check=True, capture_output=True, text=True).stdout
    return json.loads(output)[0]


def test_service_images_are_tagged_with_the_commit_built_on_the_local_base_and_not_rebuilt(sample_repo):
    require_docker()
    base = ensure_base_image()
    revision = current_revision(sample_repo)
    assert not revision.dirty
    tags = [f"envbuilder/web:{revision.commit}", f"envbuilder/worker:{revision.commit}"]
    remove_images(*tags)
    try:
        first = build_images(sample_repo, revision, ["web", "worker"], base)
        again = build_images(sample_repo, revision, ["web", "worker"], base)

        assert [(image.tag, image.built) for image in first] == [(tag, True) for tag in tags]
        assert [image.built for image in again] == [False, False]
        base_layer = inspect(base)["RootFS"]["Layers"][0]
        for tag in tags:
            image = inspect(tag)
            assert image["Config"]["Labels"]["org.opencontainers.image.revision"] == revision.commit
            assert image["RootFS"]["Layers"][0] == base_layer  # FROM envbuilder/base: nothing was pulled
    finally:
        remove_images(*tags)
