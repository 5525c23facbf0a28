"""The machine's registry as commands: started once and reused, refused when the name is not ours, images
pushed under the registry's name with only the missing layers counted. No Docker involved."""

import json

import pytest

from envbuilder.cluster.commands import CommandResult
from envbuilder.errors import EnvbuilderError
from envbuilder.images.registry import PUBLIC_REGISTRY_IMAGE, Registry
from envbuilder.naming import REGISTRY_CONTAINER, REGISTRY_LABEL, REGISTRY_PORT, registry_reference


class FakeDocker:
    """Answers the registry's docker commands from a container that exists or not, on some networks."""

    def __init__(self, container: dict | None = None, networks: tuple[str, ...] = ("kind",), push_output: str = ""):
        self.container, self.networks, self.push_output = container, networks, push_output
        self.calls: list[list[str]] = []

    def __call__(self, args, **kwargs) -> CommandResult:
        self.calls.append(list(args))
        match list(args):
            case ["docker", "container", "inspect", _]:
                if self.container is None:
                    return CommandResult(tuple(args), 1, "", "No such container")
                return CommandResult(tuple(args), 0, json.dumps([self.container]), "")
            case ["docker", "run", *_]:
                self.container = container(running=True, labels={REGISTRY_LABEL: "true"})
            case ["docker", "network", "inspect", network]:
                return CommandResult(tuple(args), 0 if network in self.networks else 1, "", "")
            case ["docker", "network", "connect", network, _]:
                assert self.container is not None
                self.container["NetworkSettings"]["Networks"][network] = {}
            case ["docker", "push", _]:
                return CommandResult(tuple(args), 0, self.push_output, "")
        return CommandResult(tuple(args), 0, "", "")

    def commands(self, *prefix: str) -> list[list[str]]:
        return [call for call in self.calls if call[:len(prefix)] == list(prefix)]


def container(running: bool, labels: dict[str, str], networks: tuple[str, ...] = ("bridge",)) -> dict:
    return {"State": {"Running": running}, "Config": {"Labels": labels},
            "NetworkSettings": {"Networks": {network: {} for network in networks}}}


def registry(docker: FakeDocker, monkeypatch) -> Registry:
    monkeypatch.setattr(Registry, "answers", lambda self: True)
    return Registry(runner=docker)


def test_the_machines_registry_has_one_name_and_port_and_pods_name_images_by_it():
    assert (Registry().name, Registry().port) == (REGISTRY_CONTAINER, REGISTRY_PORT) == ("envbuilder-registry", 5001)
    assert registry_reference("envbuilder/web:abc1234") == "localhost:5001/envbuilder/web:abc1234"
    assert Registry(port=45001).reference("rabbitmq:3.13-management") == "localhost:45001/rabbitmq:3.13-management"


def test_a_missing_registry_is_started_on_loopback_with_its_volume_and_joins_no_network_yet(monkeypatch):
    docker = FakeDocker()
    registry(docker, monkeypatch).ensure(lambda: PUBLIC_REGISTRY_IMAGE)

    [volume] = docker.commands("docker", "volume", "create")
    assert volume[-1] == "envbuilder-registry" and f"{REGISTRY_LABEL}=true" in volume
    [started] = docker.commands("docker", "run")
    assert started[-1] == PUBLIC_REGISTRY_IMAGE
    options = set(zip(started, started[1:]))
    assert {("--publish", "127.0.0.1:5001:5000"), ("--volume", "envbuilder-registry:/var/lib/registry"),
            ("--env", "REGISTRY_STORAGE_DELETE_ENABLED=true"), ("--label", f"{REGISTRY_LABEL}=true"),
            ("--restart", "unless-stopped"), ("--name", "envbuilder-registry")} <= options
    # No environment or owner label: no down, reap or leftover check ever counts it.
    assert not any(label.startswith(("envbuilder.io/environment", "envbuilder.io/owner")) for label in started)
    assert docker.commands("docker", "network", "connect") == []  # the engine joins it to an environment's


def test_a_running_registry_is_reused_as_it_is_and_its_image_is_not_even_chosen(monkeypatch):
    docker = FakeDocker(container(running=True, labels={REGISTRY_LABEL: "true"}, networks=("bridge", "kind")))
    registry(docker, monkeypatch).ensure(lambda: pytest.fail("no image is chosen for a running registry"))
    assert [call[:2] for call in docker.calls] == [["docker", "container"]]


def test_a_stopped_registry_is_started_again(monkeypatch):
    docker = FakeDocker(container(running=False, labels={REGISTRY_LABEL: "true"}))
    registry(docker, monkeypatch).ensure(lambda: PUBLIC_REGISTRY_IMAGE)
    assert docker.commands("docker", "start") == [["docker", "start", "envbuilder-registry"]]
    assert not docker.commands("docker", "run")


def test_a_container_of_that_name_that_is_not_envbuilders_registry_is_refused_untouched(monkeypatch):
    docker = FakeDocker(container(running=True, labels={}))
    with pytest.raises(EnvbuilderError, match="is not envbuilder's registry") as refused:
        registry(docker, monkeypatch).ensure(lambda: PUBLIC_REGISTRY_IMAGE)
    assert "docker rm -f envbuilder-registry" in (refused.value.hint or "")
    assert [call[:2] for call in docker.calls] == [["docker", "container"]]


def test_a_push_tags_for_the_registry_pushes_and_drops_the_tag_counting_the_layers_that_travelled():
    output = "abc: Layer already exists\ndef: Mounted from envbuilder/web\n123: Pushed\n456: Pushed\n"
    docker = FakeDocker(push_output=output)
    travelled = Registry(runner=docker).push(["envbuilder/worker:abc1234"])
    target = "localhost:5001/envbuilder/worker:abc1234"
    assert docker.calls == [["docker", "tag", "envbuilder/worker:abc1234", target], ["docker", "push", target],
                            ["docker", "image", "rm", target]]
    assert travelled == {"envbuilder/worker:abc1234": 2}
