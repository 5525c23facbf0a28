"""What the abuse tests measure and the misbehaving peers they use, all on loopback."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager


def open_descriptors() -> int:
    """Descriptors open in this process (the mock under test runs in a thread of it)."""
    return len(os.listdir("/proc/self/fd"))


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def hanging_member() -> Iterator[int]:
    """A port whose connects hang: its accept queue (backlog 0) is full, so the kernel
    drops further SYNs and a connect waits until its own timeout."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler.connect(("127.0.0.1", port))
        yield port


@contextmanager
def deaf_member() -> Iterator[int]:
    """A port that accepts every connection and never reads nor closes it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]
