"""Where envbuilder keeps its state and finds its project files."""

import os
from pathlib import Path


def state_home() -> Path:
    """The user's state directory: `$ENVBUILDER_HOME`, else `~/.envbuilder`."""
    home = Path(os.environ.get("ENVBUILDER_HOME") or Path.home() / ".envbuilder")
    home.mkdir(parents=True, exist_ok=True)
    return home


def registry_hosts_dir() -> Path:
    """containerd's hosts files for the machine's registry, which this home's kind nodes mount
    (desired.host writes what they say; `up` puts them here before it creates a cluster)."""
    return state_home() / "registry-hosts"


def project_root() -> Path:
    """The repository holding stacks/, fixtures/ and docker/: `$ENVBUILDER_PROJECT`, else this checkout."""
    configured = os.environ.get("ENVBUILDER_PROJECT")
    return Path(configured) if configured else Path(__file__).resolve().parents[2]


def stacks_dir() -> Path:
    return project_root() / "stacks"


def tools_bin() -> Path:
    """Project-local tools built or downloaded by `make setup` / `make toolchain`."""
    return project_root() / ".tools" / "bin"
