"""The inline Pulumi program of an environment: the desired state registered as a graph of phases.

Each resource is registered with its phase (desired.phases) and waits for the resources of the
phases that one needs; the program keeps which phase each resource is in, for the status lines.
Resource names are the stack's identity for each object: renaming one would replace it.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pulumi
import pulumi_kubernetes as k8s

from envbuilder.desired import PENDING_ADDRESSES, Credentials, desired_state, pending_credentials, resolve
from envbuilder.desired.f5 import F5_BGP_ASN
from envbuilder.cluster.kind import kind_context
from envbuilder.desired.host import POD_SUBNET, KindNodes, network_labels
from envbuilder.desired.phases import Phase
from envbuilder.engine.urns import Urn
from envbuilder.engine.resources import (
    BgpPeering,
    ClusterReady,
    Container,
    ImagesPushed,
    KindCluster,
    Network,
    RegistryOnNetwork,
    Volume,
)
from envbuilder.engine.stacks import KIND_CLUSTER_RESOURCE, OWNER_OUTPUT
from envbuilder.naming import network_name
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
    calico_manifest: str | None  # the pod network is Calico: envbuilder applies this manifest
    images_to_push: dict[str, str]  # image -> ID: what the kind nodes pull through the machine's registry
    # An earlier run of this stack was killed while creating the kind cluster: what it left is this home's.
    interrupted_cluster_create: bool = False


Resource = TypeVar("Resource", bound=pulumi.Resource)


class PhasedResources:
    """The resources a program registered, each in its phase: what a phase's resources wait for, and
    which phase an engine event belongs to."""

    def __init__(self) -> None:
        self._by_phase: dict[Phase, list[pulumi.Resource]] = {}
        self._phase_by_name: dict[str, Phase] = {}

    def add(self, phase: Phase, name: str, resource: Resource) -> Resource:
        self._by_phase.setdefault(phase, []).append(resource)
        self._phase_by_name[name] = phase
        return resource

    def of(self, phase: Phase) -> list[pulumi.Resource]:
        return list(self._by_phase.get(phase, []))

    def needed_by(self, phase: Phase) -> list[pulumi.Resource]:
        """What `phase` waits for: the resources so far registered in the phases it needs."""
        return [resource for needed in phase.needs for resource in self.of(needed)]

    def phase_of(self, urn: str) -> Phase | None:
        """The phase of a resource or of a group's object; None for the stack and the providers."""
        return self._phase_by_name.get(Urn.parse(urn).top_level_name)


class EnvironmentProgram:
    """The inline program. It registers every resource before the engine finishes any, so `phase_of`
    knows each resource by the time its events arrive."""

    def __init__(self, inputs: ProgramInputs) -> None:
        self.inputs = inputs
        self.resources = PhasedResources()

    def __call__(self) -> None:
        self.resources = PhasedResources()
        register_environment(self.inputs, self.resources)

    def phase_of(self, urn: str) -> Phase | None:
        return self.resources.phase_of(urn)


def environment_program(inputs: ProgramInputs) -> EnvironmentProgram:
    return EnvironmentProgram(inputs)


def register_environment(inputs: ProgramInputs, resources: PhasedResources) -> None:
    """Every resource of the environment, each in its phase and waiting only for what its phase needs
    (desired.phases): the F5 and the broker start together once the nodes are Ready."""
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
    register, needed_by = resources.add, resources.needed_by

    if spec.target == "kind":
        assert inputs.nodes is not None, "the kind target needs its node facts"
        nodes = inputs.nodes
        # The environment's own network: its nodes, F5 and classic containers join it, and only they.
        network = register(Phase.CLUSTER, "network", Network(
            "network", network_name=network_name(spec.name), labels=network_labels(spec), pod_subnet=POD_SUBNET,
            docker_binary=inputs.tools["docker"]))
        cluster = register(Phase.CLUSTER, KIND_CLUSTER_RESOURCE, KindCluster(
            KIND_CLUSTER_RESOURCE,
            cluster_name=spec.cluster_name,
            config=state.cluster or {},
            node_image=nodes.image,
            network=network_name(spec.name),
            kubeconfig=inputs.kubeconfig,
            kind_binary=inputs.tools["kind"],
            kubectl_binary=inputs.tools["kubectl"],
            owner=spec.owner,
            interrupted_create=inputs.interrupted_cluster_create,
            timeout=spec.profile.timeouts.cluster,
            opts=pulumi.ResourceOptions(depends_on=[network]),
        ))
        provider = k8s.Provider("k8s", kubeconfig=Path(inputs.kubeconfig).as_posix(), context=cluster.context,
                                opts=pulumi.ResourceOptions(depends_on=[cluster]))
        # Calico is applied here; kube-router, the node image's own, kind installs as its default CNI.
        pod_network: list[pulumi.Resource] = [cluster]
        if inputs.calico_manifest:
            pod_network = [register(Phase.CNI, "cni", k8s.yaml.v2.ConfigFile(
                "cni", file=inputs.calico_manifest, opts=pulumi.ResourceOptions(provider=provider)
            ))]
        register(Phase.CNI, "cni-ready", ClusterReady(
            "cni-ready", kubeconfig=inputs.kubeconfig, context=cluster.context, kubectl=inputs.tools["kubectl"],
            network_daemonset=nodes.network_daemonset, timeout=spec.profile.timeouts.cni,
            opts=pulumi.ResourceOptions(depends_on=pod_network),
        ))
        # Nodes that run pods can pull them: they reach the machine's registry on the environment's network.
        # The images go there while the cluster is made.
        register(Phase.CNI, "registry-network", RegistryOnNetwork(
            "registry-network", network=network_name(spec.name), opts=pulumi.ResourceOptions(depends_on=[network])))
        register(Phase.PUSH, "images", ImagesPushed("images", images=inputs.images_to_push))
    else:
        provider = k8s.Provider("k8s", kubeconfig=inputs.kubeconfig, context=spec.kube_context)

    def containers_of(phase: Phase) -> dict[str, pulumi.Output[str]]:
        """The phase's containers beside the cluster (kind only), each with its address on the cluster network."""
        addresses: dict[str, pulumi.Output[str]] = {}
        for container in state.containers.get(phase, ()):
            # A volume is a resource of its own, not part of the container: a container replaced by a new
            # revision or VIP finds its state again; down removes the volume after the container.
            volumes = [
                register(phase, f"cluster-volume-{volume}", Volume(
                    f"cluster-volume-{volume}", volume_name=volume, labels=container.labels,
                    docker_binary=inputs.tools["docker"], opts=pulumi.ResourceOptions(depends_on=needed_by(phase))))
                for volume, _path in container.volumes
            ]
            name = f"{phase}-container-{container.name}"
            # Containers carry secrets (the F5 password, the broker URL), so their specs are Outputs.
            addresses[container.name] = register(phase, name, Container(
                name,
                spec=credentials.apply(lambda c, pending=container: resolve(pending, credentials=c)),
                docker_binary=inputs.tools["docker"],
                opts=pulumi.ResourceOptions(depends_on=[*needed_by(phase), *volumes]),
            )).address
        return addresses

    # The namespace and the Secrets come before every phase's objects; they count as the broker's.
    namespace = register(Phase.BROKER, "namespace", k8s.yaml.v2.ConfigGroup(
        "namespace", objs=[resolve(state.namespace)],
        opts=pulumi.ResourceOptions(provider=provider, depends_on=needed_by(Phase.BROKER))))
    # Only the Secrets depend on the credentials, so only they are secret in the state and previews.
    secret_objects = credentials.apply(lambda c: list(resolve(state.secrets, credentials=c)))
    secrets = register(Phase.BROKER, "secrets", k8s.yaml.v2.ConfigGroup(
        "secrets", objs=pulumi.Output.secret(secret_objects),
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[namespace])))
    peering: list[pulumi.Resource] = []  # the pod network peered with the F5 (f5_routes: bgp)
    # In phase order, so that what a phase needs is registered before it.
    for phase, objects in state.groups.items():
        addresses = containers_of(phase)
        if phase == Phase.F5 and spec.profile.f5_routes == "bgp" and inputs.nodes is not None:
            # Before f5-sync and the services: a cluster-mode pool's members are reachable once added.
            peering.append(register(Phase.F5, "f5-bgp-peering", BgpPeering(
                "f5-bgp-peering", kubeconfig=inputs.kubeconfig, context=kind_context(spec.cluster_name),
                kubectl=inputs.tools["kubectl"], daemonset=inputs.nodes.network_daemonset,
                peer_address=next(iter(addresses.values())), peer_asn=F5_BGP_ASN,
                timeout=spec.profile.timeouts.cni, opts=pulumi.ResourceOptions(depends_on=resources.of(Phase.F5)),
            )))
        # A group's objects hold the addresses of its phase's containers (an Endpoints to the F5, to a classic one).
        known = pulumi.Output.all(**addresses) if addresses else pulumi.Output.from_input({})
        register(phase, str(phase), k8s.yaml.v2.ConfigGroup(
            str(phase),
            objs=known.apply(lambda known, pending=objects: list(resolve(pending, addresses=known))),
            opts=pulumi.ResourceOptions(provider=provider, depends_on=[
                namespace, secrets, *needed_by(phase), *(peering if phase != Phase.BROKER else [])]),
        ))


__all__ = ["EnvironmentProgram", "PhasedResources", "ProgramInputs", "environment_program", "register_environment"]
