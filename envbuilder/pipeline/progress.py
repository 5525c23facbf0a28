"""Status lines for each phase, fed by the pipeline's own steps and by Pulumi engine events.

In a terminal the running phases spin (in a log, a line says each phase began); each
finished phase leaves one line with its duration, in the spirit of kind's create output.
Engine phases run as a graph, several at once: a phase's line is printed once it can no
longer change, that is when a phase that needs it starts (the engine starts a resource only
after everything it depends on is done) or when the engine run ends. The phases with their
times are kept for the environment record and the report's timeline.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner

from envbuilder.desired.phases import Phase
from envbuilder.state.records import PhaseRecord

# Components group the objects of a phase; the engine reports no outputs for them, only for their children.
_COMPONENT_TYPES = {"kubernetes:yaml/v2:ConfigGroup", "kubernetes:yaml/v2:ConfigFile"}
EngineEvent = Any  # pulumi.automation.EngineEvent, not imported here: the CLI stays light


class Progress:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.phases: dict[Phase, PhaseRecord] = {}
        self._in_flight: dict[Phase, set[str]] = {}
        self._announced: set[Phase] = set()
        self._notes: dict[Phase, str] = {}
        self._live = Live(console=console, transient=True, refresh_per_second=8)

    def __enter__(self) -> "Progress":
        self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.__exit__(*exc_info)

    def start(self, phase: Phase) -> None:
        # The phases this one needs are done for good: the engine started it only after them.
        self._announce_finished(phase.needs_transitively())
        record = self.phases.get(phase)
        if record is None:
            self.phases[phase] = PhaseRecord(name=phase, started_at=datetime.now(UTC))
            if not self.console.is_terminal:  # no spinner in a log: say when a phase begins, so a hang is placed
                self.console.print(f" • {phase.title}", highlight=False)
        elif record.status != "running":
            # More of a phase arrived after it looked done (a group's next object): it runs on from its first start.
            record.status, record.finished_at = "running", None
        self._refresh()

    def finish(self, phase: Phase, ok: bool = True, *, final: bool = False) -> None:
        record = self.phases.get(phase)
        if record is None or record.status != "running":
            return
        record.finished_at = datetime.now(UTC)
        record.status = "passed" if ok else "failed"
        if final or not ok:
            self._announce(phase)
        self._refresh()

    @contextmanager
    def phase(self, phase: Phase) -> Iterator[None]:
        self.start(phase)
        try:
            yield
        except BaseException:
            self.finish(phase, ok=False)
            raise
        self.finish(phase, final=True)

    def note(self, phase: Phase, text: str) -> None:
        """What the phase decided, said at the end of its status line (e.g. which pod network)."""
        self._notes[phase] = text

    def engine_events(self, phase_of: Callable[[str], Phase | None]) -> Callable[[EngineEvent], None]:
        """A handler of the engine's events that attributes each resource to its phase with `phase_of`:
        a phase starts with its first resource and looks done when none of its resources is in flight."""
        from envbuilder.engine.api import Urn  # loaded with the engine that sends the events

        def on_event(event: EngineEvent) -> None:
            for attr, done, ok in (
                ("resource_pre_event", False, True),
                ("res_outputs_event", True, True),
                ("res_op_failed_event", True, False),
            ):
                payload = getattr(event, attr, None)
                if payload is None:
                    continue
                urn = payload.metadata.urn
                phase = phase_of(urn)
                if phase is None:
                    return
                in_flight = self._in_flight.setdefault(phase, set())
                if not done:
                    if Urn.parse(urn).type not in _COMPONENT_TYPES:
                        in_flight.add(urn)
                    self.start(phase)
                else:
                    in_flight.discard(urn)
                    if not ok:
                        self.finish(phase, ok=False)
                    elif not in_flight:
                        self.finish(phase)

        return on_event

    def finish_running(self, ok: bool) -> None:
        """At the end of an engine run: whatever is still open ended with it."""
        for phase, record in list(self.phases.items()):
            if record.status == "running":
                self.finish(phase, ok=ok)
        self._announce_finished(set(self.phases))

    def _announce_finished(self, phases: set[Phase]) -> None:
        """Say which of `phases` are done, in the order they finished."""
        done = [self.phases[phase] for phase in phases if phase in self.phases and self.phases[phase].seconds is not None]
        for record in sorted(done, key=lambda record: record.finished_at or record.started_at):
            self._announce(Phase(record.name))

    def _announce(self, phase: Phase) -> None:
        """One line per phase and run, whatever arrives after it."""
        record = self.phases[phase]
        if phase in self._announced or record.seconds is None:
            return
        self._announced.add(phase)
        mark = "[green]✓[/]" if record.status == "passed" else "[red]✗[/]"
        note = f" · {escape(self._notes[phase])}" if phase in self._notes else ""
        self.console.print(f" {mark} {phase.title} [dim]{record.seconds:.1f}s{note}[/]", highlight=False)

    def records(self) -> list[PhaseRecord]:
        return sorted(self.phases.values(), key=lambda record: record.started_at)

    def _refresh(self) -> None:
        running = [
            Spinner("dots", text=f" {phase.title}")
            for phase, record in self.phases.items()
            if record.status == "running"
        ]
        self._live.update(Group(*running))
