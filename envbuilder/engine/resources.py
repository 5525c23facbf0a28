"""Pulumi dynamic resources for what lives outside the Kubernetes API.

Each provider is a thin shell over the subprocess wrappers in envbuilder.cluster, so the
engine records these things in the stack and `down` destroys them like any other resource.
Providers run in a separate Python process started by the engine: they take everything
they need from their inputs.
"""

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from envbuilder.cluster.commands import CommandFailed, run
from envbuilder.cluster.docker import ContainerSpec, Docker
from envbuilder.cluster.kind import Kind, kind_context
from envbuilder.cluster.ownership import container_trace, kind_cluster_trace
from envbuilder.naming import OWNER_LABEL
from envbuilder.errors import EnvbuilderError


def _replace_on_any_change(olds: dict, news: dict, keys: list[str]) -> DiffResult:
    changed = [key for key in keys if olds.get(key) != news.get(key)]
    return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)


class _KindClusterProvider(ResourceProvider):
    KEYS = ["name", "config", "node_image"]

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the cluster; one that an interrupted run left is adopted when complete and this home's,
        made anew when this home's but half-made, and refused (untouched) when not proven this home's."""
        kind = Kind(binary=props["kind"])
        name, kubeconfig = props["name"], Path(props["kubeconfig"])
        kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        if kind.exists(name):
            existing = kind_cluster_trace(kind, props.get("kubectl"), name)
            ours = existing.is_owned_by(props["owner"])
            if ours and existing.node_count == len(props["config"].get("nodes", [])):
                kind.export_kubeconfig(name, kubeconfig)
                return CreateResult(id_=name, outs={**props, "context": kind_context(name)})
            if not (ours or props.get("interrupted_create")):
                raise EnvbuilderError(
                    f"kind cluster {name} already exists and is not proven this home's: {existing.not_owned_because()}"
                )
            kind.delete(name)  # this home's, half-made by the interrupted run
        kind.create(name, props["config"], props["node_image"], kubeconfig, int(props["timeout"]))
        return CreateResult(id_=name, outs={**props, "context": kind_context(name)})

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        # Node labels only mark the owner; clusters made before they existed are not replaced for them.
        return _replace_on_any_change(_without_node_labels(olds), _without_node_labels(news), self.KEYS)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        Kind(binary=props["kind"]).delete(props["name"], Path(props["kubeconfig"]))


def _without_node_labels(props: dict[str, Any]) -> dict[str, Any]:
    config = props.get("config") or {}
    nodes = [{key: value for key, value in node.items() if key != "labels"} for node in config.get("nodes", [])]
    return {**props, "config": {**config, "nodes": nodes}}


class KindCluster(Resource):
    """A kind cluster: `kind create cluster` on create, `kind delete cluster` on delete."""

    context: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, *, cluster_name: str, config: dict, node_image: str, kubeconfig: str,
                 kind_binary: str, kubectl_binary: str, owner: str, interrupted_create: bool, timeout: int,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"name": cluster_name, "config": config, "node_image": node_image, "kubeconfig": kubeconfig,
                 "kind": kind_binary, "kubectl": kubectl_binary, "owner": owner, "interrupted_create": interrupted_create,
                 "timeout": timeout, "context": None}
        super().__init__(_KindClusterProvider(), name, props, opts)


class _ActionProvider(ResourceProvider):
    """A resource that is an action: done on create, done again when its inputs change."""

    ID_KEY: str

    def create(self, props: dict[str, Any]) -> CreateResult:
        self.act(props)
        return CreateResult(id_=props[self.ID_KEY], outs=props)

    def update(self, _id: str, _olds: dict, news: dict) -> UpdateResult:
        self.act(news)
        return UpdateResult(outs=news)

    def act(self, props: dict[str, Any]) -> None:
        raise NotImplementedError


class _ClusterReadyProvider(_ActionProvider):
    """Waits until the pod network runs on every node and every node is Ready; explains a timeout."""

    ID_KEY = "context"

    def act(self, props: dict[str, Any]) -> None:
        kubectl = [props["kubectl"], "--kubeconfig", props["kubeconfig"], "--context", props["context"]]
        timeout = f"{int(props['timeout'])}s"
        steps = [
            (["-n", "kube-system", "rollout", "status", f"daemonset/{props['network_daemonset']}", f"--timeout={timeout}"],
             f"the pod network ({props['network_daemonset']}) on every node"),
            (["wait", "--for=condition=Ready", "nodes", "--all", f"--timeout={timeout}"], "nodes Ready"),
            (["-n", "kube-system", "rollout", "status", "deployment/coredns", f"--timeout={timeout}"], "cluster DNS"),
        ]
        for args, what in steps:
            result = run([*kubectl, *args], timeout=int(props["timeout"]) + 30)
            if not result.ok:
                diagnosis = run([*kubectl, "get", "nodes,pods", "-A", "-o", "wide"], timeout=60).stdout
                events = run([*kubectl, "get", "events", "-A", "--sort-by=.lastTimestamp"], timeout=60).stdout
                tail = "\n".join(events.splitlines()[-20:])
                raise CommandFailed(result, f"waiting for {what}\n{diagnosis}\nrecent events:\n{tail}")


class ClusterReady(Resource):
    def __init__(self, name: str, *, kubeconfig: pulumi.Input[str], context: pulumi.Input[str], kubectl: str,
                 network_daemonset: str, timeout: int, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"kubeconfig": kubeconfig, "context": context, "kubectl": kubectl,
                 "network_daemonset": network_daemonset, "timeout": timeout}
        super().__init__(_ClusterReadyProvider(), name, props, opts)


class _ImagesLoadedProvider(_ActionProvider):
    """Loads images into the kind nodes that don't hold that image ID yet."""

    ID_KEY = "cluster"

    def act(self, props: dict[str, Any]) -> None:
        from envbuilder.images.load import ImageLoader

        ImageLoader(props["cluster"], kind=Kind(binary=props["kind"])).load(list(props["images"]))


class ImagesLoaded(Resource):
    def __init__(self, name: str, *, cluster: pulumi.Input[str], images: dict[str, str], kind_binary: str,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        # Image IDs are inputs, so a rebuilt image (same tag, new ID) is loaded again.
        super().__init__(_ImagesLoadedProvider(), name, {"cluster": cluster, "images": images, "kind": kind_binary}, opts)


class _ContainerProvider(ResourceProvider):
    KEYS = ["spec"]

    def create(self, props: dict[str, Any]) -> CreateResult:
        docker = Docker(binary=props["docker"])
        container = ContainerSpec(**{k: _from_engine(v) for k, v in props["spec"].items()})
        existing = container_trace(docker, container.name)
        if existing and not existing.is_owned_by(container.labels.get(OWNER_LABEL, "")):
            raise EnvbuilderError(
                f"container {container.name} already exists and is not this home's: {existing.not_owned_because()}"
            )
        if existing:
            docker.remove_container(container.name)  # this home's, left by an interrupted run
        docker.run_container(container)
        address = docker.container_ip(container.name, container.network)
        return CreateResult(id_=container.name, outs={**props, "address": address})

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        return _replace_on_any_change(olds, news, self.KEYS)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        docker = Docker(binary=props["docker"])
        docker.remove_container(props["spec"]["name"])
        for volume, _path in props["spec"].get("volumes", []):
            docker.remove_volume(volume)


def _from_engine(value: Any) -> Any:
    """Inputs come back from the engine with lists for tuples and floats for integers (ports)."""
    if isinstance(value, list):
        return tuple(_from_engine(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _container_props(spec: ContainerSpec) -> dict[str, Any]:
    return {
        "name": spec.name, "image": spec.image, "network": spec.network, "labels": spec.labels,
        "env": spec.env, "secret_env": list(spec.secret_env),
        "publish": [list(p) for p in spec.publish], "volumes": [list(v) for v in spec.volumes],
    }


class Container(Resource):
    """A plain container on the cluster's Docker network (the F5, classic services)."""

    address: pulumi.Output[str]

    def __init__(self, name: str, *, spec: pulumi.Input[ContainerSpec], docker_binary: str,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            "spec": pulumi.Output.from_input(spec).apply(_container_props),
            "docker": docker_binary,
            "address": None,
        }
        super().__init__(_ContainerProvider(), name, props, opts)


__all__ = ["ClusterReady", "Container", "ImagesLoaded", "KindCluster"]
