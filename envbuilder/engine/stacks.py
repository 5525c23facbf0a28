"""Selecting an environment's Pulumi stack with the settings every engine run needs; what a stack holds.

One stack per environment, named after it, in the project `envbuilder`. A new stack gets a
passphrase of its own (passphrases.py); an existing stack without a passphrase file here is
another home's (shared backend), whose secrets this home cannot read.
"""

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envbuilder.engine.backend import (
    PROJECT,
    checkpoint_files,
    default_backend_dir,
    default_backend_url,
    engine_env,
    forget_workspace,
    holds_nothing,
    local_backend,
    stack_backend,
    workspace_dir,
    workspace_path,
)
from envbuilder.engine.commands import engine_command, export_as_stored, pulumi_binary, run_pulumi
from envbuilder.engine.orphans import release_stale_locks, wait_for_holders
from envbuilder.engine.passphrases import PASSPHRASE_VARIABLES, existing_passphrase, make_passphrase
from envbuilder.errors import EnvbuilderError
from envbuilder.engine.urns import Urn

KIND_CLUSTER_RESOURCE = "cluster"  # the KindCluster's resource name in the program
OWNER_OUTPUT = "owner"  # the stack output naming the home that owns the environment
STACK_TYPE = "pulumi:pulumi:Stack"


def workspace_options(backend_url: str | None, name: str | None = None):
    from pulumi import automation as auto

    root = str(pulumi_binary().parent.parent)
    url = backend_url or default_backend_url()
    workspace = workspace_dir(name)
    env = engine_env(url, existing_passphrase(workspace) if name else None, workspace)
    # The Automation API starts the CLI with this process's environment under `env_vars`: a passphrase
    # variable there would take precedence over the stack's own; the others it also reads from here.
    for variable in PASSPHRASE_VARIABLES:
        os.environ.pop(variable, None)
    os.environ.update({k: v for k, v in env.items() if k.startswith("PULUMI_") and k not in PASSPHRASE_VARIABLES})
    return auto.LocalWorkspaceOptions(
        work_dir=str(workspace),
        env_vars=env,
        project_settings=auto.ProjectSettings(name=PROJECT, runtime="python", backend=auto.ProjectBackend(url=url)),
        pulumi_command=engine_command(root),
    )


def select_stack(name: str, program: Callable[[], None], backend_url: str | None = None):
    """The Automation API's stack for `name`, created or selected once no engine of an interrupted run
    of this machine is still writing it; a new stack gets a passphrase of its own."""
    from pulumi import automation as auto

    if backend := local_backend(backend_url or default_backend_url()):
        wait_for_holders(backend, name)
    if existing_passphrase(workspace_path(name)) is None and not stack_exists(name, backend_url):
        make_passphrase(workspace_dir(name))
    options = workspace_options(backend_url, name)
    return auto.create_or_select_stack(stack_name=name, project_name=PROJECT, program=program, opts=options)


def project_workspace(backend_url: str | None = None):
    """The envbuilder project's workspace, for listing and removing stacks."""
    from pulumi import automation as auto

    options = workspace_options(backend_url)
    return auto.LocalWorkspace(
        work_dir=options.work_dir, env_vars=options.env_vars, project_settings=options.project_settings,
        pulumi_command=options.pulumi_command,
    )


def stack_names(backend_url: str | None = None) -> list[str]:
    """The stacks the backend holds, without creating one (nor this home's backend)."""
    from pulumi import automation as auto

    if backend_url is None and not (default_backend_dir() / ".pulumi").is_dir():
        return []  # no stack was ever made here: listing would create the backend
    try:
        return [summary.name for summary in project_workspace(backend_url).list_stacks()]
    except auto.CommandError as error:
        raise EnvbuilderError(f"cannot list the stacks of {backend_url or default_backend_url()}:\n{error}") from None


def stack_exists(name: str, backend_url: str | None = None) -> bool:
    """Whether the backend holds the stack: in a local backend, whether its checkpoint is there (no Pulumi
    CLI to start); in any other, whether the backend lists it."""
    backend = local_backend(backend_url) if backend_url else default_backend_dir()
    if backend is not None:
        return bool(checkpoint_files(backend, name))
    return name in stack_names(backend_url)


@dataclass
class StoredStack:
    """A stack as its backend stores it (its secrets left encrypted), read once, with no engine run: what
    `down` needs of a stack whose objects it deletes itself. Each change is one Pulumi CLI call, in the
    stack's workspace, with no stack selected and no version check first."""

    name: str
    backend_url: str | None
    work_dir: str
    env: dict[str, str]
    export: dict[str, Any]  # `pulumi stack export`'s: the version and the deployment

    @property
    def deployment(self) -> dict[str, Any]:
        return self.export.get("deployment") or {}

    @property
    def owner(self) -> str | None:
        """The owner the stack names in its outputs; None when it names none (a run interrupted before its
        first update finished)."""
        stacks = [resource for resource in self.deployment.get("resources") or [] if resource.get("type") == STACK_TYPE]
        output = (stacks[0].get("outputs") or {}).get(OWNER_OUTPUT) if stacks else None
        return str(output) if output is not None else None

    def kind_clusters(self) -> set[str]:
        """The kind clusters it created or was creating when interrupted: this home's beyond doubt."""
        return kind_clusters_of(self.deployment)

    def forget_objects(self) -> list[str]:
        """Keep only what `forgotten` keeps, once no process of an interrupted run holds the stack (a stale
        lock is removed; a live holder stops this with an error); returns what was recovered."""
        backend = local_backend(self.env.get("PULUMI_BACKEND_URL", ""))
        recovered = release_stale_locks(backend, self.name) if backend else []
        # In the workspace, which only its owner reads: the export holds the secrets' ciphertexts.
        with tempfile.NamedTemporaryFile("w", dir=self.work_dir, suffix=".json") as state:
            json.dump({**self.export, "deployment": forgotten(self.deployment)}, state)
            state.flush()
            imported = run_pulumi(["stack", "import", "--stack", self.name, "--file", state.name], self.work_dir,
                                  self.env)
        if not imported.ok:
            raise EnvbuilderError(f"stack {self.name} could not forget its objects: {imported.stderr.strip()}")
        if pending := self.deployment.get("pending_operations"):
            kinds = ", ".join(sorted({operation.get("type", "?") for operation in pending}))
            recovered.append(f"cleared {len(pending)} pending operation(s) ({kinds}) left by an interrupted run")
        return recovered

    def remove(self) -> None:
        """The stack, whatever it still holds (a stack whose cluster is gone), and its workspace."""
        removed = run_pulumi(["stack", "rm", "--yes", "--force", "--stack", self.name], self.work_dir, self.env)
        if not removed.ok:
            raise EnvbuilderError(f"removing stack {self.name}: {removed.stderr.strip()}")
        forget_workspace(self.name)


def stored_stack(name: str, backend_url: str | None = None) -> StoredStack | None:
    """The stack as stored, in one `pulumi stack export`; None when the backend has no such stack."""
    if not stack_exists(name, backend_url):
        return None
    workspace = workspace_path(name)
    if (workspace / "Pulumi.yaml").is_file():  # the project file every stack of this home has in its workspace
        work_dir = str(workspace)
        env = engine_env(backend_url or default_backend_url(), existing_passphrase(workspace), workspace)
    else:  # another home's stack in a shared backend: the Automation API writes the project file
        selected = select_stack(name, lambda: None, backend_url).workspace
        work_dir, env = selected.work_dir, dict(selected.env_vars)
    # Read as stored: another home's stack is encrypted with its own passphrase (commands.py).
    return StoredStack(name, backend_url, work_dir, env, export_as_stored(name, work_dir, env))


def stack_owner(name: str, backend_url: str | None) -> str | None:
    """The owner a stack names in its outputs; None when there is no such stack or it names none."""
    stack = stored_stack(name, backend_url)
    return stack.owner if stack else None


def kind_clusters_in(stack, *, pending_only: bool = False) -> set[str]:
    """The kind clusters the Automation API's stack created or was creating when interrupted (`pending_only`:
    only the latter)."""
    backend = stack_backend(stack)
    if backend is not None and holds_nothing(backend, stack.name):
        return set()
    return kind_clusters_of(stack.export_stack().deployment or {}, pending_only=pending_only)


def kind_clusters_of(deployment: dict[str, Any], *, pending_only: bool = False) -> set[str]:
    """The kind clusters a stack's deployment holds, was creating when interrupted, or names as being deleted
    (`pending_only`: only the latter two, clusters that may be half there)."""
    pending = [operation.get("resource", {}) for operation in deployment.get("pending_operations") or []
               if operation.get("type") == "creating"]
    resources = pending if pending_only else [*(deployment.get("resources") or []), *pending]
    held = {
        name
        for resource in resources
        if _is_kind_cluster(resource)
        for name in [(resource.get("outputs") or {}).get("name") or (resource.get("inputs") or {}).get("name")]
        if name
    }
    return held | {str(name) for resource in deployment.get("resources") or [] if resource.get("type") == STACK_TYPE
                   for name in (resource.get("outputs") or {}).get(CLUSTERS_BEING_DELETED_OUTPUT) or []}


def _is_kind_cluster(resource: dict) -> bool:
    urn = resource.get("urn")
    return bool(urn) and Urn.parse(urn).name == KIND_CLUSTER_RESOURCE


# Of the stack's own resource in a forgotten state: the kind clusters `down` was deleting. `pulumi stack
# import` drops pending operations, so a cluster cannot stay in the state as one being created; the next
# `up` writes the stack's outputs anew.
CLUSTERS_BEING_DELETED_OUTPUT = "kind_clusters_being_deleted"


def forgotten(deployment: dict[str, Any]) -> dict[str, Any]:
    """What a stack keeps before `down` deletes what holds the environment's objects: its own resource (its
    outputs name its owner, and now its kind clusters as being deleted) and the providers that depend on
    nothing (a state must hold what it names). So an `up` after an interrupted `down` creates every object
    again, adopting or remaking the cluster as after an interrupted create (it reads the clusters with
    `kind_clusters_of(..., pending_only=True)`), instead of trusting a state that no longer is, and the
    next `down` still knows the cluster is this home's."""
    clusters = sorted(kind_clusters_of(deployment))
    kept = [resource for resource in deployment.get("resources") or [] if resource.get("type") == STACK_TYPE or (
        resource.get("type", "").startswith("pulumi:providers:") and not resource.get("dependencies"))]
    kept = [{**resource, "outputs": {**(resource.get("outputs") or {}), CLUSTERS_BEING_DELETED_OUTPUT: clusters}}
            if resource.get("type") == STACK_TYPE else resource for resource in kept]
    return {**deployment, "resources": kept, "pending_operations": []}


def set_secret(stack, key: str, value: str) -> None:
    """`pulumi config set --secret` with the value on stdin: the Automation API's set_config puts it on the
    command line, where any local user reads it (ps, /proc/<pid>/cmdline)."""
    from envbuilder.cluster.commands import check, run
    from envbuilder.cluster.tools import find_tool

    workspace = stack.workspace
    command = [str(find_tool("pulumi")), "config", "set", "--secret", "--stack", stack.name, "--non-interactive",
               "--cwd", workspace.work_dir, key]
    check(run(command, input=value, env=workspace.env_vars, timeout=120), f"storing the generated {key} in the stack")
