"""Retry delays grow, stay jittered within bounds, and never drop to a tight loop."""

import random

from f5sync.backoff import Backoff


def test_delays_double_up_to_the_cap_and_keep_half_as_a_floor():
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (50, 1.0)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays), attempt
        assert len(set(delays)) > 1  # jittered: clients do not retry in lockstep
