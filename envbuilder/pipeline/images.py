"""The images an environment on kind runs: built from its source when missing, then identified by ID."""

from collections.abc import Callable
from dataclasses import dataclass

from envbuilder.cluster.commands import Runner, run
from envbuilder.cluster.docker import local_image, require_local_image
from envbuilder.desired.f5 import F5_SYNC
from envbuilder.images.broker import resolve_broker_image
from envbuilder.images.build import build_images, remove_superseded, resolve_base_image
from envbuilder.images.revision import Revision
from envbuilder.spec.environment import EnvironmentSpec
from envbuilder.state.home import project_root
from envbuilder.state.records import read_records


@dataclass(frozen=True)
class EnvironmentImages:
    broker: str | None  # the image the broker runs; None when no service needs a broker
    to_load: dict[str, str]  # image -> ID, to load into the nodes


def ensure_environment_images(
    spec: EnvironmentSpec,
    source: Revision | None,
    say: Callable[[str], None] = lambda message: None,
    runner: Runner = run,
) -> EnvironmentImages:
    """Build what is missing from `source` (None: the images must exist, as the record names them) and
    choose the broker's image; returns what to load into the nodes, with IDs.

    The F5 and classic services run as containers beside the cluster, so they are built
    but not loaded into the nodes.
    """
    if source is not None:
        def base_image() -> str:
            return resolve_base_image(None, progress=say)

        for image in build_images(project_root(), source, list(spec.images), base_image, progress=say):
            if image.built:
                say(f"{image.tag}: built in {image.seconds:.1f} s")
    in_nodes = [service.image for service in spec.in_cluster] + [spec.component_image(F5_SYNC)]
    to_load = {image: require_local_image(image, runner).id for image in in_nodes}
    broker = resolve_broker_image(spec.profile.broker.image, progress=say) if spec.needs_broker else None
    if broker:
        # A broker image docker holds goes into the nodes, which may reach no registry; any other they pull.
        held = local_image(broker, runner)
        if held:
            to_load[broker] = held.id
    return EnvironmentImages(broker, to_load)


def remove_superseded_images(spec: EnvironmentSpec, runner: Runner = run) -> list[str]:
    """After an `up`: this home's images of earlier edits that none of its environments runs any more
    (nothing, while a record cannot be read: what it runs is unknown)."""
    records, unreadable = read_records()
    if unreadable:
        return []
    keep = set(spec.images.values()) | {image for record in records for image in record.images.values()}
    return remove_superseded(spec.images, keep, runner)
