"""What runs on the host beside the cluster: the kind cluster itself and plain containers.

The F5 stands outside the cluster like the appliance, and classic services stand in for
VM-based ones: both are containers on the environment's own Docker network, which its kind
nodes sit on too (not Docker's shared `kind` network, where any container of another
environment or user would reach the F5's API and BGP port).
"""

from dataclasses import dataclass

import yaml

from envbuilder.cluster.docker import ContainerSpec
from f5mock import contract as f5mock
from envbuilder.desired.broker import BROKER_NODE_PORT, amqp_url
from envbuilder.desired.f5 import F5_BGP_ASN, F5_MOCK, F5_PASSWORD_FILE, F5_USERNAME
from envbuilder.desired.meta import CODE_RESET_ANNOTATION, MANAGED_BY, identity_labels, secret_path
from envbuilder.desired.services import AMQP_URL_FILE, AMQP_URL_FILE_VARIABLE, service_settings
from envbuilder.naming import (
    REGISTRY_CONTAINER,
    REGISTRY_CONTAINER_PORT,
    REGISTRY_PORT,
    classic_container_name,
    control_plane_node,
    f5_container_name,
    f5_state_volume_name,
    kind_node_names,
    network_name,
)
from envbuilder.spec.catalog import F5_API_PORT
from envbuilder.spec.environment import EnvironmentSpec, ServiceSpec
from envbuilder.spec.profile import PodNetwork
from envbuilder.state.home import registry_hosts_dir
from envbuilder.state.records import HostPorts

POD_SUBNET = "192.168.0.0/16"  # Calico's default pool; kube-router takes each node's share of it
# Where each node's containerd reads its registry hosts files: the host's registry_hosts_dir(), mounted.
CONTAINERD_HOSTS_DIR = "/etc/containerd/certs.d"


@dataclass(frozen=True)
class KindNodes:
    """What the host decides about the kind nodes before anything is created (pipeline/prerequisites)."""

    image: str
    # Calico: envbuilder applies its manifest; kube-router: the node image installs it as kind's default CNI.
    pod_network: PodNetwork = PodNetwork.CALICO
    # kubelet 1.35 refuses cgroup v1 hosts unless told otherwise.
    cgroup_v1: bool = False

    @property
    def network_daemonset(self) -> str:
        return self.pod_network.daemonset

    @property
    def kind_installs_pod_network(self) -> bool:
        return self.pod_network is PodNetwork.KUBE_ROUTER

    def bgp_peering_refusal(self) -> str | None:
        """Why the F5 cannot learn pod routes over BGP from this pod network, if it cannot."""
        if self.pod_network is PodNetwork.KUBE_ROUTER:
            return None
        return (
            f"f5_routes: bgp is done for kube-router, not {self.pod_network}; "
            "with Calico use f5_routes: static, or --pod-network kube-router (docs/f5-sync.md says how a BGPPeer would do it)"
        )


def container_labels(spec: EnvironmentSpec, component: str) -> dict[str, str]:
    return {**MANAGED_BY, **identity_labels(spec), "envbuilder.io/component": component}


def registry_mirror_hosts() -> dict[str, str]:
    """containerd's hosts files (path under CONTAINERD_HOSTS_DIR -> content) that send a node's pulls of
    `localhost:<port>/...` to the machine's registry, by its name on the cluster's Docker network."""
    registry = f"localhost:{REGISTRY_PORT}"
    return {f"{registry}/hosts.toml": (
        f'server = "http://{registry}"\n\n'
        f'[host."http://{REGISTRY_CONTAINER}:{REGISTRY_CONTAINER_PORT}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
    )}


def network_labels(spec: EnvironmentSpec) -> dict[str, str]:
    """The labels of the environment's Docker network (`naming.network_name`): found, removed and counted
    as a leftover like its containers."""
    return container_labels(spec, "network")


def kind_cluster_config(spec: EnvironmentSpec, ports: HostPorts | None, nodes: KindNodes) -> dict:
    """kind's own config: kind's default CNI (the node image's kube-router) only when it is the
    chosen pod network, else none (envbuilder applies Calico), the broker's NodePort on the host,
    kubelet allowed on cgroup v1 hosts, and containerd pulling `localhost:<port>/...` through the
    machine's registry (kind's documented way: hosts files in containerd's config_path, here the
    host's directory of them, mounted read-only).

    Every node carries the environment's identity labels: kind cannot label its node
    containers, so a cluster's owner is read from its nodes.
    """
    mirror = {"hostPath": str(registry_hosts_dir()), "containerPath": CONTAINERD_HOSTS_DIR, "readOnly": True}
    control_plane: dict = {"role": "control-plane", "labels": identity_labels(spec), "extraMounts": [mirror]}
    if ports:
        control_plane["extraPortMappings"] = [
            {"containerPort": BROKER_NODE_PORT, "hostPort": ports.broker, "listenAddress": "127.0.0.1"}
        ]
    config: dict = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": spec.cluster_name,
        "networking": {"disableDefaultCNI": not nodes.kind_installs_pod_network, "podSubnet": POD_SUBNET},
        "nodes": [control_plane] + [
            {"role": "worker", "labels": identity_labels(spec), "extraMounts": [mirror]} for _ in range(spec.profile.workers)
        ],
        "containerdConfigPatches": [
            f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{CONTAINERD_HOSTS_DIR}"'
        ],
    }
    if nodes.cgroup_v1:
        config["kubeadmConfigPatches"] = [
            yaml.safe_dump({"kind": "KubeletConfiguration", "failCgroupV1": False}, sort_keys=False)
        ]
    return config


def f5_container(spec: EnvironmentSpec, ports: HostPorts | None, password: str) -> ContainerSpec:
    publish = [((ports.f5_api if ports else 0), F5_API_PORT)]
    for service in spec.exposed:
        assert service.entry.expose
        publish.append(((ports.vips.get(service.name, 0) if ports else 0), service.entry.expose.vip_port))
    return ContainerSpec(
        name=f5_container_name(spec.name),
        image=spec.component_image(F5_MOCK),
        network=network_name(spec.name),
        labels=container_labels(spec, "f5"),
        env={
            f5mock.USERNAME_VARIABLE: F5_USERNAME,
            f5mock.PASSWORD_FILE_VARIABLE: secret_path(F5_PASSWORD_FILE),
            # The nodes connect to it on the environment's network (port 179), so nothing is published.
            **(bgp_settings(spec) if spec.profile.f5_routes == "bgp" else {}),
        },
        secret_files=((secret_path(F5_PASSWORD_FILE), password),),
        publish=tuple(publish),
        volumes=((f5_state_volume_name(spec.name), "/var/lib/f5-mock"),),
        # The routes to the pod network (through the nodes), written by f5-sync or learned over BGP,
        # go into its routing table.
        capabilities=("NET_ADMIN",),
    )


def bgp_settings(spec: EnvironmentSpec) -> dict[str, str]:
    """The F5 speaks BGP with the environment's own kind nodes only (by container name: their
    addresses are known once the cluster runs); another environment's nodes are refused."""
    return {
        f5mock.BGP_ASN_VARIABLE: str(F5_BGP_ASN),
        f5mock.BGP_PEERS_VARIABLE: ",".join(kind_node_names(spec.name, spec.profile.workers)),
    }


def classic_container(spec: EnvironmentSpec, service: ServiceSpec, broker_password: str) -> ContainerSpec:
    """A classic service reaches the broker like a VM would: through a node's NodePort."""
    env = service_settings(spec, service)
    secret_files: tuple[tuple[str, str], ...] = ()
    if service.entry.needs_broker:
        env[AMQP_URL_FILE_VARIABLE] = secret_path(AMQP_URL_FILE)
        url = amqp_url(control_plane_node(spec.name), BROKER_NODE_PORT, broker_password)
        secret_files = ((secret_path(AMQP_URL_FILE), url),)
    labels = container_labels(spec, service.name)
    if spec.code_resets.get(service.name):  # a changed label replaces the container
        labels[CODE_RESET_ANNOTATION] = str(spec.code_resets[service.name])
    return ContainerSpec(
        name=classic_container_name(spec.name, service.name),
        image=service.image,
        network=network_name(spec.name),
        labels=labels,
        env=env,
        secret_files=secret_files,
    )

