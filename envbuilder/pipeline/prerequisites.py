"""Everything `up` needs, checked before anything is created: one message per missing piece."""

from dataclasses import dataclass

from envbuilder.cluster.tools import require_docker_running, require_memory, require_tools
from envbuilder.desired.host import KindNodes
from envbuilder.spec.environment import EnvironmentSpec

BASE_MEMORY_GIB = 2.0
MEMORY_PER_WORKER_GIB = 1.0


@dataclass(frozen=True)
class Prerequisites:
    tools: dict[str, str]
    nodes: KindNodes | None  # the kind target only
    calico_manifest: str | None  # when envbuilder installs the pod network


def check_prerequisites(spec: EnvironmentSpec, node_image: str | None = None, creating: bool = True) -> Prerequisites:
    if spec.target == "existing":
        tools = require_tools(["pulumi", "kubectl"])
        return Prerequisites({name: str(path) for name, path in tools.items()}, None, None)

    from envbuilder.cluster.node_image import choose_node_image, docker_cgroup_version, require_privileged_containers
    from envbuilder.engine.calico import calico_manifest

    tools = require_tools(["docker", "kind", "pulumi", "kubectl"])
    require_docker_running(tools["docker"])
    require_memory(BASE_MEMORY_GIB + MEMORY_PER_WORKER_GIB * spec.profile.workers)
    image = choose_node_image(spec.profile.node_image_candidates(node_image))
    # Before a cluster is created (an update finds its nodes running): with an image Docker
    # has; else kind pulls it, and says itself if privileged containers fail.
    if creating and image.present:
        require_privileged_containers(image.name)
    nodes = KindNodes(image.name, bundled_cni=image.bundled_cni, cgroup_v1=docker_cgroup_version() == "1")
    manifest = None if nodes.bundled_cni else str(calico_manifest(spec.profile.calico_version))
    return Prerequisites({name: str(path) for name, path in tools.items()}, nodes, manifest)
