"""The Docker wrapper against the real engine, on objects with test-only names."""

import json
import secrets
import subprocess

import pytest

from envbuilder.cluster.commands import CommandFailed
from envbuilder.cluster.docker import ContainerSpec, Docker
from tests.support.docker import empty_image

pytestmark = [pytest.mark.docker]


def test_a_containers_named_volume_carries_the_containers_labels_from_the_start():
    image = empty_image()
    name = f"envbuilder-test-{secrets.token_hex(4)}"
    labels = {"envbuilder.io/environment": name, "envbuilder.io/owner": "test-owner"}
    spec = ContainerSpec(name=name, image=image, network="bridge", labels=labels, volumes=((f"{name}-state", "/state"),))
    try:
        with pytest.raises(CommandFailed):  # the empty image has nothing to run; the volume is made before
            Docker().run_container(spec)
        inspected = subprocess.run(["docker", "volume", "inspect", f"{name}-state"], capture_output=True, text=True)
        assert json.loads(inspected.stdout)[0]["Labels"] == labels
        assert Docker().labelled("volume", name) == {f"{name}-state": (name, "test-owner")}
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "volume", "rm", "-f", f"{name}-state"], capture_output=True)
