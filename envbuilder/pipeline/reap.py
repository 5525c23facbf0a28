"""`envbuilder reap`: remove this home's expired environments and whatever of this home no record accounts for.

Only objects carrying this home's identity are candidates: envbuilder-labelled containers,
volumes and networks, kind clusters whose nodes carry it, host ports and stacks of this
home. Everything else found on the machine (another home's environments, objects made
before owners were labelled, clusters whose owner cannot be read) is left alone, and the
plan says which and why.
"""

from dataclasses import dataclass, field

from envbuilder.cluster.docker import Docker
from envbuilder.cluster.kind import Kind
from envbuilder.cluster.ownership import docker_traces, kind_cluster_traces
from envbuilder.cluster.tools import find_tool
from envbuilder.errors import EnvbuilderError
from envbuilder.pipeline.down import down
from envbuilder.state import ports as host_ports
from envbuilder.state.identity import home_identity
from envbuilder.state.records import list_records, read_records


@dataclass
class ReapPlan:
    expired: list[str] = field(default_factory=list)  # environments with a record whose TTL has passed
    orphans: list[str] = field(default_factory=list)  # environment names with this home's traces but no record
    left_alone: list[str] = field(default_factory=list)  # what is not this home's, each with why

    @property
    def empty(self) -> bool:
        return not self.expired and not self.orphans


def plan_reap(backend_url: str | None = None) -> ReapPlan:
    records, unreadable = read_records()
    # An unreadable record still names an environment: its traces are not orphans.
    live = {record.name for record in records} | {error.path.stem for error in unreadable}
    owner = home_identity()
    plan = ReapPlan(expired=sorted(record.name for record in records if record.expired()))
    plan.left_alone += [f"{error.path.stem}: left alone, {error}" for error in unreadable]
    traced: set[str] = set(host_ports.owners())
    kind_binary, docker_binary, kubectl = find_tool("kind"), find_tool("docker"), find_tool("kubectl")
    docker = Docker(binary=str(docker_binary)) if docker_binary else None
    if docker and docker.running():
        traces = docker_traces(docker)
        if kind_binary:
            traces += kind_cluster_traces(Kind(binary=str(kind_binary)), str(kubectl) if kubectl else None)
        for trace in traces:
            if trace.is_owned_by(owner):
                traced.add(trace.environment)
            else:
                plan.left_alone.append(trace.left_alone())
    if find_tool("pulumi"):
        if backend_url is None:
            traced.update(_stacks(backend_url))  # this home's own backend: every stack in it is this home's
        else:
            from envbuilder.engine.api import stack_owner

            for name in _stacks(backend_url):
                if name in live:
                    continue
                stack_owner_id = stack_owner(name, backend_url)
                if stack_owner_id == owner:
                    traced.add(name)
                else:
                    why = (f"it belongs to another envbuilder home (owner {stack_owner_id})" if stack_owner_id
                           else "it names no owner and this home has no record of it")
                    plan.left_alone.append(f"left alone: Pulumi stack {name} in {backend_url}: {why}")
    plan.orphans = sorted(name for name in traced if name and name not in live)
    return plan


def reap(backend_url: str | None = None, dry_run: bool = False) -> ReapPlan:
    plan = plan_reap(backend_url)
    if dry_run:
        return plan
    failures = []
    for name in [*plan.expired, *plan.orphans]:
        try:
            down(name, backend_url=_backend_of(name, backend_url))
        except EnvbuilderError as error:
            failures.append(f"{name}: {error}")
    if failures:
        raise EnvbuilderError("reap could not remove everything:\n  " + "\n  ".join(failures))
    return plan


def _backend_of(name: str, backend_url: str | None) -> str | None:
    """A recorded environment's stack is where its record says, whatever backend reap was pointed at."""
    record = next((record for record in list_records() if record.name == name), None)
    return record.backend_url if record else backend_url


def _stacks(backend_url: str | None) -> list[str]:
    from envbuilder.engine.api import stack_names

    try:
        return stack_names(backend_url)
    except EnvbuilderError:
        return []
