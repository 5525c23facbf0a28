"""Debian root filesystems made without any registry, and the local base image `envbuilder/base:bookworm`.

debootstrap fetches packages from the Debian mirror apt already uses (package registries are
reachable where container registries are not); each root filesystem is cached as a tarball under
~/.cache/envbuilder/rootfs/ so a deleted image comes back in seconds.
"""

import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.cluster.docker import local_image
from envbuilder.errors import PrerequisiteError

BASE_IMAGE = "envbuilder/base:bookworm"
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
FALLBACK_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = Path("/etc/apt")


def cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "envbuilder"


def rootfs_tarball(packages: Sequence[str]) -> Path:
    return cache_dir() / "rootfs" / f"{SUITE}-minbase-{'-'.join(packages)}.tar"


def ensure_rootfs(
    packages: Sequence[str], runner: Runner = run, progress: Callable[[str], None] = lambda message: None
) -> Path:
    """The cached tarball of Debian minbase plus `packages` (and their dependencies), made when missing."""
    tarball = rootfs_tarball(packages)
    if not tarball.exists():
        progress(f"debootstrap {SUITE} (minbase + {', '.join(packages)}) into {tarball} ...")
        _bootstrap_rootfs(tarball, packages, debian_mirror(APT_SOURCES), runner)
    return tarball


def installed_version(tarball: Path, package: str) -> str | None:
    """The version of `package` that dpkg recorded in a root filesystem tarball."""
    with tarfile.open(tarball) as archive:
        status = archive.extractfile("./var/lib/dpkg/status")
        if status is None:
            return None
        for stanza in status.read().decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line[0].isspace())
            if fields.get("Package") == package and fields.get("Status", "").endswith(" installed"):
                return fields.get("Version")
    return None


def ensure_base_image(
    runner: Runner = run, progress: Callable[[str], None] = lambda message: None, image: str = BASE_IMAGE
) -> str:
    """Make the base image (`envbuilder/base:bookworm`) unless docker has it; returns the image name."""
    if local_image(image, runner):
        return image
    tarball = ensure_rootfs(BASE_PACKAGES, runner, progress)
    progress(f"docker import {tarball.name} as {image} ...")
    check(
        runner(
            [
                "docker", "import",
                "--change", "ENV LANG=C.UTF-8",
                "--change", 'CMD ["python3"]',
                str(tarball), image,
            ],
            timeout=600,
        ),
        f"importing {image}",
    )
    return image


def _bootstrap_rootfs(tarball: Path, packages: Sequence[str], mirror: str, runner: Runner) -> None:
    if shutil.which("debootstrap") is None:
        raise PrerequisiteError("debootstrap is not installed", hint="apt-get install -y debootstrap")
    if os.geteuid() != 0:
        raise PrerequisiteError("debootstrap needs root to make a root filesystem", hint="run as root (or sudo)")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix="rootfs-") as workdir:
        rootfs = Path(workdir) / "rootfs"
        check(
            runner(
                ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", SUITE, str(rootfs), mirror],
                timeout=1800,
            ),
            "debootstrap",
        )
        # Downloaded .debs and package lists are half the size and useless in an image.
        for leftover in [*rootfs.glob("var/cache/apt/archives/*.deb"), *rootfs.glob("var/lib/apt/lists/*_Packages")]:
            leftover.unlink()
        partial = tarball.with_suffix(".partial")
        with tarfile.open(partial, "w") as archive:
            archive.add(rootfs, arcname=".")
        partial.rename(tarball)  # atomic: an interrupted run leaves no half tarball behind


def debian_mirror(apt_dir: Path) -> str:
    """The first Debian mirror apt is configured with (deb822 `.sources` or one-line `.list`)."""
    files = sorted((apt_dir / "sources.list.d").glob("*.sources")) + [apt_dir / "sources.list"]
    files += sorted((apt_dir / "sources.list.d").glob("*.list"))
    for path in files:
        if path.is_file():
            mirror = _mirror_in(path.read_text())
            if mirror:
                return mirror
    return FALLBACK_MIRROR


def _mirror_in(text: str) -> str | None:
    for stanza in text.split("\n\n"):
        fields = dict(
            line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith(("#", " "))
        )
        uris = fields.get("URIs", "").split()
        suites = fields.get("Suites", "").split()
        if uris and SUITE in suites and "deb" in fields.get("Types", "").split():
            return uris[0]
    for line in text.splitlines():
        # deb [options] URI SUITE COMPONENTS...
        words = re.sub(r"\[.*?\]", " ", line).split()
        if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
            return words[1]
    return None
