"""Waiting, with a deadline, until something holds: the one loop for every wait that is not a smoke check
(those retry under the deadline of their own run, smoke/framework.py)."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float, interval: float = 0.2) -> T:
    """Call `condition` every `interval` seconds until it returns something true or `timeout` seconds have
    passed; return its last value (false after the timeout: for waits that go on regardless)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(interval)
    return value


def wait_until(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.2,
               diagnosis: Callable[[], str] | None = None) -> T:
    """`wait_for`, where the timeout is a failure: TimeoutError names `what` and the last value seen, then
    `diagnosis()` (a log, say). An exception from `condition` ends the wait at once: that is how a
    condition says that waiting longer is pointless (the process it waits on has exited)."""
    if value := wait_for(condition, timeout=timeout, interval=interval):
        return value
    message = f"timed out after {timeout:g} s waiting for {what} (last: {value!r})"
    raise TimeoutError(message + (f"\n{diagnosis()}" if diagnosis else ""))
