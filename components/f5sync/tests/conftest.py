"""Fixtures for f5-sync's integration tests: kmock as the Kubernetes API, the real mock F5, the controller."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import kmock
import pytest
import pytest_asyncio
import yaml

from f5sync import contract, service
from f5sync.settings import Settings
from components.f5sync.tests.f5_api import PASSWORD, USERNAME, MockF5
from components.f5sync.tests.kube_api import NAMESPACE, KubeApi

T = TypeVar("T")
RESYNC_SECONDS = 0.5


@pytest.fixture
def f5(tmp_path: Path) -> Iterator[MockF5]:
    mock = MockF5(tmp_path / "f5")
    mock.start()
    yield mock
    mock.stop()


@pytest.fixture
def kube(kmock: kmock.KubernetesEmulator) -> KubeApi:
    return KubeApi(kmock)


@pytest.fixture
def settings(f5: MockF5) -> Settings:
    return Settings.from_env(
        {
            contract.F5_URL: f5.url,
            contract.F5_USERNAME: USERNAME,
            contract.F5_PASSWORD: PASSWORD,
            contract.F5_VIP_ADDRESS: "127.0.0.1",
            contract.F5SYNC_NAMESPACE: NAMESPACE,
            contract.F5SYNC_OWNER: "test-env",
            contract.F5SYNC_RESYNC_SECONDS: str(RESYNC_SECONDS),
            contract.F5SYNC_DEBOUNCE_SECONDS: "0.01",
            contract.F5SYNC_LISTEN: "127.0.0.1:0",
        }
    )


@pytest_asyncio.fixture
async def f5sync(kube: KubeApi, settings: Settings, tmp_path: Path) -> AsyncIterator[service.Parts]:
    """The controller, running against both; yields its parts (metrics, controller) for assertions."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(kube.kubeconfig()))
    parts = service.build(settings, kubeconfig=str(kubeconfig))
    task = asyncio.create_task(parts.controller.run())
    yield parts
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await parts.aclose()


async def converges(read: Callable[[], Awaitable[T]], expected: T, *, timeout: float = 5.0) -> None:
    """Polls `read` until it returns `expected`; fails with the last value seen after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (actual := await read()) != expected:
        if loop.time() > deadline:
            assert actual == expected, f"not converged within {timeout} s"
        await asyncio.sleep(0.02)


def counter(parts: service.Parts, name: str, **labels: str) -> float:
    return parts.metrics.registry.get_sample_value(name, labels) or 0.0
