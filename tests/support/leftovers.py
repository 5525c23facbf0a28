"""What of an environment still exists, looked up by its own names and labels only: the one proof
that `down` left nothing, for the kind tier, the engine tier and the fault-injection suite."""

import json
import os
import subprocess
from pathlib import Path

from envbuilder.cluster.kubectl import kubectl_command
from envbuilder.cluster.ownership import LABELLED_CLUSTER_KINDS
from envbuilder.naming import cluster_name, identity_selector
from envbuilder.state.ports import DEFAULT_REGISTRY

REPO = Path(__file__).resolve().parents[2]


class LookupFailed(AssertionError):
    """A tool that could not say what exists: its silence is no proof that nothing is left."""


def _lines(*args: str) -> list[str]:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    except OSError as error:
        raise LookupFailed(f"cannot look for leftovers with {args[0]}: {error}") from None
    if result.returncode != 0:
        raise LookupFailed(f"cannot look for leftovers: {' '.join(args)} exited {result.returncode}: "
                           f"{result.stderr.strip()[-500:]}")
    return [line for line in result.stdout.splitlines() if line]


def leftovers(name: str, home: Path, kubeconfig: Path | None = None, owner: str | None = None) -> dict[str, list[str]]:
    """Whatever of environment `name` (of `home`) still exists, by kind: Docker objects, the kind
    cluster, objects in the cluster of `kubeconfig` (an existing target), and the home's record,
    stack, workspace and host ports. With `owner`, only objects carrying that owner label count."""
    found: dict[str, list[str]] = {}
    selector = identity_selector(name, owner)
    labels = [arg for label in selector.split(",") for arg in ("--filter", f"label={label}")]
    cluster = cluster_name(name)
    found["containers"] = _lines("docker", "ps", "-a", *labels, "--format", "{{.Names}}")
    if owner is None:
        found["containers"] += [c for c in _lines("docker", "ps", "-a", "--format", "{{.Names}}")
                                if c.startswith(f"{cluster}-")]
        found["kind clusters"] = [c for c in _lines(str(REPO / ".tools" / "bin" / "kind"), "get", "clusters")
                                  if c == cluster]
    found["volumes"] = _lines("docker", "volume", "ls", *labels, "--format", "{{.Name}}")
    if owner is None:  # by name too: a volume that lost its labels would escape the filter above
        named = [v for v in _lines("docker", "volume", "ls", "--format", "{{.Name}}") if v.startswith(f"{cluster}-")]
        found["volumes"] = sorted({*found["volumes"], *named})
    found["networks"] = _lines("docker", "network", "ls", *labels, "--format", "{{.Name}}")
    if kubeconfig is not None:
        found["cluster objects"] = _lines(*kubectl_command(REPO / ".tools" / "bin" / "kubectl", kubeconfig),
                                          "get", LABELLED_CLUSTER_KINDS, "-l", selector, "-o", "name")
    found["records"] = [str(p) for p in (home / "environments").glob(f"{name}.json")]
    found["stacks"] = [str(p) for p in home.rglob(f"{name}.json") if "stacks" in p.parts]
    found["workspaces"] = [str(p) for p in (home / "workspaces").glob(name)]
    found["ports"] = reserved_ports(name, home)
    found["processes"] = processes_of(home)
    return {kind: names for kind, names in found.items() if names}


def reserved_ports(name: str, home: Path) -> list[str]:
    """Host ports the machine-wide registry (this process's, and the default one) holds for `name` of `home`."""
    registries = {Path(os.environ.get("ENVBUILDER_PORT_REGISTRY") or DEFAULT_REGISTRY), DEFAULT_REGISTRY}
    found = []
    for reservation in (path for registry in registries if registry.is_dir() for path in registry.iterdir()):
        try:
            holder = json.loads(reservation.read_text())
        except (OSError, ValueError):
            continue
        if holder.get("home") == str(home.resolve()) and holder.get("environment") == name:
            found.append(reservation.name)
    return sorted(found)


def processes_of(home: Path) -> list[str]:
    """Processes still running with `home` as their ENVBUILDER_HOME (an engine or plugin left behind)."""
    wanted = f"ENVBUILDER_HOME={home}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if wanted in (proc / "environ").read_bytes().split(b"\0"):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{proc.name} {command[:120]}")
        except OSError:  # gone meanwhile, or another user's
            continue
    return found
