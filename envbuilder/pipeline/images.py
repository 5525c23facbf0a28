"""The images an environment on kind runs: built for its revision when missing, then identified by ID."""

from envbuilder.cluster.commands import check, run
from envbuilder.desired.f5 import F5_MOCK, F5_SYNC
from envbuilder.images.build import build_images, resolve_base_image
from envbuilder.images.revision import Revision
from envbuilder.spec.environment import EnvironmentSpec
from envbuilder.state.home import project_root


def ensure_environment_images(spec: EnvironmentSpec, say=lambda message: None) -> dict[str, str]:
    """Build what is missing; returns the images to load into the nodes, with their IDs.

    The F5 and classic services run as containers beside the cluster, so they are built
    but not loaded into the nodes.
    """
    names = [service.name for service in spec.services] + [F5_MOCK, F5_SYNC]
    base_image = resolve_base_image(None, progress=say)
    build_images(project_root(), Revision.from_name(spec.revision), names, base_image, progress=say)
    in_nodes = [service.image for service in spec.in_cluster] + [spec.component_image(F5_SYNC)]
    return {image: _image_id(image) for image in in_nodes}


def _image_id(image: str) -> str:
    return check(run(["docker", "image", "inspect", "--format", "{{.Id}}", image], timeout=60), f"inspecting {image}").stdout.strip()
