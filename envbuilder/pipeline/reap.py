"""`envbuilder reap`: remove expired environments and whatever no live record accounts for.

Orphans are found by envbuilder's own marks: kind clusters named `envbuilder-*`, containers
and volumes labelled `envbuilder.io/environment`, Pulumi stacks of the envbuilder project.
"""

from dataclasses import dataclass, field

from envbuilder.cluster.docker import Docker
from envbuilder.cluster.kind import Kind
from envbuilder.cluster.tools import find_tool
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
    docker = Docker(binary=str(docker_binary)) if docker_binary else None
    if docker and docker.running():
        for kind in ("container", "volume", "network"):
            for name in docker.labelled(kind):
                traced.add(docker.environment_of(kind, name))
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


def _stacks(backend_url: str | None) -> list[str]:
    from pulumi import automation as auto

    from envbuilder.engine.workspace import workspace

    try:
        return [summary.name for summary in workspace(backend_url).list_stacks()]
    except auto.CommandError:
        return []
