"""An image registry for real, under a name and port of this test's own (never the machine's): started,
reused, pushed to with only the missing layers travelling, reached by name from a container on its network
as a kind node reaches it, and a superseded image deleted from it."""

import io
import secrets
import subprocess
import tarfile
from collections.abc import Iterator

import pytest

from envbuilder.images.base import ensure_base_image
from envbuilder.images.registry import Registry, registry_image
from envbuilder.naming import REGISTRY_CONTAINER_PORT
from tests.support.docker import remove_images, require_docker
from tests.support.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def registry() -> Iterator[Registry]:
    require_docker()
    registry = Registry(name=f"envbuilder-test-registry-{secrets.token_hex(4)}", port=free_port())
    try:
        yield registry
    finally:
        docker("rm", "--force", registry.name)
        docker("volume", "rm", registry.name)


@pytest.fixture
def network() -> Iterator[str]:
    name = f"envbuilder-test-net-{secrets.token_hex(4)}"
    assert docker("network", "create", name).returncode == 0
    try:
        yield name
    finally:
        # The test's registry is still on it (fixtures end in reverse order): it leaves first.
        attached = docker("network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{end}}", name)
        for container in attached.stdout.split():
            docker("network", "disconnect", "--force", name, container)
        assert docker("network", "rm", name).returncode == 0


def imported_image(size: int) -> Iterator[str]:
    """One layer of its own (a random file of `size` bytes), imported from nothing."""
    image = f"envbuilder-test/registry-probe:{secrets.token_hex(4)}"
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        content = secrets.token_bytes(size)
        entry = tarfile.TarInfo("probe")
        entry.size = len(content)
        tar.addfile(entry, io.BytesIO(content))
    subprocess.run(["docker", "import", "-", image], input=layer.getvalue(), check=True, capture_output=True)
    try:
        yield image
    finally:
        remove_images(image)


@pytest.fixture
def small_image() -> Iterator[str]:
    yield from imported_image(2048)


@pytest.fixture
def large_image() -> Iterator[str]:
    yield from imported_image(64 * 2**20)  # random, so compressing it takes a while: time to kill the push


def container_id(name: str) -> str:
    return docker("inspect", "--format", "{{.Id}}", name).stdout.strip()


def test_the_registry_is_started_once_reused_pushed_to_reached_by_name_and_deletes(registry, network, small_image):
    registry.ensure(registry_image)
    registry.join(network)
    first = container_id(registry.name)
    assert registry.answers() and network in registry.networks()

    registry.ensure(lambda: pytest.fail("a running registry is reused: no image is chosen"))
    registry.join(network)  # joined already: nothing to do
    assert container_id(registry.name) == first

    assert registry.push([small_image]) == {small_image: 1}
    assert registry.push([small_image]) == {small_image: 0}  # a second environment's push: nothing travels
    assert registry.holds(small_image)
    assert docker("image", "inspect", registry.reference(small_image)).returncode != 0  # the push tag is dropped

    # As a kind node's containerd does: the registry by its name on the shared network, at its own port.
    repository, _, tag = small_image.rpartition(":")
    url = f"http://{registry.name}:{REGISTRY_CONTAINER_PORT}/v2/{repository}/manifests/{tag}"
    fetched = docker("run", "--rm", "--network", network, ensure_base_image(), "python3", "-c",
                     "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], "
                     "headers={'Accept': 'application/vnd.docker.distribution.manifest.v2+json'}))", url)
    assert fetched.returncode == 0, fetched.stderr

    assert registry.delete(small_image) and not registry.holds(small_image)


def test_a_registry_stopped_or_removed_comes_back_with_what_it_held(registry, small_image):
    registry.ensure(registry_image)
    registry.push([small_image])

    docker("stop", registry.name)
    registry.ensure(registry_image)
    assert registry.holds(small_image)

    docker("rm", "--force", registry.name)  # its volume stays
    registry.ensure(registry_image)
    assert registry.holds(small_image)


def test_a_push_killed_midway_is_simply_done_again(registry, large_image):
    registry.ensure(registry_image)
    target = registry.reference(large_image)
    assert docker("tag", large_image, target).returncode == 0
    pushing = subprocess.Popen(["docker", "push", target], stdout=subprocess.PIPE, text=True)
    assert pushing.stdout is not None
    for line in pushing.stdout:
        if "Pushing" in line or "Preparing" in line:
            break
    pushing.kill()  # as kill -9 of `up` takes its push down
    pushing.wait()
    assert not registry.holds(large_image)

    registry.push([large_image])
    assert registry.holds(large_image)
