"""The broker's image on kind: the profile's when the nodes can get it, else one made here without any registry.

The local image `envbuilder/broker:<version>-bookworm` is Debian's rabbitmq-server in a debootstrapped
root filesystem (cached like the base image's), plus docker/broker/: an entrypoint that logs to the
console and makes a fresh Erlang cookie, and the management plugin enabled. Like the official image, it
takes its first user from a file in /etc/rabbitmq/conf.d (desired/broker.py mounts one).
"""

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.cluster.docker import local_image
from envbuilder.errors import EnvbuilderError
from envbuilder.images.base import SUITE, ensure_rootfs, installed_version
from envbuilder.images.build import ImageChoice, choose_image, registry_reachable
from envbuilder.state.home import project_root

# Bookworm's rabbitmq-server; the build checks that the root filesystem holds this version, so the tag tells the truth.
RABBITMQ_VERSION = "3.10.8"
BROKER_IMAGE = f"envbuilder/broker:{RABBITMQ_VERSION}-{SUITE}"
BROKER_PACKAGES = ("rabbitmq-server",)
BROKER_IMAGE_VARIABLE = "ENVBUILDER_BROKER_IMAGE"
# A digest of what the image is made from: an image made by an older entrypoint is made again.
RECIPE_LABEL = "io.envbuilder.recipe"


def broker_context() -> Path:
    return project_root() / "docker" / "broker"


def recipe_digest(context: Path) -> str:
    digest = hashlib.sha256(f"{SUITE} {' '.join(BROKER_PACKAGES)} {RABBITMQ_VERSION}\n".encode())
    for path in sorted(context.iterdir()):
        digest.update(f"{path.name} {path.stat().st_mode & 0o777:o}\n".encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def upstream_version(debian_version: str) -> str:
    """'3.10.8-1.1+deb12u1' -> '3.10.8' (no epoch, no Debian revision)."""
    without_epoch = debian_version.split(":", 1)[-1]
    return without_epoch.rsplit("-", 1)[0]


def ensure_broker_image(
    runner: Runner = run, progress: Callable[[str], None] = lambda message: None, image: str = BROKER_IMAGE
) -> str:
    """Make the broker image (`envbuilder/broker:<version>-bookworm`) unless docker has it from the same recipe;
    returns its name."""
    context = broker_context()
    recipe = recipe_digest(context)
    existing = local_image(image, runner)
    if existing and existing.labels.get(RECIPE_LABEL) == recipe:
        return image
    tarball = ensure_rootfs(BROKER_PACKAGES, runner, progress)
    version = installed_version(tarball, "rabbitmq-server")
    if version is None or upstream_version(version) != RABBITMQ_VERSION:
        raise EnvbuilderError(
            f"{tarball} holds rabbitmq-server {version or '(none)'}, not {RABBITMQ_VERSION}",
            hint="Debian's bookworm changed it: set RABBITMQ_VERSION in envbuilder/images/broker.py, "
            "or delete the tarball to bootstrap again",
        )
    progress(f"docker import {tarball.name}, then docker build {image} ...")
    rootfs = check(runner(["docker", "import", str(tarball)], timeout=600), "importing the broker's root filesystem")
    rootfs_id = rootfs.stdout.strip()
    built = runner(
        [
            "docker", "build",
            "--build-arg", f"ROOTFS={rootfs_id}",
            "--label", f"{RECIPE_LABEL}={recipe}",
            "--tag", image,
            str(context),
        ],
        timeout=600,
    )
    if not built.ok:
        runner(["docker", "image", "rm", rootfs_id], timeout=120)  # unnamed, so nobody else would remove it
    check(built, f"building {image}")
    return image


def choose_broker_image(
    profile_image: str, environment: Mapping[str, str], docker_has_it: bool, reachable: Callable[[], bool]
) -> ImageChoice:
    """$ENVBUILDER_BROKER_IMAGE, else the profile's image when docker has it or a registry answers, else ours."""
    return choose_image(
        profile_image, BROKER_IMAGE, BROKER_IMAGE_VARIABLE, environment, docker_has_it, reachable
    )


def resolve_broker_image(
    profile_image: str, runner: Runner = run, progress: Callable[[str], None] = lambda message: None
) -> str:
    choice = choose_broker_image(profile_image, os.environ, local_image(profile_image, runner) is not None, registry_reachable)
    progress(f"broker image {choice.image} ({choice.reason})")
    if choice.image == BROKER_IMAGE:
        ensure_broker_image(runner, progress)
    return choice.image
