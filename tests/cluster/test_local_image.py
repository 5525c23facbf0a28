"""What Docker holds as an image: one `docker image inspect` for its ID and labels, wherever they are asked."""

import pytest

from envbuilder.cluster.commands import CommandResult
from envbuilder.cluster.docker import LocalImage, local_image, require_local_image
from envbuilder.errors import EnvbuilderError


def docker_answering(returncode: int, stdout: str):
    calls: list[list[str]] = []

    def runner(args, **_kwargs) -> CommandResult:
        calls.append(list(args))
        return CommandResult(tuple(args), returncode, stdout, "" if returncode == 0 else "Error: No such image")

    runner.calls = calls  # type: ignore[attr-defined]
    return runner


def test_an_image_docker_holds_comes_with_its_id_and_labels():
    runner = docker_answering(0, 'sha256:abc {"dev.envbuilder.node-image.cni":"kube-router"}\n')

    assert local_image("envbuilder/kind-node:v1.35.4", runner) == LocalImage(
        "sha256:abc", {"dev.envbuilder.node-image.cni": "kube-router"}
    )
    assert runner.calls[0][:3] == ["docker", "image", "inspect"]


def test_an_image_without_labels_has_none():
    assert local_image("envbuilder/base:bookworm", docker_answering(0, "sha256:abc null\n")) == LocalImage("sha256:abc", {})


def test_an_image_docker_lacks_is_none_and_where_it_is_required_says_how_to_make_it():
    absent = docker_answering(1, "")

    assert local_image("envbuilder/web:abc1234", absent) is None
    with pytest.raises(EnvbuilderError, match="Docker has no image envbuilder/web:abc1234") as raised:
        require_local_image("envbuilder/web:abc1234", absent)
    assert raised.value.hint == "build it first: envbuilder images build"
