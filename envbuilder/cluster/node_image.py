"""Which kind node image an environment runs, and what the host's Docker can do with it.

Online, kind's published image for the profile's Kubernetes version. Where no container
registry is reachable, the image `make node-image` builds (tools/node-image/build.sh): it
carries labels that say which pod network it installs itself as kind's default CNI.
"""

from dataclasses import dataclass

from envbuilder.cluster.commands import Runner, run
from envbuilder.cluster.docker import local_image
from envbuilder.errors import PrerequisiteError

# Set by tools/node-image/build.sh: the key of the image's inputs, and the DaemonSet (in
# kube-system) of the pod network the image installs as kind's default CNI.
KEY_LABEL = "dev.envbuilder.node-image.key"
CNI_LABEL = "dev.envbuilder.node-image.cni"
# Where kind reads the default CNI's manifest in a node image (the offline image's is kube-router's).
DEFAULT_CNI_MANIFEST = "/kind/manifests/default-cni.yaml"


@dataclass(frozen=True)
class NodeImage:
    name: str
    present: bool  # Docker has it (else kind pulls it)
    bundled_cni: str | None  # the pod network's DaemonSet when the image installs its own


def choose_node_image(candidates: list[str], runner: Runner = run) -> NodeImage:
    """The first of `candidates` (Profile.node_image_candidates) that Docker has, else the last: kind pulls it."""
    for name in candidates:
        image = local_image(name, runner)
        if image is not None:
            return NodeImage(name, present=True, bundled_cni=image.labels.get(CNI_LABEL) or None)
    return NodeImage(candidates[-1], present=False, bundled_cni=None)


def default_cni_manifest(image: str, runner: Runner = run) -> str:
    """The pod network manifest kind installs from `image` (`render` writes it as `up` would get it)."""
    result = runner(["docker", "run", "--rm", "--network", "none", "--entrypoint", "cat", image, DEFAULT_CNI_MANIFEST],
                    timeout=120)
    if not result.ok:
        cause = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        raise PrerequisiteError(f"cannot read {DEFAULT_CNI_MANIFEST} from the node image {image}: {cause}")
    return result.stdout


def docker_cgroup_version(runner: Runner = run) -> str:
    """"1" or "2": the cgroup version of the Docker host, which the kind nodes share."""
    return runner(["docker", "info", "--format", "{{.CgroupVersion}}"], timeout=30).stdout.strip() or "1"


def require_privileged_containers(image: str, runner: Runner = run) -> None:
    """kind nodes are privileged containers: prove Docker can start one before creating anything."""
    result = runner(
        ["docker", "run", "--rm", "--privileged", "--network", "none", "--entrypoint", "true", image], timeout=120
    )
    if result.ok:
        return
    cause = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
    hint = "see docs/troubleshooting.md, 'Privileged containers fail'"
    if "apply caps" in result.stderr:
        hint = (
            "this host withholds a capability (often CAP_SYS_RESOURCE on VMs) that Docker asks for every "
            "privileged container; `sudo bash tools/host/prepare-docker.sh` registers a runc wrapper that "
            "leaves it out (docs/troubleshooting.md, 'Privileged containers fail')"
        )
    raise PrerequisiteError(f"Docker cannot start a privileged container, which every kind node is: {cause}", hint=hint)
