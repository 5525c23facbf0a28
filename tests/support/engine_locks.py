"""Pulumi file-backend locks as an engine leaves them, for the tests of what reads them (recovery, `down`)."""

import json
import socket
import subprocess
import sys
from pathlib import Path


def stack_lock(backend: Path, stack: str, pid: int, hostname: str | None = None) -> Path:
    """A lock of `stack` held by process `pid` on `hostname` (this machine unless named)."""
    path = backend / ".pulumi" / "locks" / "organization" / "envbuilder" / stack / f"{pid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "username": "ci", "hostname": hostname or socket.gethostname(),
                                "timestamp": "2026-01-01T00:00:00Z"}))
    return path


def finished_process() -> int:
    """The pid of a process that has ended: the holder of a stale lock."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
