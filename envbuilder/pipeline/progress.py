"""Status lines for each phase, fed by the pipeline's own steps and by Pulumi engine events.

In a terminal the running phases spin (in a log, a line says each phase began); each
finished phase leaves one line with its duration, in the spirit of kind's create output.
The phases with their times are kept for the environment record and the report's timeline.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner

from envbuilder.state.records import PhaseRecord

PHASE_TITLES = {
    "prerequisites": "Checking prerequisites",
    "images": "Building images",
    "cluster": "Creating the kind cluster",
    "load": "Loading images into the nodes",
    "cni": "Installing the pod network, waiting for Ready nodes",
    "broker": "Starting the broker",
    "f5": "Starting the F5 and f5-sync",
    "services": "Deploying services",
    "smoke": "Running smoke checks",
    "destroy": "Destroying the stack",
    "cleanup": "Removing what is left",
    "verify-clean": "Checking nothing is left",
}
_ORDER = list(PHASE_TITLES)  # the order phases run in
# Engine resource names start with their phase; these resources belong to another phase.
_RESOURCE_PHASES = {"namespace": "broker", "secrets": "broker", "cni-ready": "cni", "images": "load"}
# Components group the objects of a phase; the engine reports no outputs for them, only for their children.
_COMPONENT_TYPES = {"kubernetes:yaml/v2:ConfigGroup", "kubernetes:yaml/v2:ConfigFile"}


def phase_of_resource(urn: str) -> str | None:
    name = urn.split("::")[-1]
    head = name.split(":")[0]
    if head in _RESOURCE_PHASES:
        return _RESOURCE_PHASES[head]
    phase = head.split("-")[0]
    return phase if phase in PHASE_TITLES else None


class Progress:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.phases: dict[str, PhaseRecord] = {}
        self._in_flight: dict[str, set[str]] = {}
        self._announced: set[str] = set()
        self._live = Live(console=console, transient=True, refresh_per_second=8)

    def __enter__(self) -> "Progress":
        self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.__exit__(*exc_info)

    def start(self, phase: str) -> None:
        # A later phase starting means the earlier ones that look done are done: say so now. Only
        # later: on kind the F5's container is made before the broker, its objects after it.
        self._announce_finished(before=phase)
        record = self.phases.get(phase)
        if record is None:
            self.phases[phase] = PhaseRecord(name=phase, started_at=datetime.now(UTC))
            if not self.console.is_terminal:  # no spinner in a log: say when a phase begins, so a hang is placed
                self.console.print(f" • {PHASE_TITLES.get(phase, phase)}", highlight=False)
        elif record.status != "running":
            # More of a phase arrived after it looked done: it runs on from its first start.
            record.status, record.finished_at = "running", None
            self._announced.discard(phase)
        self._refresh()

    def finish(self, phase: str, ok: bool = True, *, final: bool = False) -> None:
        record = self.phases.get(phase)
        if record is None or record.status != "running":
            return
        record.finished_at = datetime.now(UTC)
        record.status = "passed" if ok else "failed"
        if final or not ok:
            self._announce(phase)
        self._refresh()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.start(name)
        try:
            yield
        except BaseException:
            self.finish(name, ok=False)
            raise
        self.finish(name, final=True)

    def on_engine_event(self, event) -> None:
        """Attribute Pulumi engine events to phases: first resource starts a phase, the last one ends it."""
        for attr, done, ok in (
            ("resource_pre_event", False, True),
            ("res_outputs_event", True, True),
            ("res_op_failed_event", True, False),
        ):
            payload = getattr(event, attr, None)
            if payload is None:
                continue
            urn = payload.metadata.urn
            phase = phase_of_resource(urn)
            if phase is None:
                return
            in_flight = self._in_flight.setdefault(phase, set())
            if not done:
                if urn.split("::")[-2] not in _COMPONENT_TYPES:
                    in_flight.add(urn)
                self.start(phase)
            else:
                in_flight.discard(urn)
                if not ok:
                    self.finish(phase, ok=False)
                elif not in_flight:
                    self.finish(phase)

    def finish_running(self, ok: bool) -> None:
        """At the end of an engine run: whatever is still open ended with it."""
        for name, record in list(self.phases.items()):
            if record.status == "running":
                self.finish(name, ok=ok)
        self._announce_finished()

    def _announce_finished(self, before: str | None = None) -> None:
        """Say which phases are done, in the order phases run; with `before`, only the phases before it."""
        for name in _ORDER[:_ORDER.index(before)] if before else _ORDER:
            record = self.phases.get(name)
            if record is not None and record.status != "running":
                self._announce(name)

    def _announce(self, phase: str) -> None:
        record = self.phases[phase]
        if phase in self._announced or record.seconds is None:
            return
        self._announced.add(phase)
        mark = "[green]✓[/]" if record.status == "passed" else "[red]✗[/]"
        self.console.print(f" {mark} {PHASE_TITLES.get(phase, phase)} [dim]{record.seconds:.1f}s[/]", highlight=False)

    def records(self) -> list[PhaseRecord]:
        return sorted(self.phases.values(), key=lambda record: record.started_at)

    def _refresh(self) -> None:
        running = [
            Spinner("dots", text=f" {PHASE_TITLES.get(name, name)}")
            for name, record in self.phases.items()
            if record.status == "running"
        ]
        self._live.update(Group(*running))
