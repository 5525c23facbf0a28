"""Run checks concurrently, each under its own deadline, and turn every outcome into a CheckResult.

A check that has not passed by its deadline reports the last failure it saw (the pod's events, the
pool as it stood, the HTTP answer), so a deadline never reads as a bare "timeout".
"""

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from envbuilder.smoke.result import CheckResult, CheckStatus


class CheckFailed(Exception):
    """The condition does not hold (yet): a one-line summary and the evidence explaining why."""

    def __init__(self, summary: str, diagnosis: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.diagnosis = diagnosis


class CheckSkipped(Exception):
    """The check does not apply to this environment; the message says why."""


class Progress:
    """What a running check last saw, kept so that a deadline can report it."""

    def __init__(self) -> None:
        self.last_failure: CheckFailed | None = None

    async def retry(self, attempt: Callable[[], Awaitable[str]], interval: float = 1.0) -> str:
        """Repeat `attempt` until it returns; the check's deadline ends the loop.

        Environments converge (pods start, the F5 catches up), so a failing attempt is retried
        rather than reported at once; the last failure is what the deadline reports.
        """
        while True:
            try:
                return await attempt()
            except CheckFailed as failure:
                self.last_failure = failure
            await asyncio.sleep(interval)


Probe = Callable[[Progress], Awaitable[str]]


@dataclass(frozen=True)
class Check:
    """`probe` returns a one-line detail on success, raises CheckFailed or CheckSkipped otherwise."""

    name: str
    deadline_seconds: float
    probe: Probe


def skipped_check(name: str, reason: str) -> Check:
    """A check that does not apply here, listed so that reports show it and why."""

    async def probe(progress: Progress) -> str:
        raise CheckSkipped(reason)

    return Check(name, 1.0, probe)


async def run_check(check: Check) -> CheckResult:
    progress = Progress()
    started_at = datetime.now(UTC)
    start = time.monotonic()
    status, summary, diagnosis = CheckStatus.FAILED, "", ""
    deadline = asyncio.timeout(check.deadline_seconds)
    try:
        async with deadline:
            summary = await check.probe(progress)
        status = CheckStatus.PASSED
    except CheckSkipped as skipped:
        status, summary = CheckStatus.SKIPPED, str(skipped)
    except CheckFailed as failure:
        summary, diagnosis = failure.summary, failure.diagnosis
    except TimeoutError:
        if not deadline.expired():
            summary, diagnosis = "TimeoutError inside the check", traceback.format_exc()
        elif progress.last_failure is None:
            summary = f"no answer within the {check.deadline_seconds:g} s deadline"
            diagnosis = "the check was still waiting on its first attempt when the deadline passed"
        else:
            summary = f"still failing at the {check.deadline_seconds:g} s deadline: {progress.last_failure.summary}"
            diagnosis = progress.last_failure.diagnosis
    except Exception as error:  # noqa: BLE001 - a bug or an unexpected answer must become a result, not end the run
        summary, diagnosis = f"{type(error).__name__}: {error}", traceback.format_exc()
    return CheckResult(
        name=check.name,
        status=status,
        duration_seconds=time.monotonic() - start,
        summary=summary,
        diagnosis=diagnosis,
        started_at=started_at,
        finished_at=datetime.now(UTC),
    )


async def run_checks(checks: Iterable[Check]) -> list[CheckResult]:
    """All checks at once; results in the order the checks were given."""
    return list(await asyncio.gather(*(run_check(check) for check in checks)))
