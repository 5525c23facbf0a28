"""The outcome of one check, and of one convergence measurement (smoke/convergence.py), as reports and the CLI see them."""

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


@dataclass(frozen=True)
class Convergence:
    """One change and when the cluster, the F5's pool and its VIP showed it, in seconds from the change's start
    (None: not within the watch's deadline, `note` says why)."""

    operation: str  # "scale up", "scale down", "rolling update"
    service: str
    pods: int  # the new set's size
    pods_seconds: float | None
    pool_seconds: float | None
    vip_seconds: float | None
    note: str = ""

    @property
    def converged(self) -> bool:
        return None not in (self.pods_seconds, self.pool_seconds, self.vip_seconds)

    def after_pods(self, seconds: float | None) -> float | None:
        """The F5's own part: from the pods being the new set to `seconds` (0 when the same sample saw both)."""
        if seconds is None or self.pods_seconds is None:
            return None
        return max(0.0, seconds - self.pods_seconds)
