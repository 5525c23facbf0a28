"""A real mock F5 per test (own state dir, free port) and loopback TCP backends."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest

from f5mock.server import ThreadedF5Mock, run_in_thread
from components.f5mock.tests.loopback import Backend
from tests.support.tools import missing

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


@pytest.fixture
def namespace() -> Iterator[str]:
    """A network namespace with one veth end on 172.30.0.1/24, as a container on a network."""
    if os.geteuid() != 0:
        missing("root", "network namespaces need root (the container has NET_ADMIN)", "run the tests as root")
    from pyroute2 import AsyncIPRoute, netns

    name = f"f5routes-{secrets.token_hex(3)}"
    netns.create(name)

    async def wire() -> None:
        async with AsyncIPRoute(netns=name) as kernel:
            await kernel.link("add", ifname="v0", kind="veth", peer="v1")
            (index,) = await kernel.link_lookup(ifname="v0")
            await kernel.link("set", index=index, state="up")
            await kernel.addr("add", index=index, address="172.30.0.1", prefixlen=24)
            await kernel.route("add", dst="10.99.0.0/16", gateway="172.30.0.254")  # someone else's

    try:
        asyncio.run(wire())
        yield name
    finally:
        netns.remove(name)


def kernel_routes(name: str) -> dict[str, tuple[str, int]]:
    """network -> (gateway, protocol) of the namespace's routes through a gateway."""
    from pyroute2 import AsyncIPRoute

    async def read() -> dict[str, tuple[str, int]]:
        async with AsyncIPRoute(netns=name) as kernel:
            return {
                f"{route.get('dst')}/{route['dst_len']}": (route.get("gateway"), route["proto"])
                async for route in await kernel.route("dump", table=254)
                if route.get("gateway")
            }

    return asyncio.run(read())
