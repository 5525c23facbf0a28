"""How `list` and `status` present an environment record."""

from datetime import UTC, datetime, timedelta

from envbuilder.cluster.commands import Runner, run
from envbuilder.errors import EnvbuilderError
from envbuilder.state.home import project_root
from envbuilder.state.records import EnvironmentRecord, UnreadableRecord


def humanize(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes = seconds // 60
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m"


def environment_summary(record: EnvironmentRecord, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    return {
        "name": record.name,
        "status": record.status,
        "message": record.message,
        "target": record.target,
        "services": record.services,
        "revision": record.revision,
        "owner": record.owner,
        "created_at": record.created_at.isoformat(),
        "expires_at": record.expires_at.isoformat(),
        "age": humanize(now - record.created_at),
        "time_left": humanize(record.time_left(now)),
        "expired": record.expired(now),
    }


def unreadable_summary(error: UnreadableRecord) -> dict:
    """A record file that cannot be read, as `list --json` shows it beside the others."""
    return {"name": error.path.stem, "status": "unreadable", "record": str(error.path), "message": error.reason}


def environment_details(record: EnvironmentRecord) -> dict:
    vips = {service: f"http://127.0.0.1:{port}" for service, port in record.ports.vips.items()}
    return {
        **environment_summary(record),
        "profile": record.profile,
        "namespace": record.namespace,
        "kube_context": record.kube_context,
        "kubeconfig": record.kubeconfig,
        "backend_url": record.backend_url or "local (this home)",
        "owner_id": record.owner_id,
        "f5_api": f"https://127.0.0.1:{record.ports.f5_api}" if record.target == "kind" else None,
        "vips": vips,
        "broker": f"amqp://127.0.0.1:{record.ports.broker}" if record.target == "kind" else None,
        "node_image": record.node_image,
        "pod_network": f"{record.pod_network} ({record.pod_network_reason})" if record.pod_network_reason
        else record.pod_network,
        "images": record.images,
        "overrides": record.overrides,
        "replicas": record.replicas,
        "live_changes": record.live_changes,
        "phases": [
            {"name": p.name, "status": p.status, "seconds": round(p.seconds, 1) if p.seconds is not None else None}
            for p in record.phases
        ],
    }


def images_behind_the_tree(images: dict[str, str], runner: Runner = run) -> dict[str, dict[str, str | None]] | None:
    """Name -> the image running and the one the working tree would run now (None: the tree has no such
    image any more), for each of `images` that differs; None when the tree cannot be read (no git
    repository, git missing)."""
    from envbuilder.images.build import image_references
    from envbuilder.images.revision import current_revision

    try:
        tree = image_references(project_root(), current_revision(project_root(), runner))
    except EnvbuilderError:
        return None
    return {name: {"running": running, "tree": tree.get(name)} for name, running in images.items()
            if tree.get(name) != running}
