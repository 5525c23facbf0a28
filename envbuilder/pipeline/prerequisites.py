"""Everything `up` needs, checked before anything is created: one message per missing piece."""

from dataclasses import dataclass

from envbuilder.cluster.ownership import Trace
from envbuilder.cluster.tools import require_docker_running, require_memory, require_tools
from envbuilder.desired.host import KindNodes
from envbuilder.errors import InputError, PrerequisiteError
from envbuilder.pipeline.pod_network import PodNetworkChoice, resolve_pod_network
from envbuilder.spec.environment import EnvironmentSpec
from envbuilder.spec.profile import PodNetwork

BASE_MEMORY_GIB = 2.0
MEMORY_PER_WORKER_GIB = 1.0
# Pulumi finds the plugin in its own cache when none is on PATH; one on PATH must be within its skew.
PLUGINS = ("pulumi-resource-kubernetes",)


@dataclass(frozen=True)
class Prerequisites:
    tools: dict[str, str]
    nodes: KindNodes | None  # the kind target only
    pod_network: PodNetworkChoice | None  # the kind target only


def check_prerequisites(spec: EnvironmentSpec, node_image: str | None = None, creating: bool = True,
                        pod_network: PodNetwork | None = None, kept_pod_network: PodNetwork | None = None) -> Prerequisites:
    """`pod_network` is --pod-network; `kept_pod_network` the one an environment being updated runs."""
    if spec.target == "existing":
        tools = require_tools(["pulumi", "kubectl"], if_present=PLUGINS)
        if creating:
            _refuse_names_of_another_home(spec, _namespace_traces(spec, str(tools["kubectl"])))
        return Prerequisites({name: str(path) for name, path in tools.items()}, None, None)

    from envbuilder.cluster.node_image import choose_node_image, docker_cgroup_version, require_privileged_containers

    tools = require_tools(["docker", "kind", "pulumi", "kubectl"], if_present=PLUGINS)
    require_docker_running(tools["docker"])
    require_memory(BASE_MEMORY_GIB + MEMORY_PER_WORKER_GIB * spec.profile.workers)
    if creating:
        _refuse_names_of_another_home(spec, _kind_traces(spec, {name: str(path) for name, path in tools.items()}))
    image = choose_node_image(spec.profile.node_image_candidates(node_image))
    # Before a cluster is created (an update finds its nodes running): with an image Docker
    # has; else kind pulls it, and says itself if privileged containers fail.
    if creating and image.present:
        require_privileged_containers(image.name)
    choice = resolve_pod_network(pod_network, kept_pod_network, image, spec.profile.calico_version)
    nodes = KindNodes(image.name, pod_network=choice.network, cgroup_v1=docker_cgroup_version() == "1")
    if spec.profile.f5_routes == "bgp" and (refusal := nodes.bgp_peering_refusal()):
        raise PrerequisiteError(refusal)
    return Prerequisites({name: str(path) for name, path in tools.items()}, nodes, choice)


def _refuse_names_of_another_home(spec: EnvironmentSpec, traces: list[Trace]) -> None:
    """The names an environment takes on this machine or cluster (kind cluster, containers, volumes,
    namespace) held by objects proven not this home's: `up` stops before it makes or adopts anything.
    A kind cluster whose owner cannot be read is the engine's to judge (it may be this home's
    interrupted create)."""
    taken = [trace for trace in traces if trace.owner != spec.owner and (trace.owner or trace.kind == "namespace")]
    if taken:
        raise InputError(
            f"cannot create environment {spec.name}: its names are taken by objects that are not this home's:\n  "
            + "\n  ".join(f"{trace}: {trace.not_owned_because()}" for trace in taken),
            hint="choose another --name; nothing was created and nothing was touched",
        )


def _namespace_traces(spec: EnvironmentSpec, kubectl: str) -> list[Trace]:
    from envbuilder.cluster.kubectl import kubectl_command
    from envbuilder.cluster.ownership import namespace_trace
    from envbuilder.kubeconfig import default_kubeconfig

    trace = namespace_trace(kubectl_command(kubectl, default_kubeconfig(), spec.kube_context), spec.namespace)
    return [trace] if trace else []


def _kind_traces(spec: EnvironmentSpec, tools: dict[str, str]) -> list[Trace]:
    from envbuilder.cluster.docker import Docker
    from envbuilder.cluster.kind import Kind
    from envbuilder.cluster.ownership import docker_traces, kind_cluster_traces

    return [*kind_cluster_traces(Kind(binary=tools["kind"]), tools["kubectl"], spec.name),
            *docker_traces(Docker(binary=tools["docker"]), spec.name)]
