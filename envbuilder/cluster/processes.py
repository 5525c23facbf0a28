"""Child processes that run as long as envbuilder does (a followed `docker logs`, a `kubectl exec`),
and never longer: killed when their context ends, and by the kernel when envbuilder dies (kill -9)."""

import asyncio
import ctypes
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from envbuilder.errors import EnvbuilderError

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGKILL when envbuilder's thread that started it exits."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@asynccontextmanager
async def child_process(*args: str, stdin: bool = False) -> AsyncIterator[asyncio.subprocess.Process]:
    """`args` running with stdout and stderr on one pipe (and a stdin pipe if asked); killed on exit."""
    try:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    except FileNotFoundError:
        raise EnvbuilderError(f"{args[0]} is not installed") from None
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
