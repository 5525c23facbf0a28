"""Finding the external tools and failing fast, before anything is created, when one is missing.

The tools envbuilder drives are the pinned ones `make setup` installs into .tools/bin; a user's
own on PATH is used only when its version is within the skew the product supports (SKEWS), so a
kubectl three minor versions from the cluster never drives it.
"""

import functools
import json
import mmap
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from envbuilder.cluster.commands import Runner, run
from envbuilder.errors import EnvbuilderError, PrerequisiteError
from envbuilder.state.home import project_root, tools_bin

INSTALL_HINTS = {
    "docker": "install Docker (Debian: apt-get install docker.io) and start it",
    "kind": "run `make setup` (installs kind into .tools/bin)",
    "pulumi": "run `make setup` (official download, or `make toolchain` to build it from its Go module)",
    "kubectl": "install kubectl (Debian: apt-get install kubectl) or run `make setup`",
    "pulumi-resource-kubernetes": "run `make setup` (installs the pinned plugin into .tools/bin)",
}


def pinned_versions(repo: Path | None = None) -> dict[str, str]:
    """The tool versions `make setup` installs: tools/toolchain/versions.env, their one owner."""
    path = (repo or project_root()) / "tools" / "toolchain" / "versions.env"
    pins = {}
    for line in path.read_text().splitlines() if path.is_file() else []:
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            pins[key.strip()] = value.strip()
    return pins


@dataclass(frozen=True)
class Skew:
    """Which versions of a tool, beside the pinned one, the product drives: the pin's major version, and
    minor versions from `behind` below the pin to `ahead` above it (None: any newer)."""

    pin: str  # its key in versions.env
    behind: int
    ahead: int | None
    why: str

    def allows(self, version: str, pinned: str) -> bool:
        have, want = _major_minor(version), _major_minor(pinned)
        if have is None or want is None or have[0] != want[0]:
            return False
        return want[1] - self.behind <= have[1] and (self.ahead is None or have[1] <= want[1] + self.ahead)

    def span(self, pinned: str) -> str:
        major, minor = _major_minor(pinned) or (0, 0)
        low, high = minor - self.behind, None if self.ahead is None else minor + self.ahead
        return f"{major}.{low}" + ("" if high == low else f" to {major}.{high}" if high is not None else " or newer")


SKEWS = {
    "kind": Skew("KIND_VERSION", 0, 0, "kind's node images and cluster config follow its minor release"),
    "kubectl": Skew("KUBERNETES_VERSION", 1, 1, "kubectl supports one minor version either side of the cluster"),
    "pulumi": Skew("PULUMI_VERSION", 0, None, "a Pulumi CLI serves the SDKs of its major version up to its own"),
    "pulumi-resource-kubernetes": Skew("PULUMI_KUBERNETES_VERSION", 0, None,
                                       "the Kubernetes provider serves the SDKs of its major version up to its own"),
}

DRIVEN_TOOLS = tuple(SKEWS)  # what `status` and `doctor` say the product uses


@dataclass(frozen=True)
class ToolChoice:
    """The binary of a tool the product uses, and why; `path` None when none may be used."""

    name: str
    path: Path | None
    source: str  # "pinned" (.tools/bin), "PATH", or "none"
    version: str | None = None  # read for a tool on PATH; for the pinned one only when shown
    refused: str | None = None  # why the one on PATH is not used

    def shown(self) -> str:
        if self.path is None:
            return self.refused or "not found on PATH or in .tools/bin"
        version = self.version or tool_version(self.name, self.path)
        if self.source == "pinned":
            # A plugin built from its module's source does not carry its version; the pin says it.
            pin = pinned_versions().get(SKEWS[self.name].pin) if self.name in SKEWS else None
            return f"{version or pin or 'version unknown'} at {self.path} (pinned)"
        within = ", within the supported skew" if self.name in SKEWS else ""
        return f"{version or 'version unknown'} at {self.path} (on PATH{within})"


def choose_tool(name: str, runner: Runner = run) -> ToolChoice:
    """The pinned one `make setup` installed into .tools/bin; else one on PATH whose version is within
    the tool's skew (SKEWS; any version of a tool without one)."""
    local = tools_bin() / name
    if local.is_file() and os.access(local, os.X_OK):
        return ToolChoice(name, local, "pinned")
    found = shutil.which(name)
    if found is None:
        return ToolChoice(name, None, "none")
    path = Path(found)
    if name not in SKEWS:
        return ToolChoice(name, path, "PATH")
    skew = SKEWS[name]
    pinned = pinned_versions().get(skew.pin)
    version = tool_version(name, path, runner)
    if pinned is not None and version is not None and skew.allows(version, pinned):
        return ToolChoice(name, path, "PATH", version)
    said = f"{version} at {path}" if version else f"{path}, which does not say its version,"
    supported = (f"{skew.span(pinned)} (pinned {pinned}; {skew.why})" if pinned
                 else "at its pinned version, which tools/toolchain/versions.env would say (not found)")
    return ToolChoice(name, None, "none", version, refused=f"{said} is not used: the product drives {name} {supported}")


def find_tool(name: str) -> Path | None:
    """The binary of `name` the product uses (choose_tool), or None."""
    return choose_tool(name).path


def tool_version(name: str, path: Path, runner: Runner = run) -> str | None:
    """What the binary says its version is; None when it does not say."""
    if name == "pulumi-resource-kubernetes":
        return _go_module_version(path)
    try:
        stat = path.stat()
    except OSError:
        return None
    return _asked_version(name, str(path), stat.st_mtime_ns, stat.st_size, runner)


@functools.cache
def _asked_version(name: str, path: str, _mtime: int, _size: int, runner: Runner) -> str | None:
    """Asked once per binary (its path, modification time and size) and runner."""
    args = {"kubectl": ["version", "--client", "-o", "json"]}.get(name, ["version"])
    try:
        answer = runner([path, *args], timeout=30)
    except EnvbuilderError:
        return None
    if not answer.ok:
        return None
    if name == "kubectl":
        try:
            return json.loads(answer.stdout).get("clientVersion", {}).get("gitVersion")
        except ValueError:
            return None
    match = re.search(r"v\d+\.\d+\.\d+\S*", answer.stdout)
    return match[0] if match else None


GO_BUILD_INFO = b"\xff Go buildinf:"


def _go_module_version(path: Path) -> str | None:
    """A Go program's main module version, from the build information the Go linker embeds (a provider
    plugin answers its version only to the engine)."""
    try:
        with path.open("rb") as binary, mmap.mmap(binary.fileno(), 0, access=mmap.ACCESS_READ) as data:
            start = data.find(GO_BUILD_INFO)
            if start < 0 or not data[start + 15] & 2:  # only the inline-string layout (Go 1.18 and newer)
                return None
            position, strings = start + 32, []
            for _ in range(2):  # the Go version, then the module information
                length = shift = 0
                while True:
                    byte = data[position]
                    position += 1
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if byte < 0x80:
                        break
                strings.append(data[position:position + length].decode(errors="replace"))
                position += length
    except (OSError, ValueError, IndexError):
        return None
    main = next((line.split("\t") for line in strings[1].splitlines() if line.startswith("mod\t")), None)
    return main[2] if main and len(main) > 2 and main[2] != "(devel)" else None


def _major_minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def tool_path_env() -> dict[str, str]:
    """The environment for subprocesses and the Pulumi engine: .tools/bin first on PATH, as find_tool looks."""
    path = os.environ.get("PATH", "")
    return {**os.environ, "PATH": f"{tools_bin()}{os.pathsep}{path}" if path else str(tools_bin())}


def require_tools(names: list[str], if_present: tuple[str, ...] = ()) -> dict[str, Path]:
    """Each of `names`, as choose_tool chooses it; `if_present` may be missing (Pulumi finds its plugin in
    its own cache too), but not out of its skew."""
    chosen = {name: choose_tool(name) for name in [*names, *if_present]}
    problems = [f"  {name}: {choice.refused}; {INSTALL_HINTS.get(name, 'install it')}" if choice.refused
                else f"  {name}: {INSTALL_HINTS.get(name, 'install it')}"
                for name, choice in chosen.items() if choice.path is None and (choice.refused or name in names)]
    if problems:
        raise PrerequisiteError("missing prerequisite tools:\n" + "\n".join(problems))
    return {name: choice.path for name, choice in chosen.items() if choice.path is not None and name in names}


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
