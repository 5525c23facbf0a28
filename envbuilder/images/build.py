"""Images of one revision: `envbuilder/<name>:<revision>` for the catalog's services and envbuilder's components.

A clean revision's tag is immutable, so an existing tag is never rebuilt; a `-dirty` tag names
whatever the working tree holds, so it is rebuilt every time (Docker's layer cache keeps that quick).
"""

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.cluster.docker import local_image
from envbuilder.errors import InputError
from envbuilder.images.base import BASE_IMAGE, ensure_base_image
from envbuilder.images.revision import Revision
from envbuilder.images.source import export_source
from envbuilder.images.wheels import (
    WHEELS_DIR,
    component_wheel_commands,
    service_wheel_commands,
)
from envbuilder.spec.catalog import load_catalog
from envbuilder.spec.profile import IMAGE_REFERENCE

PUBLIC_BASE_IMAGE = "python:3.11-slim"
BASE_IMAGE_VARIABLE = "ENVBUILDER_BASE_IMAGE"
REGISTRY_PROBE_URL = "https://registry-1.docker.io/v2/"
REVISION_LABEL = "org.opencontainers.image.revision"
# envbuilder's own components: Dockerfile under docker/ (context: the repository root) and pyproject extra.
COMPONENTS = {"f5-mock": "f5", "f5-sync": "sync"}


@dataclass(frozen=True)
class ImageTarget:
    name: str
    context: str  # relative to the repository root
    dockerfile: str  # relative to the repository root
    extra: str | None = None  # a component: wheels of envbuilder[extra]; a service: of its requirements.txt


@dataclass(frozen=True)
class BuiltImage:
    name: str
    tag: str
    built: bool  # False: the tag was already there
    seconds: float


def image_tag(name: str, revision: Revision) -> str:
    return f"envbuilder/{name}:{revision.name}"


def image_targets(source_root: Path) -> dict[str, ImageTarget]:
    """What a revision can build: its catalog's services, and the components whose Dockerfile it has."""
    targets = {
        entry.name: ImageTarget(entry.name, entry.build.context, f"{entry.build.context}/{entry.build.dockerfile}")
        for entry in load_catalog(source_root / "stacks" / "services").entries.values()
    }
    for name, extra in COMPONENTS.items():
        dockerfile = f"docker/{name}.Dockerfile"
        if (source_root / dockerfile).is_file():
            targets[name] = ImageTarget(name, ".", dockerfile, extra)
    return targets


def select_targets(targets: Mapping[str, ImageTarget], names: list[str]) -> list[ImageTarget]:
    unknown = [name for name in names if name not in targets]
    if unknown:
        raise InputError(f"no image named {', '.join(unknown)} at this revision; known: {', '.join(sorted(targets))}")
    return [targets[name] for name in names] if names else list(targets.values())


@dataclass(frozen=True)
class ImageChoice:
    image: str
    reason: str  # for the progress line


def image_override(variable: str, environment: Mapping[str, str]) -> str | None:
    """The image `$variable` names (None when unset or empty); anything but an image reference is refused."""
    value = environment.get(variable, "").strip()
    if value and not re.fullmatch(IMAGE_REFERENCE, value):
        raise InputError(f"${variable}={value!r} is not an image reference like rabbitmq:3.13-management")
    return value or None


def choose_image(
    public: str,
    local: str,
    variable: str,
    environment: Mapping[str, str],
    public_present: bool,
    registry_reachable: Callable[[], bool],
    explicit: str | None = None,
) -> ImageChoice:
    """`explicit`, else `$variable`, else the public image when docker has it or can pull it,
    else the local one (made from Debian packages, no registry needed)."""
    if explicit:
        return ImageChoice(explicit, "given")
    override = image_override(variable, environment)
    if override:
        return ImageChoice(override, f"${variable}")
    if public_present:
        return ImageChoice(public, "docker has it")
    if registry_reachable():
        return ImageChoice(public, "a container registry is reachable")
    return ImageChoice(local, "no container registry is reachable: made here from Debian packages")


def registry_reachable() -> bool:
    try:
        httpx.get(REGISTRY_PROBE_URL, timeout=3)  # any answer, even 401, means pulls can work
    except httpx.HTTPError:
        return False
    return True


def docker_build_command(
    target: ImageTarget, source_root: Path, tag: str, base_image: str, revision: Revision, no_cache: bool = False
) -> list[str]:
    return [
        "docker", "build",
        *(["--no-cache"] if no_cache else []),
        "--file", str(source_root / target.dockerfile),
        "--build-arg", f"BASE_IMAGE={base_image}",
        "--label", f"{REVISION_LABEL}={revision.name}",
        "--tag", tag,
        str(source_root / target.context),
    ]


def wheel_commands(target: ImageTarget, source_root: Path) -> list[list[str]]:
    if target.extra is not None:
        return component_wheel_commands(source_root, target.extra)
    return service_wheel_commands(source_root / target.context)


def resolve_base_image(
    explicit: str | None, runner: Runner = run, progress: Callable[[str], None] = lambda message: None
) -> str:
    base_image = choose_image(
        PUBLIC_BASE_IMAGE, BASE_IMAGE, BASE_IMAGE_VARIABLE, os.environ, local_image(PUBLIC_BASE_IMAGE, runner) is not None,
        registry_reachable, explicit,
    ).image
    if base_image == BASE_IMAGE:
        ensure_base_image(runner, progress)
    return base_image


def build_images(
    repo: Path,
    revision: Revision,
    names: list[str],
    base_image: str,
    runner: Runner = run,
    progress: Callable[[str], None] = lambda message: None,
    no_cache: bool = False,
) -> list[BuiltImage]:
    """Build the named images (all when empty) of `revision`, skipping clean tags docker already has
    (`no_cache`: rebuild them all, every layer, e.g. to take a refreshed base image's updates)."""
    with tempfile.TemporaryDirectory(prefix="envbuilder-build-") as workdir:
        source_root = Path(workdir) / "source"
        export_source(repo, revision, source_root, runner)
        results = []
        for target in select_targets(image_targets(source_root), names):
            started = time.monotonic()
            tag = image_tag(target.name, revision)
            if not revision.dirty and not no_cache and local_image(tag, runner):
                results.append(BuiltImage(target.name, tag, built=False, seconds=time.monotonic() - started))
                continue
            progress(f"{tag}: wheels ...")
            shutil.rmtree(source_root / target.context / WHEELS_DIR, ignore_errors=True)  # only this target's
            for command in wheel_commands(target, source_root):
                check(runner(command, timeout=900), f"preparing wheels for {target.name}")
            progress(f"{tag}: docker build (base {base_image}) ...")
            check(
                runner(docker_build_command(target, source_root, tag, base_image, revision, no_cache), timeout=1800),
                f"building {tag}",
            )
            results.append(BuiltImage(target.name, tag, built=True, seconds=time.monotonic() - started))
        return results
