"""Exponential backoff with jitter, shared by F5 calls, reconcile retries and watch reconnects."""

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delay before retry number `attempt` (1, 2, ...): doubles up to `cap`, jittered within its upper half.

    Jitter keeps many clients from retrying in lockstep; the half floor keeps a failing peer from
    being hammered in a tight loop however the dice fall.
    """

    base: float
    cap: float
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(attempt - 1, 0))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)
