"""Where the engine keeps its state, and the environment every Pulumi command runs with.

No Pulumi account: the backend is a local file backend under the state directory unless
`--backend-url` names another. With locally built tools, plugin downloads and update checks
are off, so a missing piece is an error at once, never a hang.
"""

import gzip
import json
import os
import shutil
import sys
from pathlib import Path

from envbuilder.cluster.tools import tool_path_env
from envbuilder.engine.passphrases import PASSPHRASE_VARIABLES
from envbuilder.state.home import state_home

PROJECT = "envbuilder"
# Set on every Pulumi command of a stack, and so inherited by its plugins: the stack's workspace, which
# names the home and the environment. The plugins an interrupted run left are found by it (orphans.py).
STACK_WORKSPACE_VARIABLE = "ENVBUILDER_STACK_WORKSPACE"


def default_backend_dir() -> Path:
    """This home's own file backend (made on first use by `default_backend_url`)."""
    return state_home() / "pulumi"


def default_backend_url() -> str:
    directory = default_backend_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return directory.as_uri()


def local_backend(backend_url: str) -> Path | None:
    """The directory of a local file backend; None for any other (a shared one, which this machine cannot
    see into)."""
    return Path(backend_url.removeprefix("file://")) if backend_url.startswith("file://") else None


def stack_backend(stack) -> Path | None:
    """The directory of the local file backend an Automation API stack's commands use; None for another."""
    return local_backend(stack.workspace.env_vars.get("PULUMI_BACKEND_URL", ""))


def checkpoint_files(backend: Path, stack_name: str) -> list[Path]:
    """The files a local file backend keeps a stack's current state in (none once the stack is removed): its
    checkpoint in the project's folder, or in the folder of all stacks of a backend made before Pulumi kept
    stacks by project; compressed when the user asked Pulumi for it."""
    folders = [backend / ".pulumi" / "stacks" / PROJECT, backend / ".pulumi" / "stacks"]
    return [path for folder in folders for suffix in (".json", ".json.gz")
            if (path := folder / f"{stack_name}{suffix}").is_file()]


def holds_nothing(backend: Path, stack_name: str) -> bool:
    """Whether a local backend's stack holds no resource and no pending operation: one just made, whose
    `pulumi stack export` (0.5–3 s on a loaded machine) has nothing to tell. Read from its checkpoint file;
    False whenever that cannot be told from it (no single checkpoint, one that cannot be read)."""
    files = checkpoint_files(backend, stack_name)
    if len(files) != 1:
        return False
    try:
        with (gzip.open(files[0], "rt") if files[0].suffix == ".gz" else files[0].open()) as checkpoint:
            latest = json.load(checkpoint)["checkpoint"].get("latest") or {}
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return False
    return not latest.get("resources") and not latest.get("pending_operations")


def engine_env(backend_url: str, passphrase_file: Path | None = None, workspace: Path | None = None) -> dict[str, str]:
    """The environment of every Pulumi command: without the user's own passphrase variables, which
    would take precedence over the stack's passphrase file; naming the stack's `workspace`."""
    env = {key: value for key, value in tool_path_env().items() if key not in PASSPHRASE_VARIABLES}
    python_bin = str(Path(sys.executable).parent)
    env.update(
        {
            # Dynamic providers run in a Python process of their own: make it this environment's Python.
            "PATH": f"{python_bin}{os.pathsep}{env['PATH']}",
            "ENVBUILDER_PYTHON": sys.executable,
            "PULUMI_BACKEND_URL": backend_url,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
    )
    if passphrase_file is not None:
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase_file)
    if workspace is not None:
        env[STACK_WORKSPACE_VARIABLE] = str(workspace)
    return env


def workspace_path(name: str | None) -> Path:
    """Where a stack's settings live between runs: its config (the generated secrets, encrypted) and
    its passphrase. Removed only once the stack is gone (`StoredStack.remove`, `down`)."""
    return state_home() / "workspaces" / (name or "_project")


def workspace_dir(name: str | None) -> Path:
    directory = workspace_path(name)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    return directory


def forget_workspace(name: str) -> None:
    shutil.rmtree(workspace_path(name), ignore_errors=True)
