"""Which image the broker runs on kind, and when the local one is made and pushed: decided without Docker."""

import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from envbuilder.cluster.commands import CommandResult
from envbuilder.errors import EnvbuilderError, InputError
from envbuilder.images import broker
from envbuilder.images.base import installed_version
from envbuilder.images.broker import (
    BROKER_IMAGE,
    BROKER_IMAGE_VARIABLE,
    RECIPE_LABEL,
    choose_broker_image,
    ensure_broker_image,
    recipe_digest,
    resolve_broker_image,
    upstream_version,
)
from envbuilder.pipeline import images as pipeline_images
from envbuilder.spec.catalog import load_catalog
from envbuilder.images.build import COMPONENTS
from envbuilder.images.revision import Revision
from envbuilder.spec.environment import EnvironmentSpec, resolve_services, tagged_images
from envbuilder.spec.profile import load_profile

PROFILE_IMAGE = "rabbitmq:3.13-management"
REPO = Path(__file__).resolve().parents[2]
DPKG_STATUS = """Package: erlang-base
Status: install ok installed
Version: 1:25.2.3+dfsg-1+deb12u4

Package: rabbitmq-server
Status: install ok installed
Depends: adduser,
 erlang-base
Version: {version}
"""


def reachable() -> bool:
    return True


def unreachable() -> bool:
    return False


def unexpected_probe() -> bool:
    raise AssertionError("the registry must not be probed")


@pytest.mark.parametrize(
    ("environment", "docker_has_it", "probe", "expected", "reason"),
    [
        ({BROKER_IMAGE_VARIABLE: "mirror.example/rabbitmq:3.13"}, False, unexpected_probe,
         "mirror.example/rabbitmq:3.13", "$ENVBUILDER_BROKER_IMAGE"),
        ({BROKER_IMAGE_VARIABLE: BROKER_IMAGE}, True, unexpected_probe, BROKER_IMAGE, "$ENVBUILDER_BROKER_IMAGE"),
        ({BROKER_IMAGE_VARIABLE: ""}, True, unexpected_probe, PROFILE_IMAGE, "docker has it"),
        ({}, False, reachable, PROFILE_IMAGE, "a container registry is reachable"),
        ({}, False, unreachable, BROKER_IMAGE, "no container registry is reachable"),
    ],
    ids=["variable", "variable forces the local image", "empty variable is unset", "registry reachable", "offline"],
)
def test_the_broker_runs_the_profiles_image_unless_told_otherwise_or_offline(
    environment, docker_has_it, probe, expected, reason
):
    choice = choose_broker_image(PROFILE_IMAGE, environment, docker_has_it, probe)

    assert choice.image == expected
    assert choice.reason.startswith(reason)


def test_a_broker_image_variable_that_names_no_image_is_refused():
    with pytest.raises(InputError, match=r"\$ENVBUILDER_BROKER_IMAGE='rabbitmq 3' is not an image reference"):
        choose_broker_image(PROFILE_IMAGE, {BROKER_IMAGE_VARIABLE: "rabbitmq 3"}, False, unexpected_probe)


class FakeDocker:
    """`docker image inspect` answers from a set of present images; records every call."""

    def __init__(self, present: set[str], labels: dict[str, str] | None = None) -> None:
        self.present = present
        self.labels = labels or {}
        self.calls: list[list[str]] = []

    def __call__(self, args, **kwargs) -> CommandResult:
        self.calls.append(list(args))
        match args:
            case ["docker", "image", "inspect", "--format", _, image]:
                labels = {RECIPE_LABEL: self.labels[image]} if image in self.labels else None
                return self._answer(image in self.present, f"sha256:{len(image):064x} {json.dumps(labels)}\n")
        raise AssertionError(f"unexpected command {args}")

    @staticmethod
    def _answer(ok: bool, stdout: str) -> CommandResult:
        return CommandResult(("docker",), 0 if ok else 1, stdout if ok else "", "" if ok else "No such image")


@pytest.mark.parametrize(
    ("present", "probe", "expected", "built"),
    [
        ({PROFILE_IMAGE}, unexpected_probe, PROFILE_IMAGE, False),
        (set(), reachable, PROFILE_IMAGE, False),
        (set(), unreachable, BROKER_IMAGE, True),
    ],
    ids=["docker has the profile's", "registry reachable", "offline: local, made"],
)
def test_resolving_says_which_image_and_why_and_makes_the_local_one_only_when_chosen(
    monkeypatch, present, probe, expected, built
):
    monkeypatch.delenv(BROKER_IMAGE_VARIABLE, raising=False)
    monkeypatch.setattr(broker, "registry_reachable", probe)
    made: list[str] = []
    monkeypatch.setattr(broker, "ensure_broker_image", lambda runner, progress: made.append(BROKER_IMAGE))
    said: list[str] = []

    assert resolve_broker_image(PROFILE_IMAGE, FakeDocker(present), said.append) == expected
    assert said[0].startswith(f"broker image {expected} (")
    assert made == ([BROKER_IMAGE] if built else [])


def test_upstream_version_drops_the_epoch_and_the_debian_revision():
    assert upstream_version("3.10.8-1.1+deb12u1") == "3.10.8"
    assert upstream_version("1:25.2.3+dfsg-1+deb12u4") == "25.2.3+dfsg"
    assert upstream_version("3.10.8") == "3.10.8"


def rootfs_tarball(path: Path, rabbitmq_version: str) -> Path:
    """A stand-in root filesystem tarball holding only dpkg's status file."""
    status = DPKG_STATUS.format(version=rabbitmq_version).encode()
    with tarfile.open(path, "w") as archive:
        member = tarfile.TarInfo("./var/lib/dpkg/status")
        member.size = len(status)
        archive.addfile(member, io.BytesIO(status))
    return path


def test_the_installed_version_is_read_from_dpkgs_status_in_the_tarball(tmp_path):
    tarball = rootfs_tarball(tmp_path / "rootfs.tar", "3.10.8-1.1+deb12u1")

    assert installed_version(tarball, "rabbitmq-server") == "3.10.8-1.1+deb12u1"
    assert installed_version(tarball, "erlang-base") == "1:25.2.3+dfsg-1+deb12u4"
    assert installed_version(tarball, "python3") is None


def test_the_recipe_digest_follows_the_files_and_their_modes(tmp_path):
    for source in (REPO / "docker" / "broker").iterdir():
        (tmp_path / source.name).write_bytes(source.read_bytes())
    before = recipe_digest(tmp_path)
    (tmp_path / "entrypoint.sh").chmod(0o755)
    executable = recipe_digest(tmp_path)
    (tmp_path / "entrypoint.sh").write_text("#!/bin/sh\nexec rabbitmq-server\n")

    assert len({before, executable, recipe_digest(tmp_path)}) == 3
    assert recipe_digest(REPO / "docker" / "broker") == recipe_digest(REPO / "docker" / "broker")


def test_an_image_made_from_the_same_recipe_is_not_made_again():
    recipe = recipe_digest(REPO / "docker" / "broker")
    docker = FakeDocker({BROKER_IMAGE}, labels={BROKER_IMAGE: recipe})

    assert ensure_broker_image(docker) == BROKER_IMAGE
    assert len(docker.calls) == 1
    assert docker.calls[0][:3] == ["docker", "image", "inspect"]  # nothing built, nothing imported


def test_a_rootfs_with_another_rabbitmq_version_stops_the_build_and_says_what_to_change(monkeypatch, tmp_path):
    tarball = rootfs_tarball(tmp_path / "rootfs.tar", "3.12.1-1")
    monkeypatch.setattr(broker, "ensure_rootfs", lambda packages, runner, progress: tarball)

    with pytest.raises(EnvbuilderError, match=r"holds rabbitmq-server 3\.12\.1-1, not 3\.10\.8") as raised:
        ensure_broker_image(FakeDocker(set()))
    assert "RABBITMQ_VERSION" in (raised.value.hint or "")


def environment_spec(names: list[str], needs_broker: bool = True) -> EnvironmentSpec:
    stacks = REPO / "stacks"
    profile = load_profile(stacks, "default")
    images = tagged_images([*names, *COMPONENTS], "abc1234")
    services = resolve_services(load_catalog(stacks / "services"), names, profile, images)
    if not needs_broker:
        services = tuple(replace(s, entry=s.entry.model_copy(update={"needs_broker": False})) for s in services)
    return EnvironmentSpec(name="dev", profile=profile, services=services, revision="abc1234", owner="test-home",
                           component_images=tagged_images(COMPONENTS, "abc1234"))


def fake_builds(monkeypatch, chosen: str | None) -> None:
    monkeypatch.setattr(pipeline_images, "resolve_base_image", lambda explicit, progress: "envbuilder/base:bookworm")
    monkeypatch.setattr(pipeline_images, "build_images", lambda *args, **kwargs: [])
    monkeypatch.setattr(pipeline_images, "resolve_broker_image",
                        lambda image, progress: chosen or pytest.fail("no broker image should be chosen"))


OURS = {"envbuilder/web:abc1234", "envbuilder/worker:abc1234", "envbuilder/f5-sync:abc1234"}


@pytest.mark.parametrize(
    ("chosen", "present", "pushed"),
    [
        (BROKER_IMAGE, {BROKER_IMAGE}, True),
        (PROFILE_IMAGE, {PROFILE_IMAGE}, True),
        (PROFILE_IMAGE, set(), False),
    ],
    ids=["local image: pushed", "docker has the profile's: pushed", "nodes pull it"],
)
def test_a_broker_image_docker_holds_is_pushed_and_the_pods_pull_it_through_the_registry(monkeypatch, chosen, present,
                                                                                          pushed):
    fake_builds(monkeypatch, chosen)

    images = pipeline_images.ensure_environment_images(environment_spec(["web", "worker"]), Revision("abc1234"), runner=FakeDocker(OURS | present))

    assert images.broker == (f"localhost:5001/{chosen}" if pushed else chosen)
    assert set(images.to_push) == OURS | ({chosen} if pushed else set())


def test_without_a_broker_no_broker_image_is_chosen(monkeypatch):
    fake_builds(monkeypatch, None)

    images = pipeline_images.ensure_environment_images(
        environment_spec(["web", "worker"], needs_broker=False), Revision("abc1234"), runner=FakeDocker(OURS)
    )

    assert images.broker is None
    assert set(images.to_push) == OURS
