"""What a build will run, decided without Docker: targets, wheels, base image, docker arguments."""

import sys
from pathlib import Path

import pytest

from envbuilder.cluster.commands import CommandResult
from envbuilder.errors import EnvbuilderError, InputError
from envbuilder.images.base import BASE_IMAGE, debian_mirror
from envbuilder.images.build import (
    BASE_IMAGE_VARIABLE,
    PUBLIC_BASE_IMAGE,
    ImageTarget,
    choose_image,
    docker_build_command,
    image_references,
    image_targets,
    select_targets,
)
from envbuilder.images.revision import Revision
from envbuilder.images.wheels import download_command, own_wheel_command, prepare_wheels
from envbuilder.state.identity import home_identity

REPO = Path(__file__).resolve().parents[2]
COMPONENT_PYPROJECT = """
[project]
name = "envbuilder-f5mock"
dependencies = ["aiohttp>=3.9", "pydantic>=2.6"]
[project.optional-dependencies]
test = ["bigrest>=1.7"]
"""


def never_reachable() -> bool:
    return False


def unexpected_probe() -> bool:
    raise AssertionError("the registry must not be probed")


def test_each_image_is_tagged_by_the_changes_to_its_own_inputs():
    clean = Revision("abc1234")
    edited = Revision("abc1234", {"fixtures/services/web/web.py": "-1111"})
    edited_again = Revision("abc1234", {"fixtures/services/web/web.py": "-2222"})

    assert image_references(REPO, clean, ["web", "worker", "f5-mock"]) == {
        "web": "envbuilder/web:abc1234", "worker": "envbuilder/worker:abc1234", "f5-mock": "envbuilder/f5-mock:abc1234",
    }
    first, second = image_references(REPO, edited), image_references(REPO, edited_again)
    assert first["web"].startswith("envbuilder/web:abc1234-dirty-") and first["web"] != second["web"]
    # web-direct is built from web's folder; the worker and the F5 components are not.
    assert first["web-direct"] != image_references(REPO, clean)["web-direct"]
    assert {name: first[name] for name in ("worker", "f5-mock", "f5-sync")} == image_references(
        REPO, clean, ["worker", "f5-mock", "f5-sync"]
    )


def test_a_component_follows_its_own_folder_only_not_envbuilder_nor_the_other_component():
    target = image_targets(REPO)["f5-sync"]

    assert Revision("abc", {"components/f5sync/f5sync/diff.py": "-1"}).tag_for(target.inputs) != "abc"
    assert Revision("abc", {"components/f5sync/pyproject.toml": "-1"}).tag_for(target.inputs) != "abc"
    assert Revision("abc", {"envbuilder/cli/app.py": "-1"}).tag_for(target.inputs) == "abc"
    assert Revision("abc", {"pyproject.toml": "-1"}).tag_for(target.inputs) == "abc"
    assert Revision("abc", {"components/f5mock/f5mock/api.py": "-1"}).tag_for(target.inputs) == "abc"
    assert Revision("abc", {"components/f5syncx/other.py": "-1"}).tag_for(target.inputs) == "abc"


def test_the_catalog_services_and_present_component_dockerfiles_are_the_targets(tmp_path):
    (tmp_path / "stacks" / "services").mkdir(parents=True)
    (tmp_path / "stacks" / "services" / "web.yaml").write_text(
        "name: web\nbuild:\n  context: fixtures/services/web\nport: 8080\n"
    )
    (tmp_path / "components" / "f5mock").mkdir(parents=True)
    (tmp_path / "components" / "f5mock" / "Dockerfile").write_text("FROM scratch\n")

    assert image_targets(tmp_path) == {
        "web": ImageTarget("web", "fixtures/services/web", "fixtures/services/web/Dockerfile"),
        "f5-mock": ImageTarget("f5-mock", "components/f5mock", "components/f5mock/Dockerfile", component=True),
    }


def test_selecting_an_unknown_image_lists_the_known_ones():
    targets = {"web": ImageTarget("web", "w", "w/Dockerfile")}

    assert select_targets(targets, []) == [targets["web"]]
    with pytest.raises(InputError, match="no image named nope.*known: web"):
        select_targets(targets, ["nope"])


def test_service_wheels_come_from_its_requirements_for_the_images_python(tmp_path):
    command = download_command(tmp_path / "svc", False, tmp_path / "into")

    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert command[command.index("--dest") + 1] == str(tmp_path / "into")
    assert command[command.index("--python-version") + 1] == "3.11"
    assert "--only-binary=:all:" in command
    platforms = [command[index + 1] for index, argument in enumerate(command) if argument == "--platform"]
    assert platforms[0].startswith("manylinux_2_36_") and platforms[-1].startswith("manylinux_2_17_")
    assert command[-2:] == ["--requirement", str(tmp_path / "svc" / "requirements.txt")]


def test_component_wheels_are_its_own_package_and_its_dependencies_without_envbuilder(tmp_path):
    context = tmp_path / "components" / "f5mock"
    context.mkdir(parents=True)
    (context / "pyproject.toml").write_text(COMPONENT_PYPROJECT)

    build_self = own_wheel_command(context)
    download = download_command(context, True, tmp_path / "into")

    assert build_self[3:5] == ["wheel", "--quiet"] and build_self[-1] == str(context)
    assert "--no-deps" in build_self
    assert build_self[build_self.index("--wheel-dir") + 1] == str(context / "build" / "wheels")
    assert download[-2:] == ["aiohttp>=3.9", "pydantic>=2.6"]


class FakePip:
    """pip as the wheel cache runs it: a download puts one wheel per requirement where it is told."""

    def __init__(self):
        self.downloads = 0

    def __call__(self, command, timeout=None):
        if command[3] == "download":
            self.downloads += 1
            destination = Path(command[command.index("--dest") + 1])
            (destination / f"dep-{self.downloads}-py3-none-any.whl").write_text("wheel")
        else:
            wheels = Path(command[command.index("--wheel-dir") + 1])
            wheels.mkdir(parents=True, exist_ok=True)
            (wheels / "own-1.0-py3-none-any.whl").write_text("own")
        return CommandResult(command, 0, "", "")


def service_context(root: Path, requirements: str) -> Path:
    context = root / "svc"
    context.mkdir(parents=True, exist_ok=True)
    (context / "requirements.txt").write_text(requirements)
    return context


def test_a_rebuilt_image_takes_its_dependencies_wheels_from_the_cache_without_asking_pip(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pip = FakePip()
    first, second = service_context(tmp_path / "a", "aiohttp==3.14.5\n"), service_context(tmp_path / "b", "aiohttp==3.14.5\n")

    assert prepare_wheels(first, False, pip) is True
    assert prepare_wheels(second, False, pip) is False

    assert pip.downloads == 1
    assert sorted(path.name for path in (second / "build" / "wheels").iterdir()) == ["dep-1-py3-none-any.whl"]
    assert not [path for path in (tmp_path / "cache" / "envbuilder" / "wheels").iterdir() if path.name.startswith(".")]


def test_changed_requirements_or_a_refresh_download_the_wheels_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pip = FakePip()
    prepare_wheels(service_context(tmp_path / "a", "aiohttp==3.14.5\n"), False, pip)

    assert prepare_wheels(service_context(tmp_path / "b", "aiohttp==3.14.6\n"), False, pip) is True
    refreshed = service_context(tmp_path / "c", "aiohttp==3.14.5\n")
    assert prepare_wheels(refreshed, False, pip, refresh=True) is True

    assert pip.downloads == 3
    assert sorted(path.name for path in (refreshed / "build" / "wheels").iterdir()) == ["dep-3-py3-none-any.whl"]


def test_a_component_builds_its_own_wheel_every_time_and_caches_only_its_dependencies(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pip = FakePip()
    for root in ("a", "b"):
        context = tmp_path / root / "f5mock"
        context.mkdir(parents=True)
        (context / "pyproject.toml").write_text(COMPONENT_PYPROJECT)
        prepare_wheels(context, True, pip)

        assert sorted(path.name for path in (context / "build" / "wheels").iterdir()) == [
            "dep-1-py3-none-any.whl", "own-1.0-py3-none-any.whl"]
    assert pip.downloads == 1


def test_a_failed_download_leaves_no_wheels_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def unreachable_index(command, timeout=None):
        return CommandResult(command, 1, "", "No matching distribution found for aiohttp==3.14.5")

    with pytest.raises(EnvbuilderError, match="downloading the wheels svc depends on"):
        prepare_wheels(service_context(tmp_path, "aiohttp==3.14.5\n"), False, unreachable_index)

    assert list((tmp_path / "cache" / "envbuilder" / "wheels").iterdir()) == []


def test_the_docker_build_passes_the_base_image_and_labels_the_revision(tmp_path):
    target = ImageTarget("web", "fixtures/services/web", "fixtures/services/web/Dockerfile")

    command = docker_build_command(target, tmp_path, "envbuilder/web:abc1234-dirty-0a1b", BASE_IMAGE)

    assert command == [
        "docker", "build",
        "--file", str(tmp_path / "fixtures/services/web/Dockerfile"),
        "--build-arg", "BASE_IMAGE=envbuilder/base:bookworm",
        "--label", "org.opencontainers.image.revision=abc1234-dirty-0a1b",
        "--label", f"envbuilder.io/owner={home_identity()}",
        "--tag", "envbuilder/web:abc1234-dirty-0a1b",
        str(tmp_path / "fixtures/services/web"),
    ]


@pytest.mark.parametrize(
    ("explicit", "environment", "public_present", "probe", "expected"),
    [
        ("my/base:1", {"ENVBUILDER_BASE_IMAGE": "other"}, False, unexpected_probe, "my/base:1"),
        (None, {"ENVBUILDER_BASE_IMAGE": BASE_IMAGE}, True, unexpected_probe, BASE_IMAGE),
        (None, {}, True, unexpected_probe, PUBLIC_BASE_IMAGE),
        (None, {}, False, lambda: True, PUBLIC_BASE_IMAGE),
        (None, {}, False, never_reachable, BASE_IMAGE),
    ],
    ids=["flag wins", "variable", "public present", "registry reachable", "offline: local base"],
)
def test_the_base_image_is_public_unless_told_otherwise_or_offline(explicit, environment, public_present, probe, expected):
    choice = choose_image(
        PUBLIC_BASE_IMAGE, BASE_IMAGE, BASE_IMAGE_VARIABLE, environment, public_present, probe, explicit
    )

    assert choice.image == expected


def test_an_image_variable_that_names_no_image_is_refused_with_its_name():
    with pytest.raises(InputError, match=r"\$ENVBUILDER_BASE_IMAGE='Python 3' is not an image reference"):
        choose_image(PUBLIC_BASE_IMAGE, BASE_IMAGE, BASE_IMAGE_VARIABLE, {BASE_IMAGE_VARIABLE: "Python 3"}, True,
                     unexpected_probe)


def test_the_debian_mirror_is_the_one_apt_uses(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# http://snapshot.example/\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
    )
    assert debian_mirror(tmp_path) == "http://mirror.example/debian"

    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text("deb [arch=amd64 signed-by=/k.gpg] http://old.example/debian bookworm main\n")
    assert debian_mirror(tmp_path) == "http://old.example/debian"
