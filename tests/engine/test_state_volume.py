"""The F5's state volume is the environment's, not its container's: a container replaced (a new
revision, a new VIP) leaves the configuration to its successor; only removing the environment
removes the volume.

The container and volume providers as the engine calls them (on a replacement: the old
container's delete, then the new one's create), against the real Docker engine, on test-only
names. Containers are created from an empty image and never run: the files are put into the
volume and read back with `docker cp`.
"""

import io
import json
import secrets
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from envbuilder.engine.resources import _ContainerProvider, _VolumeProvider
from envbuilder.errors import EnvbuilderError
from tests.support.docker import empty_image

pytestmark = [pytest.mark.docker]
OWNER = "home-under-test"
STATE_DIR = "/var/lib/f5-mock"
SAVED = b'{"generation":7,"pools":{"/Common/web":{}}}'


def labels(owner: str = OWNER) -> dict[str, str]:
    return {"envbuilder.io/environment": "dev", "envbuilder.io/owner": owner}


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, check=False, timeout=60)


def exists(kind: str, name: str) -> bool:
    return docker(kind, "inspect", name).returncode == 0


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    """(container, volume) names no environment can have; removed afterwards."""
    container = f"envbuilder-test-{secrets.token_hex(4)}-f5"
    yield container, f"{container}-state"
    docker("rm", "--force", container)
    docker("volume", "rm", "--force", f"{container}-state")


def volume_props(volume: str) -> dict:
    return {"name": volume, "labels": labels(), "docker": "docker"}


def container_with(container: str, volume: str) -> dict:
    """A container of this home mounting `volume`, created as the engine's provider would find it."""
    args = [arg for key, value in labels().items() for arg in ("--label", f"{key}={value}")]
    created = docker("create", "--name", container, *args, "--volume", f"{volume}:{STATE_DIR}", empty_image(), "/x")
    assert created.returncode == 0, created.stderr
    spec = {"name": container, "image": empty_image(), "network": "bridge", "labels": labels(), "env": {},
            "secret_env": [], "publish": [], "volumes": [[volume, STATE_DIR]]}
    return {"spec": spec, "docker": "docker"}


def save(container: str, tmp_path: Path) -> None:
    saved = tmp_path / "config.json"
    saved.write_bytes(SAVED)
    copied = docker("cp", str(saved), f"{container}:{STATE_DIR}/config.json")
    assert copied.returncode == 0, copied.stderr


def saved_in(container: str) -> bytes:
    copied = docker("cp", f"{container}:{STATE_DIR}/config.json", "-")
    assert copied.returncode == 0, copied.stderr
    with tarfile.open(fileobj=io.BytesIO(copied.stdout)) as archive:
        member = archive.extractfile("config.json")
        assert member is not None
        return member.read()


def test_a_replaced_container_leaves_its_configuration_to_its_successor(names, tmp_path):
    container, volume = names
    _VolumeProvider().create(volume_props(volume))
    old = container_with(container, volume)
    save(container, tmp_path)

    _ContainerProvider().delete(container, old)  # the replacement's first half

    assert not exists("container", container)
    assert exists("volume", volume)
    container_with(container, volume)  # its successor, same name, same volume
    assert saved_in(container) == SAVED


def test_a_volume_this_home_already_has_is_adopted_with_its_contents(names, tmp_path):
    container, volume = names
    _VolumeProvider().create(volume_props(volume))
    container_with(container, volume)
    save(container, tmp_path)
    docker("rm", "--force", container)

    created = _VolumeProvider().create(volume_props(volume))  # e.g. made by a container before volumes were resources

    assert created.id == volume
    container_with(container, volume)
    assert saved_in(container) == SAVED


def test_the_volume_goes_when_the_environment_does(names):
    container, volume = names
    _VolumeProvider().create(volume_props(volume))
    old = container_with(container, volume)
    _ContainerProvider().delete(container, old)  # the engine deletes the container before the volume it depends on

    _VolumeProvider().delete(volume, volume_props(volume))

    assert not exists("volume", volume)


def test_a_volume_of_the_same_name_that_is_not_this_homes_is_refused_and_left_alone(names):
    _container, volume = names
    theirs = [arg for key, value in labels("another-home").items() for arg in ("--label", f"{key}={value}")]
    assert docker("volume", "create", *theirs, volume).returncode == 0

    with pytest.raises(EnvbuilderError, match=f"volume {volume} already exists") as refused:
        _VolumeProvider().create(volume_props(volume))

    assert "another envbuilder home (owner another-home)" in str(refused.value)
    inspected = json.loads(docker("volume", "inspect", volume).stdout)
    assert inspected[0]["Labels"]["envbuilder.io/owner"] == "another-home"


def test_only_another_name_makes_another_volume(names):
    _container, volume = names
    provider = _VolumeProvider()
    assert not provider.diff(volume, volume_props(volume), {**volume_props(volume), "docker": "/usr/bin/docker"}).changes
    renamed = provider.diff(volume, volume_props(volume), volume_props(f"{volume}-2"))
    assert renamed.changes and renamed.replaces == ["name"]
