"""Which pod network a kind environment runs, and its objects as `up` installs them.

Calico, as production runs, wherever its pinned manifest can be had (configured, cached or
fetched) and the nodes can pull its images (a container registry answers); else kube-router,
which only the node image `make node-image` builds brings (as kind's default CNI). An
environment keeps the pod network it was created with: a CNI is not swapped under a cluster.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envbuilder.cluster.node_image import NodeImage
from envbuilder.errors import InputError, PrerequisiteError
from envbuilder.spec.profile import PodNetwork


@dataclass(frozen=True)
class PodNetworkChoice:
    network: PodNetwork
    reason: str  # why this one: said on the prerequisites status line and kept in the record
    calico_manifest: str | None  # the file envbuilder applies (Calico); None: kind installs the node image's

    def __str__(self) -> str:
        return f"pod network {self.network} ({self.reason})"


def choose_pod_network(
    requested: PodNetwork | None,
    kept: PodNetwork | None,
    image: NodeImage,
    calico_version: str,
    calico_manifest: Callable[[str], Path],
    registry_reachable: Callable[[], bool],
) -> PodNetworkChoice:
    """`requested` is --pod-network; `kept` the pod network of the environment being updated."""
    if kept and requested and requested != kept:
        raise InputError(
            f"this environment runs the pod network {kept}; a cluster's pod network cannot be changed in place",
            hint=f"keep --pod-network {kept}, or remove the environment first (envbuilder down)",
        )
    if kept:
        return _chosen(kept, "the environment's own, kept on update", image, calico_version, calico_manifest)
    if requested:
        if requested is PodNetwork.CALICO and not registry_reachable():
            raise PrerequisiteError(
                "--pod-network calico: no container registry answers, so the nodes cannot pull Calico's images",
                hint="--pod-network kube-router runs without a registry (make node-image builds its node image)",
            )
        return _chosen(requested, "--pod-network", image, calico_version, calico_manifest)
    calico_missing = _why_calico_cannot_be_had(calico_version, calico_manifest, registry_reachable)
    if calico_missing is None:
        return _chosen(PodNetwork.CALICO, "the default: its manifest and images can be had", image, calico_version,
                       calico_manifest)
    if image.bundled_cni == PodNetwork.KUBE_ROUTER.daemonset:
        return PodNetworkChoice(PodNetwork.KUBE_ROUTER, f"Calico cannot be had here: {calico_missing}; the node image "
                                                        "brings kube-router", None)
    raise PrerequisiteError(
        f"no pod network can be had: Calico cannot ({calico_missing}), and the node image {image.name} brings none",
        hint="make node-image builds a node image that brings kube-router (docs/node-image.md)",
    )


def _chosen(network: PodNetwork, reason: str, image: NodeImage, calico_version: str,
            calico_manifest: Callable[[str], Path]) -> PodNetworkChoice:
    if network is PodNetwork.CALICO:
        return PodNetworkChoice(network, reason, str(calico_manifest(calico_version)))
    if image.bundled_cni != PodNetwork.KUBE_ROUTER.daemonset:
        raise PrerequisiteError(
            f"kube-router comes only with the node image `make node-image` builds; {image.name} brings no pod network",
            hint="run make node-image (docs/node-image.md), or choose --pod-network calico",
        )
    return PodNetworkChoice(network, reason, None)


def _why_calico_cannot_be_had(calico_version: str, calico_manifest: Callable[[str], Path],
                              registry_reachable: Callable[[], bool]) -> str | None:
    if not registry_reachable():
        return "no container registry answers, so the nodes cannot pull its images"
    try:
        calico_manifest(calico_version)
    except PrerequisiteError as error:
        return str(error)
    return None


def resolve_pod_network(requested: PodNetwork | None, kept: PodNetwork | None, image: NodeImage,
                        calico_version: str) -> PodNetworkChoice:
    from envbuilder.cluster.calico import calico_manifest
    from envbuilder.images.build import registry_reachable

    return choose_pod_network(requested, kept, image, calico_version, calico_manifest, registry_reachable)


def pod_network_documents(choice: PodNetworkChoice, node_image: str) -> list[dict]:
    """The pod network's objects as the cluster gets them: Calico's pinned manifest, or the node image's own."""
    import yaml

    from envbuilder.cluster.node_image import default_cni_manifest

    text = Path(choice.calico_manifest).read_text() if choice.calico_manifest else default_cni_manifest(node_image)
    return [document for document in yaml.safe_load_all(text) if document]
