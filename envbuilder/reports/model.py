"""What a report shows: one smoke run of an environment, the phases of the `up` before it, and (verify)
how long the F5 took to follow changes of a service."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from envbuilder.smoke.result import CheckResult, CheckStatus, Convergence
from envbuilder.state.records import PhaseRecord


class PhaseStatus(StrEnum):
    """As the environment record has it; a phase still `running` was interrupted."""

    PASSED = "passed"
    FAILED = "failed"
    RUNNING = "running"


@dataclass(frozen=True)
class Phase:
    """One step of `up` (cluster, CNI, broker, F5, images, services, smoke) as the pipeline timed it."""

    name: str
    started_at: datetime
    finished_at: datetime
    status: PhaseStatus

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @classmethod
    def from_record(cls, phase: PhaseRecord) -> "Phase":
        """An interrupted phase has no end: it is drawn as an instant at its start."""
        return cls(phase.name, phase.started_at, phase.finished_at or phase.started_at, PhaseStatus(phase.status))


@dataclass(frozen=True)
class SmokeRun:
    environment: str
    started_at: datetime
    finished_at: datetime
    checks: tuple[CheckResult, ...]
    phases: tuple[Phase, ...] = ()
    convergence: tuple[Convergence, ...] = ()  # verify's F5 convergence figures

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def count(self, status: CheckStatus) -> int:
        return sum(1 for check in self.checks if check.status is status)

    @property
    def passed(self) -> bool:
        return self.count(CheckStatus.FAILED) == 0
