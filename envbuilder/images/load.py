"""Loading images into a kind cluster's nodes, skipping every node that already holds the same image ID.

`kind load` ships the whole image to each node it is given; comparing the image ID docker has with
the one each node's containerd reports means an unchanged image costs one `crictl` call per node.
"""

import json
from dataclasses import dataclass, field

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.cluster.docker import require_local_image
from envbuilder.cluster.kind import Kind


def qualified_reference(image: str) -> str:
    """The reference as containerd records it: `envbuilder/web:abc` is `docker.io/envbuilder/web:abc`."""
    first, _, rest = image.partition("/")
    if not rest:
        return f"docker.io/library/{image}"
    if "." in first or ":" in first or first == "localhost":
        return image
    return f"docker.io/{image}"


def node_image_ids(crictl_images_json: str) -> dict[str, str]:
    """Reference -> image ID from `crictl images --output json`."""
    ids = {}
    for image in json.loads(crictl_images_json).get("images") or []:
        for reference in image.get("repoTags") or []:
            ids[reference] = image["id"]
    return ids


def nodes_needing(image: str, image_id: str, images_by_node: dict[str, dict[str, str]]) -> list[str]:
    """Nodes where the reference is missing or names another image ID."""
    reference = qualified_reference(image)
    return [node for node, ids in images_by_node.items() if ids.get(reference) != image_id]


@dataclass
class ImageLoader:
    cluster: str
    kind: Kind = field(default_factory=Kind)
    runner: Runner = run  # for docker

    def load(self, images: list[str]) -> dict[str, list[str]]:
        """Load each image where it is missing; returns image -> the nodes it was loaded into.

        Images missing from the same nodes go in one `kind load`, so their shared base layers
        are saved and imported once rather than once per image.
        """
        images_by_node = {node: self._images_on(node) for node in self.kind.nodes(self.cluster)}
        loaded = {
            image: nodes_needing(image, require_local_image(image, self.runner).id, images_by_node) for image in images
        }
        by_nodes: dict[tuple[str, ...], list[str]] = {}
        for image, missing in loaded.items():
            if missing:
                by_nodes.setdefault(tuple(missing), []).append(image)
        for nodes, group in by_nodes.items():
            self.kind.load_images(self.cluster, group, list(nodes))
        return loaded

    def _images_on(self, node: str) -> dict[str, str]:
        result = self.runner(["docker", "exec", node, "crictl", "images", "--output", "json"], timeout=60)
        return node_image_ids(check(result, f"listing images on node {node}").stdout)
