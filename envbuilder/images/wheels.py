"""Python dependencies as wheels prepared on the host, for the image's Python, into `<context>/build/wheels/`.

Builds never reach the network: container registries are unreachable here and registries' TLS
fails inside containers, while the host's pip works (and corporate proxies configure only the host).
The dependencies' wheels are downloaded once per set of requirements into the machine's wheel cache
(`~/.cache/envbuilder/wheels/<key>/`) and copied from there, so a rebuilt image asks no index again;
`envbuilder images build --no-cache` downloads them anew.
"""

import hashlib
import json
import platform
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.images.base import cache_dir

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


def requirement_args(context: Path, component: bool) -> list[str]:
    """What the image's dependencies are, as pip arguments: a component's (components/<package>) from the
    dependencies its pyproject.toml declares, a sample service's from its own requirements.txt."""
    if component:
        return tomllib.loads((context / "pyproject.toml").read_text())["project"].get("dependencies", [])
    return ["--requirement", str(context / "requirements.txt")]


def own_wheel_command(context: Path) -> list[str]:
    """A component's own wheel, built from its source on every build: the part that changes."""
    return [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(context / WHEELS_DIR),
            str(context)]


def download_command(context: Path, component: bool, destination: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(destination), *target_platform_args(),
            *requirement_args(context, component)]


def dependencies_key(context: Path, component: bool) -> str:
    """Names one set of dependency wheels: the requirements (a requirements file by its content) and the
    image's Python and platforms."""
    declared = requirement_args(context, component) if component else (context / "requirements.txt").read_text()
    text = json.dumps([declared, target_platform_args()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def prepare_wheels(context: Path, component: bool, runner: Runner = run, refresh: bool = False) -> bool:
    """`<context>/build/wheels/` filled: a component's own wheel, and the dependencies' wheels from the
    machine's cache, downloaded first when it has none for these requirements (or `refresh`).
    Returns whether they were downloaded."""
    wheels = context / WHEELS_DIR
    wheels.mkdir(parents=True, exist_ok=True)
    if component:
        check(runner(own_wheel_command(context), timeout=900), f"building the wheel of {context.name}")
    cached = cache_dir() / "wheels" / dependencies_key(context, component)
    downloaded = refresh or not cached.is_dir()
    if downloaded:
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Filled aside and renamed into place, so a build cut short or beside this one never sees half a set.
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=cached.parent))
        try:
            check(runner(download_command(context, component, staging), timeout=900),
                  f"downloading the wheels {context.name} depends on")
            if refresh:
                shutil.rmtree(cached, ignore_errors=True)
            try:
                staging.rename(cached)
            except OSError:  # another build put the same set there meanwhile
                pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    for wheel in cached.iterdir():
        shutil.copy2(wheel, wheels / wheel.name)
    return downloaded
