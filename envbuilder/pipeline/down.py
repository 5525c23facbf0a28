"""`envbuilder down`: destroy the stack, remove what the stack could not, then prove nothing is left.

Each step goes on after an earlier one failed (a broken stack must not keep a cluster
alive), and the final check says exactly what is left, if anything.
"""

from pathlib import Path

from envbuilder.cli.console import err_console
from envbuilder.cluster.docker import Docker
from envbuilder.cluster.kind import Kind
from envbuilder.cluster.tools import find_tool
from envbuilder.errors import EnvbuilderError, InputError
from envbuilder.pipeline.engine_run import run_engine
from envbuilder.pipeline.progress import Progress
from envbuilder.state import ports as host_ports
from envbuilder.state.locks import environment_lock
from envbuilder.state.records import EnvironmentRecord, delete_record, find_record, list_records, save_record


def cluster_name(environment: str) -> str:
    return f"envbuilder-{environment}"


def down(name: str, backend_url: str | None = None) -> None:
    with environment_lock(name):
        record = find_record(name)
        if record is None and not _traces(name, backend_url, None):
            known = [r.name for r in list_records()]
            raise InputError(f"no environment named {name!r}; existing environments: {', '.join(known) or '(none)'}")
        err_console.print(f"Removing environment [bold]{name}[/]")
        if record:
            record.status = "deleting"
            save_record(record)
        problems: list[str] = []
        with Progress(err_console) as progress:
            with progress.phase("destroy"):
                problems += _destroy_stack(name, backend_url)
            with progress.phase("cleanup"):
                problems += _remove_leftovers(name, record, backend_url)
            with progress.phase("verify-clean"):
                left = _traces(name, backend_url, record)
        if left:
            raise EnvbuilderError(
                f"environment {name} was not removed completely; still there:\n  " + "\n  ".join(left)
                + ("\nerrors on the way:\n  " + "\n  ".join(problems) if problems else "")
            )
        err_console.print(f"[green]environment {name} is gone[/]: no stack, cluster, containers, volumes, "
                          "kube context, ports or records left")


def _destroy_stack(name: str, backend_url: str | None) -> list[str]:
    from envbuilder.engine.workspace import recover, remove_stack, select_stack, stack_exists

    if find_tool("pulumi") is None or not stack_exists(name, backend_url):
        return []
    stack = select_stack(name, lambda: None, backend_url)
    for message in recover(stack):
        err_console.print(f"[yellow]recovered:[/] {message}")
    try:
        run_engine("destroy", stack.destroy)
        remove_stack(name, backend_url)
    except Exception as error:  # noqa: BLE001 - reported, and the fallback below still runs
        return [str(error)]
    return []


def _remove_leftovers(name: str, record: EnvironmentRecord | None, backend_url: str | None) -> list[str]:
    """Whatever the stack did not take with it: found by name and by label, not by the stack's word."""
    from envbuilder.engine.workspace import forget_workspace, stack_exists

    problems = []
    kind_binary, docker_binary = find_tool("kind"), find_tool("docker")
    if kind_binary:
        try:
            Kind(binary=str(kind_binary)).delete(cluster_name(name))
        except EnvbuilderError as error:
            problems.append(str(error))
    docker = Docker(binary=str(docker_binary)) if docker_binary else None
    if docker and docker.running():
        for container in docker.labelled("container", name):
            docker.remove_container(container)
        for volume in docker.labelled("volume", name):
            docker.remove_volume(volume)
    if record and record.target == "kind" and record.kubeconfig:
        Path(record.kubeconfig).unlink(missing_ok=True)
    if record and record.target == "existing":
        problems += _delete_labelled_cluster_objects(name, record)
    if (record is None or record.target == "kind") and find_tool("pulumi"):
        _forget_stack_of_a_gone_cluster(name, backend_url)
    host_ports.release(name)
    delete_record(name)
    if find_tool("pulumi") is None or not stack_exists(name, backend_url):
        forget_workspace(name)
    return problems


def _forget_stack_of_a_gone_cluster(name: str, backend_url: str | None) -> None:
    """A stack that could not be destroyed, once its kind cluster and containers are gone, holds nothing real."""
    from envbuilder.engine.workspace import remove_stack, stack_exists

    kind_binary = find_tool("kind")
    if not stack_exists(name, backend_url) or (kind_binary and Kind(binary=str(kind_binary)).exists(cluster_name(name))):
        return
    remove_stack(name, backend_url)
    err_console.print(f"[yellow]removed stack {name}[/]: its cluster is gone, so nothing it held remains")


def _traces(name: str, backend_url: str | None, record: EnvironmentRecord | None) -> list[str]:
    """Everything of the environment that still exists on this machine (and, on an existing cluster, in it)."""
    from envbuilder.engine.workspace import stack_exists, workspace_path

    left = []
    if workspace_path(name).exists():
        left.append(f"Pulumi workspace {workspace_path(name)}")
    if record and record.target == "existing":
        left += [f"in {record.kube_context}: {obj}" for obj in _labelled_cluster_objects(name, record)]
    if find_record(name):
        left.append(f"record {name}")
    if host_ports.owned_by(name):
        left.append(f"host ports {host_ports.owned_by(name)}")
    if find_tool("pulumi") and stack_exists(name, backend_url):
        left.append(f"Pulumi stack {name}")
    kind_binary, docker_binary = find_tool("kind"), find_tool("docker")
    docker = Docker(binary=str(docker_binary)) if docker_binary else None
    if docker and docker.running():
        if kind_binary and Kind(binary=str(kind_binary)).exists(cluster_name(name)):
            left.append(f"kind cluster {cluster_name(name)}")
        left += [f"container {c}" for c in docker.labelled("container", name)]
        left += [f"volume {v}" for v in docker.labelled("volume", name)]
    return left


# What an environment creates outside its namespace, plus the namespace: all labelled with its name.
_LABELLED_KINDS = "namespaces,clusterroles,clusterrolebindings"


def _kubectl(record: EnvironmentRecord) -> list[str] | None:
    kubectl = find_tool("kubectl")
    if kubectl is None:
        return None
    args = [str(kubectl), "--context", str(record.kube_context)]
    return args + ["--kubeconfig", record.kubeconfig] if record.kubeconfig else args


def _delete_labelled_cluster_objects(name: str, record: EnvironmentRecord) -> list[str]:
    """What the stack lost track of (an interrupted create) is still found by its label."""
    from envbuilder.cluster.commands import run
    from envbuilder.desired.meta import ENVIRONMENT_LABEL

    kubectl = _kubectl(record)
    if kubectl is None:
        return ["kubectl is not installed: cannot check the cluster for leftovers"]
    result = run([*kubectl, "delete", _LABELLED_KINDS, "-l", f"{ENVIRONMENT_LABEL}={name}", "--ignore-not-found",
                  "--wait=true", "--timeout=180s"], timeout=240)
    return [] if result.ok else [f"deleting labelled objects: {result.stderr.strip()}"]


def _labelled_cluster_objects(name: str, record: EnvironmentRecord) -> list[str]:
    from envbuilder.cluster.commands import check, run
    from envbuilder.desired.meta import ENVIRONMENT_LABEL

    kubectl = _kubectl(record)
    if kubectl is None:
        return []
    result = check(
        run([*kubectl, "get", _LABELLED_KINDS, "-l", f"{ENVIRONMENT_LABEL}={name}", "-o", "name"], timeout=60),
        "listing the environment's objects",
    )
    # A namespace being deleted still lists until its contents are gone.
    return [line for line in result.stdout.splitlines() if line]
