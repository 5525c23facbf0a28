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
    """Directories the image lacks are made (two levels here); those it has keep their mode."""
    image = ensure_base_image()  # debian, runs python3: exits at once, which is enough here
    name = f"envbuilder-test-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    path = "/run/secrets/envbuilder/pw"
    spec = ContainerSpec(name=name, image=image, network="bridge", labels={},
                         env={"PASSWORD_FILE": path}, secret_files=((path, password),))

    def copied_out(source: str) -> tuple[int, str | None]:
        """The mode and, for a file, the content of `source` in the container."""
        archive = subprocess.run(["docker", "cp", f"{name}:{source}", "-"], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            member = tar.getmembers()[0]
            return member.mode & 0o777, tar.extractfile(member).read().decode() if member.isfile() else None

    try:
        run_dir_mode = subprocess.run(["docker", "run", "--rm", image, "stat", "-c", "%a", "/run"],
                                      capture_output=True, text=True, check=True).stdout.strip()
        Docker().run_container(spec)
        assert copied_out(path) == (0o444, password)
        assert f"{copied_out('/run')[0]:o}" == run_dir_mode
        inspected = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True).stdout
        assert password not in inspected and path in inspected
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
