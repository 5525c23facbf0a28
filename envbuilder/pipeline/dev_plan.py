"""What a batch of saved files means for `envbuilder dev`: which services get the files copied in, which
need a new image, and the one line each cycle prints. Pure: no cluster, no Docker, no clock of its own."""

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from envbuilder.errors import InputError
from envbuilder.spec.catalog import ServiceEntry


@dataclass(frozen=True)
class WatchedService:
    """A service `dev` watches, from its catalog entry, with the repository's paths made absolute."""

    name: str
    runtime: str
    port: int
    health_path: str
    context: Path  # the image's build context
    dockerfile: Path
    catalog_file: Path
    sync: tuple[tuple[Path, str], ...]  # (folder of the repository, where its files are in the image)
    rebuild_on: tuple[str, ...]
    restart: str

    @classmethod
    def of(cls, entry: ServiceEntry, root: Path, catalog_dir: Path) -> "WatchedService":
        if entry.dev is None:
            raise InputError(f"service {entry.name} has not opted in to envbuilder dev",
                             hint="its catalog entry needs dev: {sync: [{from: ..., to: ...}], restart: ...} (docs/catalog.md)")
        context = root / entry.build.context
        return cls(
            name=entry.name, runtime=entry.runtime, port=entry.port, health_path=entry.health_path,
            context=context, dockerfile=context / entry.build.dockerfile,
            catalog_file=catalog_dir / f"{entry.name}.yaml",
            sync=tuple((root / sync.from_, sync.to) for sync in entry.dev.sync),
            rebuild_on=tuple(entry.dev.rebuild_on), restart=entry.dev.restart,
        )

    @property
    def watched(self) -> list[Path]:
        return [self.context, *(folder for folder, _ in self.sync), self.catalog_file]

    def target_of(self, path: Path) -> str | None:
        """Where `path` goes in the container; None when sync cannot carry it."""
        if path in (self.dockerfile, self.catalog_file):
            return None
        for folder, target in self.sync:
            if path.is_relative_to(folder):
                relative = path.relative_to(folder).as_posix()
                if any(fnmatch.fnmatch(relative, pattern) for pattern in self.rebuild_on):
                    return None
                return str(PurePosixPath(target) / relative)
        return None

    def concerns(self, path: Path) -> bool:
        return path == self.catalog_file or path.is_relative_to(self.context) or any(
            path.is_relative_to(folder) for folder, _ in self.sync)


@dataclass
class ServicePlan:
    """What one cycle does to one service: copy (container path -> file) and delete, or rebuild."""

    service: str
    files: list[Path] = field(default_factory=list)  # the saved files that concern it
    copy: dict[str, Path] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    rebuild_because: list[Path] = field(default_factory=list)

    @property
    def rebuild(self) -> bool:
        return bool(self.rebuild_because)


def plan(services: Iterable[WatchedService], saved: Iterable[Path], exists: Callable[[Path], bool]) -> list[ServicePlan]:
    """Each service a saved file concerns, with what to do: a file sync cannot carry (the Dockerfile,
    the catalog entry, a `rebuild_on` file, anything of the build context outside a sync folder)
    means a rebuild of that service's image; every other file is copied in (or deleted, when gone)."""
    plans = []
    for service in services:
        current = ServicePlan(service.name)
        for path in sorted(saved):
            if not service.concerns(path):
                continue
            current.files.append(path)
            target = service.target_of(path)
            if target is None:
                current.rebuild_because.append(path)
            elif exists(path):
                current.copy[target] = path
            else:
                current.delete.append(target)
        if current.files:
            plans.append(current)
    return plans


@dataclass
class LiveFiles:
    """Everything `dev` has put into a service's containers so far (container path -> file, None: deleted):
    each cycle copies all of it, so a container that started since (a new pod, a restarted container)
    gets every earlier change too."""

    copy: dict[str, Path] = field(default_factory=dict)
    delete: set[str] = field(default_factory=set)
    files: set[Path] = field(default_factory=set)

    def add(self, service_plan: ServicePlan) -> None:
        for target, path in service_plan.copy.items():
            self.copy[target] = path
            self.delete.discard(target)
        for target in service_plan.delete:
            self.copy.pop(target, None)
            self.delete.add(target)
        self.files.update(service_plan.files)


class Batch:
    """Saved files gathered until the saves stop for `quiet_seconds`; the earliest save is when the cycle's
    clock starts."""

    def __init__(self, quiet_seconds: float) -> None:
        self.quiet_seconds = quiet_seconds
        self.paths: set[Path] = set()
        self.first_saved: float | None = None
        self.last_seen: float | None = None

    def add(self, paths: Iterable[Path], saved_at: float, seen_at: float) -> None:
        paths = set(paths)
        if not paths:
            return
        self.paths |= paths
        self.first_saved = saved_at if self.first_saved is None else min(self.first_saved, saved_at)
        self.last_seen = seen_at

    def ready(self, now: float) -> bool:
        return bool(self.paths) and self.last_seen is not None and now - self.last_seen >= self.quiet_seconds

    def take(self) -> tuple[set[Path], float]:
        taken = (self.paths, self.first_saved if self.first_saved is not None else 0.0)
        self.paths, self.first_saved, self.last_seen = set(), None, None
        return taken


def cycle_line(service: str, files: Iterable[Path], root: Path, mode: str, seconds: float,
               outcome: str) -> str:
    """One line per service and cycle: `web  sync  web.py  1.3 s  2 pods answering`."""
    names = [path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path) for path in files]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{service}  {mode}  {shown}  {seconds:.1f} s  {outcome}"


def live_changes(live: Mapping[str, LiveFiles], root: Path) -> dict[str, list[str]]:
    """What the record notes: service -> the files (relative to the repository) in its containers, no image's."""
    return {service: sorted(path.relative_to(root).as_posix() for path in files.files)
            for service, files in live.items() if files.files}
