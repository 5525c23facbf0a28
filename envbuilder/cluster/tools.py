"""Finding the external tools and failing fast, before anything is created, when one is missing."""

import os
import shutil
from pathlib import Path

from envbuilder.errors import PrerequisiteError
from envbuilder.state.home import tools_bin

INSTALL_HINTS = {
    "docker": "install Docker (Debian: apt-get install docker.io) and start it",
    "kind": "run `make setup` (installs kind into .tools/bin)",
    "pulumi": "run `make setup` (official download, or `make toolchain` to build it from its Go module)",
    "kubectl": "install kubectl (Debian: apt-get install kubectl) or run `make setup`",
}


def find_tool(name: str) -> Path | None:
    """The pinned version `make setup` installed into the project's .tools/bin first, then PATH: a kubectl
    on PATH may be several minor versions from the clusters (`envbuilder doctor` checks the skew)."""
    local = tools_bin() / name
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which(name)
    return Path(found) if found else None


def tool_path_env() -> dict[str, str]:
    """The environment for subprocesses and the Pulumi engine: .tools/bin first on PATH, as find_tool looks."""
    path = os.environ.get("PATH", "")
    return {**os.environ, "PATH": f"{tools_bin()}{os.pathsep}{path}" if path else str(tools_bin())}


def require_tools(names: list[str]) -> dict[str, Path]:
    found = {name: find_tool(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        lines = [f"  {name}: {INSTALL_HINTS.get(name, 'install it')}" for name in missing]
        raise PrerequisiteError("missing prerequisite tools:\n" + "\n".join(lines))
    return {name: path for name, path in found.items() if path is not None}


def require_docker_running(docker: Path) -> None:
    from envbuilder.cluster.docker import Docker  # docker.py imports this module

    if not Docker(binary=str(docker)).running():
        raise PrerequisiteError(
            "the Docker engine is not running (docker info failed)",
            hint="start it (e.g. `dockerd &` or `systemctl start docker`) and try again",
        )


def require_memory(min_gib: float) -> None:
    available = _available_memory_gib()
    if available is not None and available < min_gib:
        raise PrerequisiteError(
            f"only {available:.1f} GiB of memory available; this environment needs about {min_gib:.1f} GiB",
            hint="stop other environments (envbuilder list / down) or choose fewer workers",
        )


def _available_memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        return None
    return None
