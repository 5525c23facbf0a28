"""Images of one revision: `envbuilder/<name>:<tag>` for the catalog's services and the components.

A tag names the content of the image's inputs (images.revision), so an existing tag is never rebuilt:
a changed input gives a new tag, and an unchanged tree builds nothing.
"""

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.cluster.docker import local_image
from envbuilder.errors import EnvbuilderError, InputError
from envbuilder.images.base import BASE_IMAGE, ensure_base_image
from envbuilder.images.debs import DEBS_DIR, component_debian_packages, download_debian_packages
from envbuilder.images.revision import Revision, current_revision
from envbuilder.images.source import export_source
from envbuilder.images.wheels import WHEELS_DIR, prepare_wheels
from envbuilder.naming import OWNER_LABEL
from envbuilder.spec.catalog import load_catalog
from envbuilder.spec.environment import image_name
from envbuilder.spec.profile import IMAGE_REFERENCE
from envbuilder.state.identity import home_identity

PUBLIC_BASE_IMAGE = "python:3.11-slim"
BASE_IMAGE_VARIABLE = "ENVBUILDER_BASE_IMAGE"
REGISTRY_PROBE_URL = "https://registry-1.docker.io/v2/"
REVISION_LABEL = "org.opencontainers.image.revision"
# The programs an environment runs, each a package of its own: image name -> its folder (the build
# context, with its Dockerfile and pyproject.toml). Nothing of envbuilder goes into their images.
COMPONENTS = {"f5-mock": "components/f5mock", "f5-sync": "components/f5sync"}


@dataclass(frozen=True)
class ImageTarget:
    name: str
    context: str  # relative to the repository root
    dockerfile: str  # relative to the repository root
    component: bool = False  # wheels of the package in `context`; a service's: of its requirements.txt

    @property
    def inputs(self) -> tuple[str, ...]:
        """The files and folders whose content decides the image (its tag follows them)."""
        return (self.context, self.dockerfile)


@dataclass(frozen=True)
class BuiltImage:
    name: str
    tag: str
    built: bool  # False: the tag was already there
    seconds: float


def image_references(repo: Path, revision: Revision, names: list[str] | None = None) -> dict[str, str]:
    """Name -> `envbuilder/<name>:<tag>` of the named images (all when None) that the working tree's
    catalog and components define, tagged by the content of each one's inputs at `revision`."""
    targets = image_targets(repo)
    chosen = select_targets(targets, names) if names else list(targets.values())
    return {target.name: image_name(target.name, revision.tag_for(target.inputs)) for target in chosen}


def image_targets(source_root: Path) -> dict[str, ImageTarget]:
    """What a revision can build: its catalog's services, and the components whose Dockerfile it has."""
    targets = {
        entry.name: ImageTarget(entry.name, entry.build.context, f"{entry.build.context}/{entry.build.dockerfile}")
        for entry in load_catalog(source_root / "stacks" / "services").entries.values()
    }
    for name, folder in COMPONENTS.items():
        if (source_root / folder / "Dockerfile").is_file():
            targets[name] = ImageTarget(name, folder, f"{folder}/Dockerfile", component=True)
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
    import httpx  # only when an image is chosen: status and the tags need no HTTP client

    try:
        httpx.get(REGISTRY_PROBE_URL, timeout=3)  # any answer, even 401, means pulls can work
    except httpx.HTTPError:
        return False
    return True


def docker_build_command(
    target: ImageTarget, source_root: Path, reference: str, base_image: str, no_cache: bool = False
) -> list[str]:
    return [
        "docker", "build",
        *(["--no-cache"] if no_cache else []),
        "--file", str(source_root / target.dockerfile),
        "--build-arg", f"BASE_IMAGE={base_image}",
        "--label", f"{REVISION_LABEL}={reference.rpartition(':')[2]}",
        # Whose build it is: only this home removes it once none of its environments runs it (built_here).
        "--label", f"{OWNER_LABEL}={home_identity()}",
        "--tag", reference,
        str(source_root / target.context),
    ]


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
    base_image: Callable[[], str],
    runner: Runner = run,
    progress: Callable[[str], None] = lambda message: None,
    no_cache: bool = False,
) -> list[BuiltImage]:
    """Build the named images (all when empty) of `revision` whose tag docker does not have yet
    (`no_cache`: rebuild them all, every layer, with their dependencies' wheels downloaded anew, e.g. to
    take a refreshed base image's updates).
    `base_image` is asked for only when something is built: choosing it may probe a registry."""
    references = image_references(repo, revision, names)
    missing = [name for name, reference in references.items() if no_cache or not local_image(reference, runner)]
    results = {name: BuiltImage(name, reference, built=False, seconds=0.0) for name, reference in references.items()}
    if not missing:
        return list(results.values())
    with tempfile.TemporaryDirectory(prefix="envbuilder-build-") as workdir:
        source_root = Path(workdir) / "source"
        export_source(repo, revision, source_root, runner)
        if revision.dirty:
            _check_unchanged_since(repo, references, missing, runner)
        exported = image_targets(source_root)
        base = base_image()
        for name in missing:
            started = time.monotonic()
            [target] = select_targets(exported, [name])
            reference = references[name]
            progress(f"{reference}: wheels ...")
            context = source_root / target.context
            for prepared in (WHEELS_DIR, DEBS_DIR):
                shutil.rmtree(context / prepared, ignore_errors=True)  # only this target's
            prepare_wheels(context, target.component, runner, refresh=no_cache)
            packages = component_debian_packages(context) if target.component else []
            if packages:
                download_debian_packages(packages, context, runner, progress)
            progress(f"{reference}: docker build (base {base}) ...")
            check(
                runner(docker_build_command(target, source_root, reference, base, no_cache), timeout=1800),
                f"building {reference}",
            )
            results[name] = BuiltImage(name, reference, built=True, seconds=time.monotonic() - started)
    return list(results.values())


def built_here(runner: Runner = run) -> list[str]:
    """This home's builds (its owner label) as `envbuilder/<name>:<tag>`: the only images it ever removes."""
    listed = check(runner(["docker", "images", "--filter", f"label={OWNER_LABEL}={home_identity()}",
                           "--format", "{{.Repository}}:{{.Tag}}"], timeout=60), "listing this home's images")
    return listed.stdout.split()


def remove_images(references: Iterable[str], runner: Runner = run) -> list[str]:
    """Each image removed from Docker unless a container still uses it (Docker refuses); returns what went."""
    return [reference for reference in references if runner(["docker", "image", "rm", reference], timeout=120).ok]


def _check_unchanged_since(repo: Path, references: Mapping[str, str], names: list[str], runner: Runner) -> None:
    """The exported tree is the one the tags were computed from: a file saved meanwhile would put
    other content under a tag that names the earlier one."""
    now = image_references(repo, current_revision(repo, runner), names)
    changed = [name for name in names if now[name] != references[name]]
    if changed:
        raise EnvbuilderError(
            f"the working tree changed while the images of {', '.join(changed)} were being prepared",
            hint="run the command again: it builds what the tree holds now",
        )
