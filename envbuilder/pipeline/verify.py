"""`envbuilder verify`: up → smoke → down in one command, with reports.

verify works on an environment of its own: it refuses a name that exists, and its teardown
runs whenever it created the environment (also after a failure or Ctrl-C), never otherwise.
The reports hold the smoke checks plus two of the pipeline's own: that the environment came
up, and that the teardown left nothing behind, so a CI run is red for either.
"""

import asyncio
import signal
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from envbuilder.errors import EnvbuilderError
from envbuilder.pipeline.down import down
from envbuilder.pipeline.output import console
from envbuilder.pipeline.request import EnvironmentRequest
from envbuilder.pipeline.up import EnvironmentExists, up
from envbuilder.reports.model import Phase, SmokeRun
from envbuilder.smoke.result import CheckResult, CheckStatus
from envbuilder.state.locks import LockHeld
from envbuilder.state.records import EnvironmentRecord, find_record


def verify(request: EnvironmentRequest, report_dir: Path) -> SmokeRun:
    request.resolve()  # bad input fails here, before anything is created or torn down
    name = request.name or f"verify-{datetime.now(UTC):%m%d%H%M%S}"
    request = replace(request, name=name)
    if find_record(name):
        raise EnvironmentExists(name)
    started_at = datetime.now(UTC)
    checks: list[CheckResult] = []
    record: EnvironmentRecord | None = None
    # Until up has the environment's lock and found no record, the environment may be someone else's.
    created = True
    with _CtrlC() as ctrl_c:
        try:
            try:
                checks.append(_timed("environment comes up", lambda: up(request, smoke=False, create_only=True)))
            except (EnvironmentExists, LockHeld) as error:
                created = False
                checks.append(_failed("environment comes up", error))
            record = find_record(name)
            if checks[-1].status is CheckStatus.PASSED and record and not ctrl_c.pressed:
                from envbuilder.smoke.suite import smoke_environment

                checks.extend(asyncio.run(smoke_environment(record)))
        finally:
            record = find_record(name) or record
            if ctrl_c.pressed and created:
                console.print("[yellow]interrupted: tearing the environment down before exiting[/]")
            if created:
                checks.append(
                    _timed("teardown leaves nothing behind", lambda: down(name, backend_url=request.backend_url))
                )
            run = SmokeRun(
                environment=name,
                started_at=started_at,
                finished_at=datetime.now(UTC),
                checks=tuple(checks),
                phases=tuple(Phase.from_record(phase) for phase in (record.phases if record else [])),
            )
            from envbuilder.reports import write_reports

            for path in write_reports(report_dir, run):
                console.print(f"wrote {path}")
    if ctrl_c.pressed:
        raise KeyboardInterrupt  # after the teardown and the reports, whoever noticed the Ctrl-C first
    return run


class _CtrlC:
    """Notes a Ctrl-C, which may reach the Pulumi CLI first and come back as an engine failure
    rather than as KeyboardInterrupt; Python's own handling of it is kept."""

    def __init__(self) -> None:
        self.pressed = False
        self._previous: object = None

    def __enter__(self) -> "_CtrlC":
        self._previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, self._noted)
        return self

    def __exit__(self, *_exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def _noted(self, signum: int, frame: object) -> None:
        self.pressed = True
        signal.default_int_handler(signum, frame)


def _timed(name: str, action: Callable[[], object]) -> CheckResult:
    """`action` as a check; errors that mean it never started (EnvironmentExists, LockHeld) propagate."""
    started = datetime.now(UTC)
    try:
        action()
    except (EnvironmentExists, LockHeld):
        raise
    except EnvbuilderError as error:
        return _failed(name, error, started)
    finished = datetime.now(UTC)
    return CheckResult(name, CheckStatus.PASSED, (finished - started).total_seconds(), "ok", "", started, finished)


def _failed(name: str, error: EnvbuilderError, started: datetime | None = None) -> CheckResult:
    finished = datetime.now(UTC)
    started = started or finished
    return CheckResult(name, CheckStatus.FAILED, (finished - started).total_seconds(), str(error).splitlines()[0],
                       str(error), started, finished)
