"""The inline Pulumi program of an environment: desired state registered in phase order.

Resource names start with their phase (cluster, cni, images, broker, f5, services), which
is how the progress view and the timeline attribute engine events to phases.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from envbuilder.desired import PENDING_ADDRESSES, Credentials, desired_state, pending_credentials, resolve
from envbuilder.desired.f5 import F5_BGP_ASN
from envbuilder.desired.host import KindNodes
from envbuilder.engine.resources import BgpPeering, ClusterReady, Container, ImagesLoaded, KindCluster, Volume
from envbuilder.engine.stacks import KIND_CLUSTER_RESOURCE, OWNER_OUTPUT
from envbuilder.spec.environment import EnvironmentSpec
from envbuilder.state.records import HostPorts

CONFIG_BROKER_PASSWORD = "brokerPassword"
CONFIG_F5_PASSWORD = "f5Password"


@dataclass(frozen=True)
class ProgramInputs:
    spec: EnvironmentSpec
    ports: HostPorts
    tools: dict[str, str]  # tool name -> path, for the dynamic providers
    kubeconfig: str  # where kind writes the cluster's kubeconfig, or the existing one
    nodes: KindNodes | None  # the kind target's node image and host facts
    calico_manifest: str | None  # when envbuilder installs the pod network (the node image brings none)
    image_ids: dict[str, str]  # image -> ID, to load into kind
    # An earlier run of this stack was killed while creating the kind cluster: what it left is this home's.
    interrupted_cluster_create: bool = False


def environment_program(inputs: ProgramInputs) -> Callable[[], None]:
    def program() -> None:
        register_environment(inputs)

    return program


def register_environment(inputs: ProgramInputs) -> None:
    spec = inputs.spec
    # In a shared backend, the stack says which home it belongs to.
    pulumi.export(OWNER_OUTPUT, spec.owner)
    config = pulumi.Config()
    passwords = pulumi.Output.all(
        config.require_secret(CONFIG_BROKER_PASSWORD), config.require_secret(CONFIG_F5_PASSWORD)
    )
    credentials = passwords.apply(lambda pw: Credentials(broker_password=pw[0], f5_password=pw[1]))
    # The whole environment, computed once. The credentials and the containers' addresses are
    # Outputs, known only while the engine runs: markers stand in for them, and each part that
    # holds one is resolved when they are known.
    state = desired_state(spec, pending_credentials(), inputs.ports, PENDING_ADDRESSES, inputs.nodes)

    cluster_ready: list[pulumi.Resource] = []
    peering: list[pulumi.Resource] = []  # the pod network peered with the F5 (f5_routes: bgp)
    addresses: dict[str, pulumi.Output[str]] = {}
    if spec.target == "kind":
        assert inputs.nodes is not None, "the kind target needs its node facts"
        cluster = KindCluster(
            KIND_CLUSTER_RESOURCE,
            cluster_name=spec.cluster_name,
            config=state.cluster or {},
            node_image=inputs.nodes.image,
            kubeconfig=inputs.kubeconfig,
            kind_binary=inputs.tools["kind"],
            kubectl_binary=inputs.tools["kubectl"],
            owner=spec.owner,
            interrupted_create=inputs.interrupted_cluster_create,
            timeout=spec.profile.timeouts.cluster,
        )
        provider = k8s.Provider("k8s", kubeconfig=Path(inputs.kubeconfig).as_posix(), context=cluster.context,
                                opts=pulumi.ResourceOptions(depends_on=[cluster]))
        # A node image that brings its own pod network has kind install it; otherwise Calico.
        network: list[pulumi.Resource] = [cluster]
        if inputs.calico_manifest:
            network = [k8s.yaml.v2.ConfigFile(
                "cni", file=inputs.calico_manifest, opts=pulumi.ResourceOptions(provider=provider)
            )]
        ready = ClusterReady(
            "cni-ready", kubeconfig=inputs.kubeconfig, context=cluster.context, kubectl=inputs.tools["kubectl"],
            network_daemonset=inputs.nodes.network_daemonset, timeout=spec.profile.timeouts.cni,
            opts=pulumi.ResourceOptions(depends_on=network),
        )
        images = ImagesLoaded(
            "images", cluster=spec.cluster_name, images=inputs.image_ids, kind_binary=inputs.tools["kind"],
            opts=pulumi.ResourceOptions(depends_on=[cluster]),
        )
        cluster_ready = [ready, images]
        # Containers carry secrets (the F5 password, the broker URL), so their specs are Outputs.
        for phase, containers in state.containers.items():
            for container in containers:
                # A volume lives as long as the environment, so it is made with the cluster: a container replaced
                # by a new revision or VIP finds its state again; down removes the volume after the container.
                volumes = [
                    Volume(f"cluster-volume-{volume}", volume_name=volume, labels=container.labels,
                           docker_binary=inputs.tools["docker"])
                    for volume, _path in container.volumes
                ]
                resource = Container(
                    f"{phase}-container-{container.name}",
                    spec=credentials.apply(lambda c, pending=container: resolve(pending, credentials=c)),
                    docker_binary=inputs.tools["docker"],
                    opts=pulumi.ResourceOptions(depends_on=[*cluster_ready, *volumes]),
                )
                addresses[container.name] = resource.address
                if phase == "f5" and spec.profile.f5_routes == "bgp":
                    # Before f5-sync and the services: a cluster-mode pool's members are reachable once added.
                    peering.append(BgpPeering(
                        "f5-bgp-peering", kubeconfig=inputs.kubeconfig, context=cluster.context,
                        kubectl=inputs.tools["kubectl"], daemonset=inputs.nodes.network_daemonset,
                        peer_address=resource.address, peer_asn=F5_BGP_ASN, timeout=spec.profile.timeouts.cni,
                        opts=pulumi.ResourceOptions(depends_on=[resource]),
                    ))
    else:
        provider = k8s.Provider("k8s", kubeconfig=inputs.kubeconfig, context=spec.kube_context)

    k8s_opts = pulumi.ResourceOptions(provider=provider, depends_on=[*cluster_ready, *peering])
    # Only the Secrets depend on the credentials, so only they are secret in the state and previews.
    secret_objects = credentials.apply(lambda c: list(resolve(state.secrets, credentials=c)))
    known_addresses = pulumi.Output.all(**addresses) if addresses else pulumi.Output.from_input({})
    namespace = k8s.yaml.v2.ConfigGroup("namespace", objs=list(resolve(state.groups["namespace"])), opts=k8s_opts)
    after_namespace = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[namespace]))
    secrets = k8s.yaml.v2.ConfigGroup("secrets", objs=pulumi.Output.secret(secret_objects), opts=after_namespace)
    previous: list[pulumi.Resource] = [namespace, secrets]
    for group, objects in state.groups.items():
        if group == "namespace":
            continue
        resource = k8s.yaml.v2.ConfigGroup(
            group,
            objs=known_addresses.apply(lambda known, pending=objects: list(resolve(pending, addresses=known))),
            opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=list(previous))),
        )
        previous.append(resource)


__all__ = ["ProgramInputs", "environment_program", "register_environment"]
