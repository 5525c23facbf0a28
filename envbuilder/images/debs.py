"""Debian packages a component's image needs beyond Python, downloaded on the host into `<context>/build/debs/`.

Builds never reach the network (wheels.py), so a component that needs a system program (the mock
F5's `nft`) names its packages in its pyproject.toml (`[tool.envbuilder] debian-packages`), and they
are fetched here with their dependencies from the Debian mirror apt already uses, for bookworm (the
suite of both bases), through an apt configuration of their own: the host's sources, lists and dpkg
state are neither read nor changed, whatever Debian or Ubuntu release the host runs. The Dockerfile
installs those its base lacks (`dpkg --install`), so the same files serve either base.
"""

import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.images.base import APT_SOURCES, SUITE, debian_mirror

DEBS_DIR = Path("build") / "debs"
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def component_debian_packages(context: Path) -> list[str]:
    """The Debian packages the component in `context` declares for its image (none when it declares none)."""
    pyproject = tomllib.loads((context / "pyproject.toml").read_text())
    return list(pyproject.get("tool", {}).get("envbuilder", {}).get("debian-packages", []))


def apt_options(workdir: Path) -> list[str]:
    """apt-get options that keep every file apt reads or writes under `workdir`, and the downloads in `DEBS_DIR`'s place."""
    return [
        "-o", f"Dir::Etc::SourceList={workdir / 'sources.list'}",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", f"Dir::State::Lists={workdir / 'lists'}",
        "-o", f"Dir::State::status={workdir / 'status'}",  # empty: every dependency is downloaded
        "-o", f"Dir::Cache::Archives={workdir / 'debs'}",
        "-o", "Dir::Cache::pkgcache=",
        "-o", "Dir::Cache::srcpkgcache=",
        "-o", "Debug::NoLocking=1",  # nothing of the host's dpkg is touched, so its locks are not taken
        "-o", "APT::Sandbox::User=root",  # the folders are root's temporary ones
    ]


def download_debian_packages(
    packages: list[str], context: Path, runner: Runner = run, progress: Callable[[str], None] = lambda message: None
) -> list[Path]:
    """`packages` and everything they depend on, as .deb files in `<context>/build/debs/` (made anew)."""
    into = context / DEBS_DIR
    with tempfile.TemporaryDirectory(prefix="envbuilder-apt-") as folder:
        workdir = Path(folder)
        for name in ("lists/partial", "debs/partial"):
            (workdir / name).mkdir(parents=True)
        (workdir / "status").touch()
        (workdir / "sources.list").write_text(
            f"deb [signed-by={DEBIAN_KEYRING}] {debian_mirror(APT_SOURCES)} {SUITE} main\n"
        )
        options = apt_options(workdir)
        progress(f"Debian packages {', '.join(packages)} ({SUITE}) ...")
        check(runner(["apt-get", *options, "update", "--quiet"], timeout=600), f"reading Debian {SUITE}'s package lists")
        check(
            runner(["apt-get", *options, "install", "--quiet", "--yes", "--download-only", "--no-install-recommends",
                    *packages], timeout=900),
            f"downloading {', '.join(packages)}",
        )
        into.mkdir(parents=True, exist_ok=True)
        for stale in into.glob("*.deb"):  # an earlier build's, perhaps of packages no longer declared
            stale.unlink()
        return [deb.rename(into / deb.name) for deb in sorted((workdir / "debs").glob("*.deb"))]
