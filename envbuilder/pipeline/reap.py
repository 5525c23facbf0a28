"""`envbuilder reap`: remove expired environments and whatever no live record accounts for.

Orphans are found by envbuilder's own marks: kind clusters named `envbuilder-*`, containers
and volumes labelled `envbuilder.io/environment`, Pulumi stacks of the envbuilder project.
"""

from dataclasses import dataclass, field

from envbuilder.cluster.commands import run
from envbuilder.cluster.docker import Docker
from envbuilder.cluster.kind import Kind
from envbuilder.cluster.tools import find_tool
from envbuilder.desired.meta import ENVIRONMENT_LABEL
from envbuilder.errors import EnvbuilderError
from envbuilder.pipeline.down import cluster_name, down
from envbuilder.state import ports as host_ports
from envbuilder.state.records import list_records

CLUSTER_PREFIX = cluster_name("")


@dataclass
class ReapPlan:
    expired: list[str] = field(default_factory=list)  # environments with a record whose TTL has passed
    orphans: list[str] = field(default_factory=list)  # environment names with traces but no record

    @property
    def empty(self) -> bool:
        return not self.expired and not self.orphans


def plan_reap(backend_url: str | None = None) -> ReapPlan:
    records = list_records()
    live = {record.name for record in records}
    plan = ReapPlan(expired=sorted(record.name for record in records if record.expired()))
    traced: set[str] = set(host_ports.owners())
    kind_binary, docker_binary = find_tool("kind"), find_tool("docker")
    if docker_binary and run([str(docker_binary), "info"], timeout=20).ok:
        docker = Docker(binary=str(docker_binary))
        for kind in ("container", "volume", "network"):
            for name in docker.labelled(kind):
                traced.add(_environment_label(docker, kind, name))
        if kind_binary:
            traced.update(c.removeprefix(CLUSTER_PREFIX) for c in Kind(binary=str(kind_binary)).clusters()
                          if c.startswith(CLUSTER_PREFIX))
    if find_tool("pulumi"):
        traced.update(_stacks(backend_url))
    plan.orphans = sorted(name for name in traced if name and name not in live)
    return plan


def reap(backend_url: str | None = None, dry_run: bool = False) -> ReapPlan:
    plan = plan_reap(backend_url)
    if dry_run:
        return plan
    failures = []
    for name in [*plan.expired, *plan.orphans]:
        try:
            down(name, backend_url=backend_url)
        except EnvbuilderError as error:
            failures.append(f"{name}: {error}")
    if failures:
        raise EnvbuilderError("reap could not remove everything:\n  " + "\n  ".join(failures))
    return plan


def _environment_label(docker: Docker, kind: str, name: str) -> str:
    template = f'{{{{index .Config.Labels "{ENVIRONMENT_LABEL}"}}}}' if kind == "container" else f'{{{{index .Labels "{ENVIRONMENT_LABEL}"}}}}'
    result = docker.runner([docker.binary, kind, "inspect", name, "--format", template], timeout=30)
    return result.stdout.strip() if result.ok else ""


def _stacks(backend_url: str | None) -> list[str]:
    from pulumi import automation as auto

    from envbuilder.engine.workspace import workspace

    try:
        return [summary.name for summary in workspace(backend_url).list_stacks()]
    except auto.CommandError:
        return []
