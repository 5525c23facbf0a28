"""One command at a time per environment: a second one waits a little, then refuses clearly."""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout

from envbuilder.errors import EnvbuilderError
from envbuilder.state.home import state_home


WAIT_SECONDS = 10.0


class LockHeld(EnvbuilderError):
    """Another command works on the environment; nothing was done to it."""


@contextmanager
def environment_lock(name: str, wait_seconds: float | None = None) -> Iterator[None]:
    locks = state_home() / "locks"
    locks.mkdir(exist_ok=True)
    holder = locks / f"{name}.pid"
    lock = FileLock(str(locks / f"{name}.lock"))
    try:
        lock.acquire(timeout=WAIT_SECONDS if wait_seconds is None else wait_seconds)
    except Timeout:
        pid = holder.read_text().strip() if holder.is_file() else "unknown"
        raise LockHeld(
            f"another envbuilder command (pid {pid}) is working on environment {name!r}",
            hint="wait for it to finish, or stop it; the environment's state is not touched",
        ) from None
    try:
        holder.write_text(str(os.getpid()))
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()
