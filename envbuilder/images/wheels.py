"""Python dependencies as wheels prepared on the host, for the image's Python, into `<context>/build/wheels/`.

Builds never reach the network: container registries are unreachable here and registries' TLS
fails inside containers, while the host's pip works (and corporate proxies configure only the host).
"""

import platform
import sys
import tomllib
from pathlib import Path

from envbuilder.errors import EnvbuilderError

# Both bases (python:3.11-slim and envbuilder/base:bookworm) run CPython 3.11 on glibc 2.36.
BASE_PYTHON_VERSION = "3.11"
BASE_GLIBC_MINOR = 36
OLDEST_MANYLINUX_GLIBC_MINOR = 17  # manylinux2014
WHEELS_DIR = Path("build") / "wheels"


def target_platform_args() -> list[str]:
    """pip options that pick wheels for the image, whatever Python the host runs.

    pip does not infer that glibc 2.36 also runs wheels made for older glibc, so every
    manylinux tag the image can run is listed."""
    platforms = [
        f"manylinux_2_{minor}_{platform.machine()}"
        for minor in range(BASE_GLIBC_MINOR, OLDEST_MANYLINUX_GLIBC_MINOR - 1, -1)
    ]
    return [
        "--only-binary=:all:",
        "--implementation", "cp",
        "--python-version", BASE_PYTHON_VERSION,
        *(argument for tag in platforms for argument in ("--platform", tag)),
    ]


def service_wheel_commands(context: Path) -> list[list[str]]:
    """A sample service: the wheels of its own requirements.txt."""
    return [
        [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(context / WHEELS_DIR),
         *target_platform_args(), "--requirement", str(context / "requirements.txt")],
    ]


def component_wheel_commands(source_root: Path, extra: str) -> list[list[str]]:
    """One of envbuilder's components: envbuilder itself (from that revision) and the deps of `envbuilder[extra]`."""
    wheels = source_root / WHEELS_DIR
    requirements = project_requirements((source_root / "pyproject.toml").read_text(), extra)
    return [
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(source_root)],
        [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheels), *target_platform_args(),
         *requirements],
    ]


def project_requirements(pyproject_text: str, extra: str) -> list[str]:
    """The core dependencies plus those of one extra, as pyproject.toml declares them."""
    project = tomllib.loads(pyproject_text)["project"]
    extras = project.get("optional-dependencies", {})
    if extra not in extras:
        raise EnvbuilderError(f"pyproject.toml declares no extra {extra!r}")
    return [*project.get("dependencies", []), *extras[extra]]
