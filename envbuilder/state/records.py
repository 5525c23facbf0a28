"""Environment records: one JSON file per environment under `$ENVBUILDER_HOME/environments/`.

A record is written before anything is created, so an interrupted `up` always leaves a
name that `down`, `status` and `reap` can find.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError, field_validator

from envbuilder.errors import InputError
from envbuilder.state.files import write_atomically
from envbuilder.state.home import state_home

Status = Literal["creating", "ready", "failed", "deleting"]


class PhaseRecord(BaseModel):
    """One phase of `up` (cluster, CNI, broker, F5, images, services, smoke) and how long it took."""

    name: str
    started_at: datetime
    finished_at: datetime | None = None
    status: Literal["running", "passed", "failed"] = "running"

    @property
    def seconds(self) -> float | None:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None


class HostPorts(BaseModel):
    """Ports on 127.0.0.1 of this machine that belong to the environment."""

    f5_api: int
    broker: int
    vips: dict[str, int] = {}


class EnvironmentRecord(BaseModel):
    """Everything later commands (status, smoke, scale, down, reap) need to find the environment again."""

    name: str
    owner: str  # the user who made it
    owner_id: str  # the home whose objects these are (envbuilder.state.identity)
    created_at: datetime
    ttl_seconds: int
    profile: str
    services: list[str]
    revision: str
    # Name -> reference of each image of envbuilder's it runs (services, F5 components); tags name content.
    images: dict[str, str] = {}
    target: Literal["kind", "existing"]
    namespace: str
    kube_context: str | None = None
    kubeconfig: str | None = None
    node_image: str | None = None  # the kind target's
    # The kind target's pod network (spec.profile.PodNetwork: calico, kube-router) and why it was
    # chosen; an existing cluster's network is its owner's business.
    pod_network: str | None = None
    pod_network_reason: str | None = None
    backend_url: str | None = None  # the Pulumi backend holding its stack; None: this home's local backend
    ports: HostPorts
    overrides: dict[str, dict[str, str]] = {}
    replicas: dict[str, int] = {}
    # What the smoke checks need, as `up` resolved it, so they never read a catalog or profile that
    # changed on disk since: the catalog entries of its services (spec.catalog.ServiceEntry as JSON),
    # the kind target's node count and the profile's timeouts.smoke.
    catalog: list[dict[str, Any]] = []
    node_count: int | None = None
    smoke_timeout_seconds: int | None = None
    status: Status = "creating"
    message: str | None = None  # why the status is what it is, e.g. what `down` could not remove
    # desired.state_digest of the last `up` that succeeded: the next with the same digest runs no engine.
    applied_digest: str | None = None
    # Service -> files (relative to the repository root) `envbuilder dev` copied into its running containers:
    # code that is in no image. The next `up` replaces those containers from their images.
    live_changes: dict[str, list[str]] = {}
    # Service -> how many times `up` replaced its containers to undo live changes (a pod annotation, a
    # classic container's label): kept, so the next `up` does not roll them back again.
    code_resets: dict[str, int] = {}
    phases: list[PhaseRecord] = []

    @field_validator("pod_network")
    @classmethod
    def _pod_network(cls, value: str | None) -> str | None:
        # Records from before the pod network was a choice named Calico by its DaemonSet.
        return "calico" if value == "calico-node" else value

    def resolve_backend(self, given: str | None) -> str | None:
        """The backend of the environment's stack: the recorded one; a different `--backend-url` is an input error."""
        if given and given != self.backend_url:
            raise InputError(
                f"environment {self.name} keeps its stack in {self.backend_url or 'the local backend of this home'}, "
                f"not in {given}; leave out --backend-url"
            )
        return self.backend_url

    @property
    def expires_at(self) -> datetime:
        return self.created_at + timedelta(seconds=self.ttl_seconds)

    def time_left(self, now: datetime | None = None) -> timedelta:
        return self.expires_at - (now or datetime.now(UTC))

    def expired(self, now: datetime | None = None) -> bool:
        return self.time_left(now) <= timedelta(0)


def records_dir() -> Path:
    return state_home() / "environments"


def record_path(name: str) -> Path:
    return records_dir() / f"{name}.json"


def save_record(record: EnvironmentRecord) -> None:
    write_atomically(record_path(record.name), record.model_dump_json(indent=2))


class UnreadableRecord(InputError):
    """A record file that is not an environment record (damaged, edited by hand, from another program)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"the environment record {path} cannot be read: {reason}",
            hint=f"if its environment is gone, remove the file (rm {path}); otherwise restore it",
        )
        self.path = path
        self.reason = reason


def read_records() -> tuple[list[EnvironmentRecord], list[UnreadableRecord]]:
    """Every record of this home, and each file that is not one: one bad file hides no other record."""
    directory = records_dir()
    records, unreadable = [], []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            records.append(_read(path))
        except UnreadableRecord as error:
            unreadable.append(error)
    return records, unreadable


def list_records() -> list[EnvironmentRecord]:
    """The records that can be read (read_records says which cannot)."""
    return read_records()[0]


def find_record(name: str) -> EnvironmentRecord | None:
    path = record_path(name)
    return _read(path) if path.is_file() else None


def _read(path: Path) -> EnvironmentRecord:
    try:
        return EnvironmentRecord.model_validate_json(path.read_bytes())
    except OSError as error:
        raise UnreadableRecord(path, error.strerror or str(error)) from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UnreadableRecord(path, f"{where + ': ' if where else ''}{first['msg']}") from None


def load_record(name: str) -> EnvironmentRecord:
    """The record of `name`; an unknown name is an input error listing the environments that exist."""
    record = find_record(name)
    if record is None:
        known = [r.name for r in list_records()]
        raise InputError(
            f"no environment named {name!r}; existing environments: {', '.join(known) or '(none)'}"
        )
    return record


def delete_record(name: str) -> None:
    record_path(name).unlink(missing_ok=True)
