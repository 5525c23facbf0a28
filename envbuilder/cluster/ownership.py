"""Whose an envbuilder object is, read from the object itself, and why one is left alone.

Containers, volumes and networks carry the owner label; kind cannot label its node
containers, so a kind cluster's owner is the label on its nodes, read through its API.
"""

import json
from dataclasses import dataclass

from envbuilder.cluster.commands import check, run
from envbuilder.cluster.docker import Docker
from envbuilder.cluster.kind import Kind
from envbuilder.naming import CLUSTER_PREFIX, ENVIRONMENT_LABEL, OWNER_LABEL, cluster_name, identity_selector

DOCKER_KINDS = ("container", "volume", "network")
# What an environment creates on an existing cluster outside its namespace, plus the namespace:
# all labelled with its name and owner, so `down` and the tests find them by label.
LABELLED_CLUSTER_KINDS = "namespaces,clusterroles,clusterrolebindings"
_NOT_ENVBUILDERS = "no owner label (not made by envbuilder, or before it labelled its objects' owner)"


@dataclass(frozen=True)
class Trace:
    """Something of an environment that exists on this machine."""

    kind: str  # container, volume, network, kind cluster
    name: str
    environment: str
    owner: str | None  # None: the object has no owner label, or its owner could not be read
    unknown_because: str = "no owner label (made before envbuilder labelled its objects' owner)"
    node_count: int | None = None  # a kind cluster's nodes, as its API server lists them

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"

    def is_owned_by(self, owner: str) -> bool:
        return self.owner == owner

    def not_owned_because(self) -> str:
        return (f"it belongs to another envbuilder home (owner {self.owner})" if self.owner
                else f"{self.unknown_because}; remove it by hand if it is yours")

    def left_alone(self) -> str:
        """Why an object that is not ours is left where it is, in one line."""
        return f"left alone: {self} (environment {self.environment}): {self.not_owned_because()}"


def docker_traces(docker: Docker, environment: str | None = None) -> list[Trace]:
    return [
        Trace(kind, name, labelled_environment, owner)
        for kind in DOCKER_KINDS
        for name, (labelled_environment, owner) in docker.labelled(kind, environment).items()
    ]


def kind_cluster_traces(kind: Kind, kubectl: str | None, environment: str | None = None) -> list[Trace]:
    """envbuilder's kind clusters (of `environment`, when given), each with the owner its nodes carry."""
    names = [name for name in kind.clusters() if name.startswith(CLUSTER_PREFIX)]
    if environment is not None:
        names = [name for name in names if name == cluster_name(environment)]
    return [kind_cluster_trace(kind, kubectl, name) for name in names]


def kind_cluster_trace(kind: Kind, kubectl: str | None, name: str) -> Trace:
    """An existing kind cluster with the owner its nodes carry."""
    environment = name.removeprefix(CLUSTER_PREFIX)
    if kubectl is None:
        return Trace("kind cluster", name, environment, None, "its owner is unknown: kubectl is not installed")
    nodes = kind.node_labels(name, kubectl)
    if nodes is None:
        return Trace("kind cluster", name, environment, None, "its owner is unknown: its API server does not answer")
    owners = {labels.get(OWNER_LABEL) for labels in nodes}
    environments = {labels.get(ENVIRONMENT_LABEL) for labels in nodes}
    if len(owners) != 1 or None in owners:
        return Trace("kind cluster", name, environment, None, "its nodes carry no single owner label", len(nodes))
    labelled_environment = environments.pop() if len(environments) == 1 else None
    return Trace("kind cluster", name, labelled_environment or environment, owners.pop(), node_count=len(nodes))


def docker_object_trace(docker: Docker, kind: str, name: str) -> Trace | None:
    """The container or volume (`kind`) called `name` with its owner, or None when there is none."""
    labels = docker.labels(kind, name)
    if labels is None:
        return None
    return Trace(kind, name, labels.get(ENVIRONMENT_LABEL, "?"), labels.get(OWNER_LABEL), _NOT_ENVBUILDERS)


def namespace_trace(kubectl: list[str], namespace: str) -> Trace | None:
    """The namespace `namespace` of the cluster `kubectl` (a command line with its context) talks to,
    with its owner; None when there is none."""
    result = check(run([*kubectl, "get", "namespace", namespace, "--ignore-not-found", "--output", "json",
                        "--request-timeout", "20s"], timeout=60), f"looking up namespace {namespace}")
    if not result.stdout.strip():
        return None
    labels = json.loads(result.stdout)["metadata"].get("labels") or {}
    return Trace("namespace", namespace, labels.get(ENVIRONMENT_LABEL, "?"), labels.get(OWNER_LABEL), _NOT_ENVBUILDERS)


def labelled_cluster_traces(kubectl: list[str], environment: str, where: str) -> list[Trace]:
    """`environment`'s namespace and cluster-scoped objects in the cluster `kubectl` talks to (`where`,
    its context, prefixes their kinds), found by their environment label, each with its owner."""
    result = check(
        run([*kubectl, "get", LABELLED_CLUSTER_KINDS, "-l", identity_selector(environment), "-o", "json"], timeout=60),
        "listing the environment's objects",
    )
    # A namespace being deleted still lists until its contents are gone.
    return [
        Trace(f"in {where}: {item['kind'].lower()}", item["metadata"]["name"], environment,
              item["metadata"].get("labels", {}).get(OWNER_LABEL))
        for item in json.loads(result.stdout).get("items", [])
    ]
