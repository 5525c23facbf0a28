"""`envbuilder verify`: up → smoke → down in one command, with reports.

verify works on an environment of its own: it refuses a name that exists, and its teardown
runs whenever it created the environment (also after a failure or Ctrl-C), never otherwise.
The reports hold the smoke checks plus the pipeline's own: that the environment came up, how
long the F5 took to follow a scale up, a scale down and a rolling update of a service whose pool
holds its pods (smoke/convergence.py; each also a check), and that the teardown left nothing
behind, so a CI run is red for any of them.
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
from envbuilder.pipeline.up import EnvironmentExists, roll, scale, up
from envbuilder.reports.model import Phase, SmokeRun
from envbuilder.smoke.result import CheckResult, CheckStatus, Convergence
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
    convergence: list[Convergence] = []
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

                smoke = asyncio.run(smoke_environment(record))
                checks.extend(smoke)
                if not ctrl_c.pressed:
                    checks.extend(_f5_convergence(record, smoke, convergence, ctrl_c, request.backend_url))
        finally:
            record = record or find_record(name)  # as up made it: its phases are the report's timeline
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
                convergence=tuple(convergence),
                phases=tuple(Phase.from_record(phase) for phase in (record.phases if record else [])),
            )
            from envbuilder.reports import write_reports

            for path in write_reports(report_dir, run):
                console.print(f"wrote {path}")
    if ctrl_c.pressed:
        raise KeyboardInterrupt  # after the teardown and the reports, whoever noticed the Ctrl-C first
    return run


CONVERGENCE_CHECK = "f5-convergence"


def convergence_steps(replicas: int, fewest: int, most: int) -> list[tuple[str, int | None]]:
    """A scale up and a scale down that end where they began (within the catalog's bounds), then a rolling
    update: (operation, replicas, or None to roll)."""
    if replicas < most:
        scaling = [("scale up", replicas + 1), ("scale down", replicas)]
    elif replicas > fewest:
        scaling = [("scale down", replicas - 1), ("scale up", replicas)]
    else:
        scaling = []
    return [*scaling, ("rolling update", None)]


def _f5_convergence(record: EnvironmentRecord, smoke: list[CheckResult], measured: list[Convergence],
                    ctrl_c: "_CtrlC", backend_url: str | None) -> list[CheckResult]:
    """Each change through the product's own `scale` and `roll`, timed by a ConvergenceWatch: one check each,
    their figures appended to `measured`."""
    from envbuilder.smoke.convergence import ConvergenceWatch, describe, measured_service
    from envbuilder.smoke.suite import recorded_target
    from envbuilder.smoke.target import recorded_services

    if any(check.failed for check in smoke):
        return [_skipped(CONVERGENCE_CHECK, "not measured: a smoke check failed")]
    target = asyncio.run(recorded_target(record))
    service = measured_service(target)
    if service is None:
        return [_skipped(CONVERGENCE_CHECK, "not measured: no service is exposed in cluster mode (its F5 pool "
                                            "holding its pods) with its VIP on the host")]
    [entry] = [entry for entry in recorded_services(record) if entry.name == service.name]
    replicas = record.replicas.get(service.name, entry.replicas.default)
    checks = []
    for operation, count in convergence_steps(replicas, entry.replicas.min, entry.replicas.max):
        if ctrl_c.pressed:
            break
        name = f"{CONVERGENCE_CHECK}:{operation.replace(' ', '-')}"
        started = datetime.now(UTC)
        try:
            with ConvergenceWatch(target, service, operation) as watch:
                if count is None:
                    roll(record.name, [service.name], backend_url=backend_url)
                else:
                    scale(record.name, {service.name: count}, backend_url=backend_url)
        except EnvbuilderError as error:
            checks.append(_failed(name, error, started))
            break
        assert watch.result
        result = watch.result
        measured.append(result)
        finished = datetime.now(UTC)
        if result.converged:
            summary = (f"{service.name}, {result.pods} pods: the pool followed "
                       f"{result.after_pods(result.pool_seconds):.2f} s and the VIP "
                       f"{result.after_pods(result.vip_seconds):.2f} s after the pods "
                       f"({result.pods_seconds:.1f} s after the change began)")
            checks.append(CheckResult(name, CheckStatus.PASSED, (finished - started).total_seconds(), summary, "",
                                      started, finished))
        else:
            checks.append(CheckResult(name, CheckStatus.FAILED, (finished - started).total_seconds(),
                                      f"{service.name}: {result.note}", describe(watch.samples), started, finished))
    return checks


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


def _skipped(name: str, why: str) -> CheckResult:
    now = datetime.now(UTC)
    return CheckResult(name, CheckStatus.SKIPPED, 0.0, why, "", now, now)


def _failed(name: str, error: EnvbuilderError, started: datetime | None = None) -> CheckResult:
    finished = datetime.now(UTC)
    started = started or finished
    return CheckResult(name, CheckStatus.FAILED, (finished - started).total_seconds(), str(error).splitlines()[0],
                       str(error), started, finished)
