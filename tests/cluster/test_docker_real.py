"""The Docker wrapper against the real engine, on objects with test-only names."""

import io
import json
import secrets
import subprocess
import tarfile

import pytest

from envbuilder.cluster.commands import CommandFailed
from envbuilder.cluster.docker import ContainerSpec, Docker
from envbuilder.images.base import ensure_base_image
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


def test_a_secret_file_is_in_the_container_readable_by_any_user_and_not_in_its_configuration():
    image = ensure_base_image()  # debian, runs python3: exits at once, which is enough here
    name = f"envbuilder-test-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    spec = ContainerSpec(name=name, image=image, network="bridge", labels={},
                         env={"PASSWORD_FILE": "/run/secrets/pw"}, secret_files=(("/run/secrets/pw", password),))
    try:
        Docker().run_container(spec)
        copied = subprocess.run(["docker", "cp", f"{name}:/run/secrets/pw", "-"], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(copied)) as archive:
            [member] = archive.getmembers()
            assert (member.mode & 0o777, archive.extractfile(member).read().decode()) == (0o444, password)
        inspected = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True).stdout
        assert password not in inspected and "/run/secrets/pw" in inspected
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
