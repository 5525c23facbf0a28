"""A real mock F5 per test (own state dir, free port) and loopback TCP backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from envbuilder.components.f5mock import ThreadedF5Mock, run_in_thread
from tests.f5mock.loopback import Backend

MONITOR_INTERVAL = 0.1


@pytest.fixture
def backends() -> Iterator[Callable[..., Backend]]:
    started: list[Backend] = []

    def start(name: str, port: int = 0) -> Backend:
        backend = Backend(name, port)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.stop()


@pytest.fixture
def f5(tmp_path) -> Iterator[ThreadedF5Mock]:
    with run_in_thread(tmp_path / "f5", monitor_interval=MONITOR_INTERVAL) as mock:
        yield mock


@pytest.fixture
def api(f5: ThreadedF5Mock) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f5.url, auth=("admin", "admin"), verify=False, timeout=10) as client:
        yield client
