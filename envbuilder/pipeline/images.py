"""The images an environment on kind runs: built from its source when missing, and the machine's registry
they are pushed to, running."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from envbuilder.cluster.commands import CommandFailed, Runner, run
from envbuilder.cluster.docker import local_image, require_local_image
from envbuilder.desired.f5 import F5_SYNC
from envbuilder.desired.host import registry_mirror_hosts
from envbuilder.images.broker import resolve_broker_image
from envbuilder.images.build import build_images, built_here, remove_images, resolve_base_image
from envbuilder.images.registry import Registry, registry_image
from envbuilder.images.revision import DIRTY_MARKER, Revision
from envbuilder.naming import registry_reference
from envbuilder.spec.environment import EnvironmentSpec
from envbuilder.state.home import project_root, registry_hosts_dir
from envbuilder.state.records import UnreadableRecord, read_records


@dataclass(frozen=True)
class EnvironmentImages:
    # The image the broker's pods run (the registry's name for it when it is pushed); None when no
    # service needs a broker.
    broker: str | None
    to_push: dict[str, str]  # image -> ID: what the nodes pull through the machine's registry


def ensure_environment_images(
    spec: EnvironmentSpec,
    source: Revision | None,
    say: Callable[[str], None] = lambda message: None,
    runner: Runner = run,
) -> EnvironmentImages:
    """Build what is missing from `source` (None: the images must exist, as the record names them) and
    choose the broker's image; returns what to push to the machine's registry, with IDs.

    The F5 and classic services run as containers beside the cluster, from Docker's own images:
    built, but not pushed.
    """
    if source is not None:
        def base_image() -> str:
            return resolve_base_image(None, progress=say)

        for image in build_images(project_root(), source, list(spec.images), base_image, progress=say):
            if image.built:
                say(f"{image.tag}: built in {image.seconds:.1f} s")
    in_nodes = [service.image for service in spec.in_cluster] + [spec.component_image(F5_SYNC)]
    to_push = {image: require_local_image(image, runner).id for image in in_nodes}
    broker = resolve_broker_image(spec.profile.broker.image, progress=say) if spec.needs_broker else None
    if broker and "@" not in broker:
        # A broker image Docker holds goes through the registry, as the nodes may reach no other; any other
        # (or one pinned by digest, which cannot be tagged for the registry) they pull from its own registry.
        held = local_image(broker, runner)
        if held:
            to_push[broker] = held.id
            broker = registry_reference(broker)
    return EnvironmentImages(broker, to_push)


def ensure_machine_registry(say: Callable[[str], None] = lambda message: None, runner: Runner = run) -> None:
    """The machine's registry running (the engine joins it to the environment's network), and the hosts
    files this home's nodes mount in place, all before the engine runs."""
    Registry(runner=runner).ensure(lambda: registry_image(runner, say))
    for path, content in registry_mirror_hosts().items():
        target = registry_hosts_dir() / path
        if not target.is_file() or target.read_text() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)


def remove_superseded_images(spec: EnvironmentSpec, runner: Runner = run) -> list[str]:
    """After an `up` on kind: this home's images of earlier edits (`-dirty-` tags) that none of its environments
    runs any more. A commit's images stay: environments of other homes on the same commit share them, even
    while this `up` runs (`envbuilder images prune` removes them)."""
    try:
        keep = _images_in_use() | set(spec.images.values())
        built = built_here(runner)
    except (UnreadableRecord, CommandFailed):  # the environment is up: its images are left for the next `up`
        return []
    return _remove([reference for reference in built if DIRTY_MARKER in reference and reference not in keep], runner)


def prune_images(current: Iterable[str], runner: Runner = run) -> list[str]:
    """`envbuilder images prune`: every image this home built that none of its environments runs and that is
    not `current` (what the working tree builds now, which the next `up` runs)."""
    keep = _images_in_use() | set(current)
    return _remove([reference for reference in built_here(runner) if reference not in keep], runner)


def _images_in_use() -> set[str]:
    """The images this home's environments run; a record that cannot be read raises (what it runs is unknown,
    so nothing is removed)."""
    records, unreadable = read_records()
    if unreadable:
        raise unreadable[0]
    return {image for record in records for image in record.images.values()}


def _remove(references: list[str], runner: Runner) -> list[str]:
    """From Docker; an edit's image also from the machine's registry, where a commit's may serve another home's
    environment on that commit."""
    removed = remove_images(references, runner)
    registry = Registry(runner=runner)
    for image in removed:
        if DIRTY_MARKER in image:
            registry.delete(image)
    return removed
