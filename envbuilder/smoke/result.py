"""The outcome of one check, as reports and the CLI see it."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: CheckStatus
    duration_seconds: float
    summary: str
    diagnosis: str
    started_at: datetime
    finished_at: datetime

    @property
    def failed(self) -> bool:
        return self.status is CheckStatus.FAILED
