"""Selecting an environment's Pulumi stack with the settings every engine run needs; what a stack holds.

One stack per environment, named after it, in the project `envbuilder`. A new stack gets a
passphrase of its own (passphrases.py); an existing stack without a passphrase file here is
another home's (shared backend), whose secrets this home cannot read.
"""

import os
from collections.abc import Callable

from envbuilder.engine.backend import (
    PROJECT,
    default_backend_url,
    engine_env,
    forget_workspace,
    local_backend,
    workspace_dir,
    workspace_path,
)
from envbuilder.engine.commands import engine_command, export_as_stored, pulumi_binary
from envbuilder.engine.orphans import wait_for_holders
from envbuilder.engine.passphrases import PASSPHRASE_VARIABLES, existing_passphrase, make_passphrase
from envbuilder.errors import EnvbuilderError
from envbuilder.state.home import state_home
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

    if backend_url is None and not (state_home() / "pulumi" / ".pulumi").is_dir():
        return []  # no stack was ever made here: listing would create the backend
    try:
        return [summary.name for summary in project_workspace(backend_url).list_stacks()]
    except auto.CommandError as error:
        raise EnvbuilderError(f"cannot list the stacks of {backend_url or default_backend_url()}:\n{error}") from None


def stack_exists(name: str, backend_url: str | None = None) -> bool:
    return name in stack_names(backend_url)


def remove_stack(name: str, backend_url: str | None = None) -> None:
    # force: also when resources are left in it (a stack whose cluster is already gone).
    project_workspace(backend_url).remove_stack(name, force=True)
    forget_workspace(name)


def stack_owner(name: str, backend_url: str | None) -> str | None:
    """The owner a stack names in its outputs; None when there is no such stack or it names none
    (a run interrupted before its first update finished)."""
    if not stack_exists(name, backend_url):
        return None
    # Read as stored: another home's stack is encrypted with its own passphrase (commands.py).
    workspace = select_stack(name, lambda: None, backend_url).workspace
    deployment = export_as_stored(name, workspace.work_dir, workspace.env_vars)
    stacks = [resource for resource in deployment.get("resources", []) if resource.get("type") == STACK_TYPE]
    output = (stacks[0].get("outputs") or {}).get(OWNER_OUTPUT) if stacks else None
    return str(output) if output is not None else None


def kind_clusters_in(stack, *, pending_only: bool = False) -> set[str]:
    """The kind clusters the stack created or was creating when interrupted (`pending_only`: only the
    latter): this home's beyond doubt."""
    deployment = stack.export_stack().deployment or {}
    pending = [operation.get("resource", {}) for operation in deployment.get("pending_operations", [])
               if operation.get("type") == "creating"]
    resources = pending if pending_only else [*deployment.get("resources", []), *pending]
    return {
        name
        for resource in resources
        if _is_kind_cluster(resource)
        for name in [(resource.get("outputs") or {}).get("name") or (resource.get("inputs") or {}).get("name")]
        if name
    }


def _is_kind_cluster(resource: dict) -> bool:
    urn = resource.get("urn")
    return bool(urn) and Urn.parse(urn).name == KIND_CLUSTER_RESOURCE


DEPENDENCY_KEYS = ("dependencies", "propertyDependencies")


def forget_objects(stack, state) -> None:
    """Before `down` deletes what holds the environment's objects: the stack keeps its own resource (its
    outputs name its owner), the providers that depend on nothing (a state must hold what it names) and
    its kind cluster as one it was creating. So an `up` after an interrupted `down` creates every object
    again (adopting or remaking the cluster, as after an interrupted create) instead of trusting a state
    that no longer is, and the next `down` still knows the cluster is this home's. `state` is the
    stack's export from before recovery cleared its pending operations."""
    deployment = state.deployment or {}
    resources = deployment.get("resources") or []
    pending = [operation.get("resource", {}) for operation in deployment.get("pending_operations") or []]
    clusters = {resource["urn"]: resource for resource in [*pending, *resources] if _is_kind_cluster(resource)}
    deployment["resources"] = [resource for resource in resources if resource.get("type") == STACK_TYPE or (
        resource.get("type", "").startswith("pulumi:providers:") and not resource.get("dependencies"))]
    # Without its dependencies (the environment's network): a state names only what it holds.
    deployment["pending_operations"] = [
        {"resource": {key: value for key, value in cluster.items() if key not in DEPENDENCY_KEYS}, "type": "creating"}
        for cluster in clusters.values()]
    stack.import_stack(state)


def set_secret(stack, key: str, value: str) -> None:
    """`pulumi config set --secret` with the value on stdin: the Automation API's set_config puts it on the
    command line, where any local user reads it (ps, /proc/<pid>/cmdline)."""
    from envbuilder.cluster.commands import check, run
    from envbuilder.cluster.tools import find_tool

    workspace = stack.workspace
    command = [str(find_tool("pulumi")), "config", "set", "--secret", "--stack", stack.name, "--non-interactive",
               "--cwd", workspace.work_dir, key]
    check(run(command, input=value, env=workspace.env_vars, timeout=120), f"storing the generated {key} in the stack")
