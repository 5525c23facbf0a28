"""Python dependencies as wheels prepared on the host, for the image's Python, into `<context>/build/wheels/`.

Builds never reach the network: container registries are unreachable here and registries' TLS
fails inside containers, while the host's pip works (and corporate proxies configure only the host).
"""

import platform
import sys
import tomllib
from pathlib import Path

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


def component_wheel_commands(context: Path) -> list[list[str]]:
    """A component (components/<package>): its own wheel and those of the dependencies its pyproject.toml declares."""
    wheels = context / WHEELS_DIR
    requirements = tomllib.loads((context / "pyproject.toml").read_text())["project"].get("dependencies", [])
    return [
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(context)],
        [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheels), *target_platform_args(),
         *requirements],
    ]
