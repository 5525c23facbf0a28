"""Pulumi dynamic resources for what lives outside the Kubernetes API.

Each provider is a thin shell over the subprocess wrappers in envbuilder.cluster, so the
engine records these things in the stack and `down` destroys them like any other resource.
Providers run in a separate Python process started by the engine: they take everything
they need from their inputs.
"""

import hashlib
import ipaddress
import json
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from envbuilder.cluster.commands import CommandFailed, check, run
from envbuilder.cluster.docker import ContainerSpec, Docker
from envbuilder.cluster.kind import Kind, kind_context
from envbuilder.cluster.kubectl import kubectl_command
from envbuilder.cluster.ownership import docker_object_trace, kind_cluster_trace
from envbuilder.naming import OWNER_LABEL, REGISTRY_CONTAINER
from envbuilder.errors import EnvbuilderError


def _replace_on_any_change(olds: dict, news: dict, keys: list[str]) -> DiffResult:
    changed = [key for key in keys if olds.get(key) != news.get(key)]
    return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)


class _KindClusterProvider(ResourceProvider):
    # A cluster made before environments had networks of their own sits on kind's shared one: it is made anew.
    KEYS = ["name", "config", "node_image", "network"]

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
        kind.create(name, props["config"], props["node_image"], kubeconfig, int(props["timeout"]), props["network"])
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

    def __init__(self, name: str, *, cluster_name: str, config: dict, node_image: str, network: str, kubeconfig: str,
                 kind_binary: str, kubectl_binary: str, owner: str, interrupted_create: bool, timeout: int,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"name": cluster_name, "config": config, "node_image": node_image, "network": network,
                 "kubeconfig": kubeconfig,
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
        kubectl = kubectl_command(props["kubectl"], props["kubeconfig"], props["context"])
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


class _BgpPeeringProvider(_ActionProvider):
    """Makes kube-router peer every node with the F5: its DaemonSet gets the F5's address and AS
    as its external BGP peer (`--peer-router-ips`, `--peer-router-asns`; replacing any earlier
    ones), and the rollout is awaited, so each node advertises its pod block to the F5. The node
    image installs kube-router before the F5's container, hence its address, exists; a new F5
    address (a replaced container) is an update and patches again. `down` deletes the cluster,
    so nothing is undone."""

    ID_KEY = "context"
    PEER_OPTIONS = ("--peer-router-ips=", "--peer-router-asns=")

    def act(self, props: dict[str, Any]) -> None:
        kubectl = [*kubectl_command(props["kubectl"], props["kubeconfig"], props["context"]), "-n", "kube-system"]
        daemonset = f"daemonset/{props['daemonset']}"
        shown = check(run([*kubectl, "get", daemonset, "-o", "json"], timeout=60),
                      f"reading {daemonset} to peer it with the F5")
        containers = json.loads(shown.stdout)["spec"]["template"]["spec"]["containers"]
        index = next(i for i, c in enumerate(containers) if c["name"] == props["daemonset"])
        args = [arg for arg in containers[index].get("args", []) if not arg.startswith(self.PEER_OPTIONS)]
        # int(): the engine hands numbers back as floats.
        args += [f"--peer-router-ips={props['peer_address']}", f"--peer-router-asns={int(props['peer_asn'])}"]
        patch = [{"op": "add", "path": f"/spec/template/spec/containers/{index}/args", "value": args}]
        for command, what in (
            (["patch", daemonset, "--type=json", "-p", json.dumps(patch)], f"peering {daemonset} with the F5"),
            (["rollout", "status", daemonset, f"--timeout={int(props['timeout'])}s"], f"{daemonset} peered with the F5"),
        ):
            check(run([*kubectl, *command], timeout=int(props["timeout"]) + 30), what)


class BgpPeering(Resource):
    def __init__(self, name: str, *, kubeconfig: str, context: pulumi.Input[str], kubectl: str, daemonset: str,
                 peer_address: pulumi.Input[str], peer_asn: int, timeout: int,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"kubeconfig": kubeconfig, "context": context, "kubectl": kubectl, "daemonset": daemonset,
                 "peer_address": peer_address, "peer_asn": peer_asn, "timeout": timeout}
        super().__init__(_BgpPeeringProvider(), name, props, opts)


class _ImagesPushedProvider(_ActionProvider):
    """Pushes images to the machine's registry (only the layers it lacks travel). Pushed again when an image
    changes or the registry no longer holds one (a new registry volume): a push is idempotent, so one an
    interrupted run left half done is simply done again."""

    ID_KEY = "registry"

    def act(self, props: dict[str, Any]) -> None:
        from envbuilder.images.registry import Registry

        Registry().push(list(props["images"]))

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        from envbuilder.images.registry import Registry

        registry = Registry()
        return DiffResult(changes=olds.get("images") != news["images"] or not all(map(registry.holds, news["images"])))


class ImagesPushed(Resource):
    def __init__(self, name: str, *, images: dict[str, str], opts: pulumi.ResourceOptions | None = None) -> None:
        # Image IDs are inputs, so a rebuilt image (same tag, new ID) is pushed again.
        super().__init__(_ImagesPushedProvider(), name, {"registry": REGISTRY_CONTAINER, "images": images}, opts)


class _RegistryOnNetworkProvider(_ActionProvider):
    """Joins the machine's registry to the environment's Docker network, where the nodes' containerd reaches
    it by name. Joined again when it is not (a registry made anew); it leaves when the network is removed
    (`Docker.remove_network`)."""

    ID_KEY = "network"

    def act(self, props: dict[str, Any]) -> None:
        from envbuilder.images.registry import Registry

        Registry().join(props["network"])

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        from envbuilder.images.registry import Registry

        return DiffResult(changes=olds != news or news["network"] not in Registry().networks())


class RegistryOnNetwork(Resource):
    def __init__(self, name: str, *, network: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(_RegistryOnNetworkProvider(), name, {"network": network}, opts)


class _ContainerProvider(ResourceProvider):
    """The container's secret files are an input (a Pulumi secret, encrypted in the state) but never an
    output: the outputs keep only their digest, which tells a changed secret from the same one."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        docker = Docker(binary=props["docker"])
        container = _container_spec(props)
        existing = docker_object_trace(docker, "container", container.name)
        if existing and not existing.is_owned_by(container.labels.get(OWNER_LABEL, "")):
            raise EnvbuilderError(
                f"container {container.name} already exists and is not this home's: {existing.not_owned_because()}"
            )
        if existing:
            docker.remove_container(container.name)  # this home's, left by an interrupted run
        docker.run_container(container)
        address = docker.container_ip(container.name, container.network)
        return CreateResult(id_=container.name, outs=_outputs(props, address=address))

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        return _replace_on_any_change(olds, _outputs(news, address=olds.get("address")), ["spec", SECRET_DIGEST])

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # Its volumes are resources of their own: a container replaced (new image, new ports) leaves them
        # to its successor, which finds its state again.
        Docker(binary=props["docker"]).remove_container(props["spec"]["name"])


SECRET_DIGEST = "secret_files_digest"


def _container_spec(props: dict[str, Any]) -> ContainerSpec:
    shown = {key: _from_engine(value) for key, value in props["spec"].items() if key != "secret_files"}
    return ContainerSpec(**shown, secret_files=tuple(sorted((props.get("secret_files") or {}).items())))


def _outputs(props: dict[str, Any], *, address: str | None) -> dict[str, Any]:
    secret_files = json.dumps(props.get("secret_files") or {}, sort_keys=True)
    outputs = {key: value for key, value in props.items() if key != "secret_files"}
    return {**outputs, SECRET_DIGEST: hashlib.sha256(secret_files.encode()).hexdigest(), "address": address}


def _from_engine(value: Any) -> Any:
    """Inputs come back from the engine with lists for tuples and floats for integers (ports)."""
    if isinstance(value, list):
        return tuple(_from_engine(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _container_props(spec: ContainerSpec) -> dict[str, Any]:
    return {
        "name": spec.name, "image": spec.image, "network": spec.network, "labels": spec.labels, "env": spec.env,
        "secret_files": [path for path, _content in spec.secret_files],
        "publish": [list(p) for p in spec.publish], "volumes": [list(v) for v in spec.volumes],
        "capabilities": list(spec.capabilities),
    }


def _refuse_anothers(docker: Docker, kind: str, name: str, labels: dict[str, str]) -> None:
    """An object of this name that another home (or no envbuilder) made is never taken over."""
    existing = docker_object_trace(docker, kind, name)
    if existing and not existing.is_owned_by(labels.get(OWNER_LABEL, "")):
        raise EnvbuilderError(f"{kind} {name} already exists and is not this home's: {existing.not_owned_because()}")


class _VolumeProvider(ResourceProvider):
    """A named volume whose life is the environment's: created before the containers that mount it,
    removed only when the environment is (down, destroy), never when a container is replaced."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        docker = Docker(binary=props["docker"])
        name, labels = props["name"], props["labels"]
        _refuse_anothers(docker, "volume", name, labels)
        # This home's volume (an interrupted run's, or one a container made before volumes were resources)
        # is kept with its contents.
        docker.create_volume(name, labels)
        return CreateResult(id_=name, outs=props)

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        # The labels name the environment and its owner, which do not change; another name is another volume.
        return _replace_on_any_change(olds, news, ["name"])

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if not Docker(binary=props["docker"]).remove_volume(props["name"]):
            raise EnvbuilderError(f"could not remove volume {props['name']} (is a container still using it?)")


class Volume(Resource):
    """A named Docker volume carrying the environment's labels (the F5's configuration and certificate)."""

    def __init__(self, name: str, *, volume_name: str, labels: dict[str, str], docker_binary: str,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(_VolumeProvider(), name, {"name": volume_name, "labels": labels, "docker": docker_binary}, opts)


class _NetworkProvider(ResourceProvider):
    """The environment's own Docker network, made before its kind nodes, F5 and classic containers join it,
    removed after them (they depend on it)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        docker = Docker(binary=props["docker"])
        name, labels = props["name"], props["labels"]
        _refuse_anothers(docker, "network", name, labels)
        if docker.labels("network", name) is not None:  # this home's, an interrupted run's: kept
            subnets = docker.network_subnets(name)
            if not any(_overlaps(subnet, props["pod_subnet"]) for subnet in subnets):
                return CreateResult(id_=name, outs={**props, "subnets": subnets})
            docker.remove_network(name)  # made by a version that let Docker choose: on the pod network
        for _attempt in range(3):  # another network may take the subnet between the look and the create
            subnet = _free_subnet(docker.subnets_in_use(), props["pod_subnet"])
            if docker.create_network(name, labels, subnet):
                return CreateResult(id_=name, outs={**props, "subnets": [subnet]})
        raise EnvbuilderError(f"could not create network {name}: Docker refused every free subnet offered",
                              hint="retry; if it persists, remove Docker networks nothing uses (docker network ls)")

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        return _replace_on_any_change(olds, news, ["name"])

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        docker = Docker(binary=props["docker"])
        if docker.labels("network", props["name"]) is not None and not docker.remove_network(props["name"]):
            raise EnvbuilderError(f"could not remove network {props['name']} (is a container still attached to it?)")


# Docker hands out its default pools in turn and does not reuse a freed one soon, so after a few dozen networks
# it reaches 192.168.0.0/16, the pod network: the environment's network is given a subnet of its own instead.
NETWORK_SPACE = ipaddress.ip_network("172.16.0.0/12")
NETWORK_PREFIX = 24


def _free_subnet(in_use: list[str], pod_subnet: str) -> str:
    """The first /24 of NETWORK_SPACE that overlaps no Docker network and not the pod network."""
    taken = [ipaddress.ip_network(subnet, strict=False) for subnet in [*in_use, pod_subnet]]
    for candidate in NETWORK_SPACE.subnets(new_prefix=NETWORK_PREFIX):
        if not any(candidate.overlaps(other) for other in taken):
            return str(candidate)
    raise EnvbuilderError(f"no free /{NETWORK_PREFIX} left in {NETWORK_SPACE} for the environment's network",
                          hint="remove Docker networks nothing uses (docker network ls)")


def _overlaps(subnet: str, other: str) -> bool:
    return ipaddress.ip_network(subnet, strict=False).overlaps(ipaddress.ip_network(other, strict=False))


class Network(Resource):
    """A Docker bridge network carrying the environment's labels: its nodes and containers, no one else's."""

    def __init__(self, name: str, *, network_name: str, labels: dict[str, str], pod_subnet: str, docker_binary: str,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"name": network_name, "labels": labels, "pod_subnet": pod_subnet, "docker": docker_binary,
                 "subnets": None}
        super().__init__(_NetworkProvider(), name, props, opts)


class Container(Resource):
    """A plain container on the environment's Docker network (the F5, classic services)."""

    address: pulumi.Output[str]

    def __init__(self, name: str, *, spec: pulumi.Input[ContainerSpec], docker_binary: str,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        spec = pulumi.Output.from_input(spec)
        props = {
            # The spec holds no secret (only the secret files' paths): recorded and shown as it is.
            "spec": pulumi.Output.unsecret(spec.apply(_container_props)),
            "secret_files": pulumi.Output.secret(spec.apply(lambda s: dict(s.secret_files))),
            "docker": docker_binary,
            "address": None,
        }
        super().__init__(_ContainerProvider(), name, props, opts)


__all__ = ["ClusterReady", "Container", "ImagesPushed", "KindCluster", "Network", "RegistryOnNetwork", "Volume"]
