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


def never_asked() -> str:
    raise AssertionError("nothing is built, so no base image is needed")


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
        first = build_images(sample_repo, revision, ["web", "worker"], lambda: base)
        again = build_images(sample_repo, revision, ["web", "worker"], never_asked)

        assert [(image.tag, image.built) for image in first] == [(tag, True) for tag in tags]
        assert [image.built for image in again] == [False, False]
        base_layer = inspect(base)["RootFS"]["Layers"][0]
        for tag in tags:
            image = inspect(tag)
            assert image["Config"]["Labels"]["org.opencontainers.image.revision"] == revision.commit
            assert image["RootFS"]["Layers"][0] == base_layer  # FROM envbuilder/base: nothing was pulled
    finally:
        remove_images(*tags)


def test_each_edit_builds_only_the_image_it_touches_under_a_tag_of_its_own(sample_repo):
    require_docker()
    base = ensure_base_image()
    commit = current_revision(sample_repo).commit
    web_source = sample_repo / "fixtures/services/web/web.py"
    original = web_source.read_text()
    built: list[str] = []
    try:
        build_images(sample_repo, current_revision(sample_repo), ["worker"], lambda: base)
        built.append(f"envbuilder/worker:{commit}")

        web_source.write_text(original + "# first edit\n")
        first = {image.name: image for image in build_images(sample_repo, current_revision(sample_repo), [], lambda: base)}
        built.append(first["web"].tag)
        web_source.write_text(original + "# second edit\n")
        [second] = build_images(sample_repo, current_revision(sample_repo), ["web"], lambda: base)
        built.append(second.tag)
        [unchanged] = build_images(sample_repo, current_revision(sample_repo), ["web"], never_asked)

        assert first["web"].built and first["web"].tag.startswith(f"envbuilder/web:{commit}-dirty-")
        assert (first["worker"].tag, first["worker"].built) == (f"envbuilder/worker:{commit}", False)
        assert second.built and second.tag != first["web"].tag
        assert (unchanged.tag, unchanged.built) == (second.tag, False)
        assert inspect(second.tag)["Config"]["Labels"]["org.opencontainers.image.revision"] == second.tag.split(":")[1]
    finally:
        web_source.write_text(original)
        remove_images(*built)
