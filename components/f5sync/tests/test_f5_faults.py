"""f5-sync when the F5 misbehaves: it refuses one object, or answers what BIG-IP never would.

A proxy between the controller and the real mock refuses chosen writes the way BIG-IP does
(a 400 with the appliance's message) and corrupts chosen answers; everything else is the
real mock's.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import pytest_asyncio

from f5sync import contract, httpserver, service
from f5sync.settings import Settings
from components.f5sync.tests.conftest import converges, counter
from components.f5sync.tests.f5_api import MockF5
from components.f5sync.tests.f5_proxy import FaultyF5Proxy
from components.f5sync.tests.kube_api import NAMESPACE, KubeApi
from tests.support.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def proxy(f5: MockF5) -> AsyncIterator[FaultyF5Proxy]:
    faulty = FaultyF5Proxy(f5.url)
    await faulty.start()
    yield faulty
    await faulty.stop()


@pytest.fixture
def settings(settings: Settings, proxy: FaultyF5Proxy) -> Settings:
    """The controller talks to the real mock through the proxy (which forwards all it does not corrupt)."""
    return settings.model_copy(update={"f5_url": proxy.url})


def metric(parts: service.Parts, name: str, **labels: str) -> Callable[[], Awaitable[float]]:
    async def read() -> float:
        return counter(parts, name, **labels)

    return read


def pool(service_name: str) -> str:
    return "/Common/" + contract.pool_name(NAMESPACE, service_name, 80)


def virtual(service_name: str) -> str:
    return "/Common/" + contract.virtual_name(NAMESPACE, service_name)


async def two_nodes(kube: KubeApi) -> None:
    await kube.add_node("node-1", "10.0.0.1")
    await kube.add_node("node-2", "10.0.0.2")


REFUSAL = "01070333:3: Virtual Server destination is not available"


async def test_a_refused_virtual_blocks_no_other_service_and_is_retried_with_backoff(
    kube, f5: MockF5, f5sync: service.Parts, proxy: FaultyF5Proxy, caplog
):
    caplog.set_level("INFO", logger="envbuilder.f5sync")
    proxy.refuse("POST", "/mgmt/tm/ltm/virtual", lambda body: json.loads(body).get("name") == virtual("api").split("/")[-1],
                 REFUSAL)
    busy_port, web_port = free_port(), free_port()
    await two_nodes(kube)
    # "api" sorts before "web", so its refused virtual comes first in every plan.
    await kube.add_service("api", vip_port=busy_port, ports={"http": (80, 30081)})
    await kube.add_service("web", vip_port=web_port, ports={"http": (80, 30080)})

    await converges(f5.virtuals, {virtual("web"): (f"/Common/127.0.0.1:{web_port}", pool("web"))})
    await kube.set_node_ready("node-2", False)  # members are removed after virtuals are created
    await converges(f5.pools, {pool("api"): {"10.0.0.1:30081"}, pool("web"): {"10.0.0.1:30080"}})

    refused = [record.fields for record in caplog.records if record.getMessage() == "f5 refused"]
    assert refused[0]["virtual"] == virtual("api") and refused[0]["operation"] == "create_virtual"
    assert REFUSAL in refused[0]["error"]  # the F5's own words
    assert counter(f5sync, "f5sync_refused_operations") == 1
    server = httpserver.start("127.0.0.1", 0, f5sync.metrics, f5sync.controller.health)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.server_port}") as client:
            health = (await client.get("/healthz")).json()
            metrics = (await client.get("/metrics")).text
    finally:
        server.shutdown()
        server.server_close()
    assert (health["f5_in_sync"], health["refused_operations"]) == (False, 1)
    assert 'f5sync_f5_refusals_total{operation="create_virtual"}' in metrics

    # Backoff: retries 0.25-0.5 s apart here (the cap is the test's resync period), not a tight loop.
    before = counter(f5sync, "f5sync_f5_refusals_total", operation="create_virtual")
    await asyncio.sleep(2.0)
    retries = counter(f5sync, "f5sync_f5_refusals_total", operation="create_virtual") - before
    assert 1 <= retries <= 9, retries  # a tight loop would make hundreds
    assert [fields["refusals"] for fields in refused] == list(range(1, len(refused) + 1))

    proxy.allow()  # the F5 takes it now: the next retry gets the virtual created
    await converges(
        f5.virtuals,
        {
            virtual("api"): (f"/Common/127.0.0.1:{busy_port}", pool("api")),
            virtual("web"): (f"/Common/127.0.0.1:{web_port}", pool("web")),
        },
    )
    await converges(metric(f5sync, "f5sync_refused_operations"), 0)


def truncated(body: bytes) -> bytes:
    return body[: len(body) // 2]


def without(key: str) -> Callable[[bytes], bytes]:
    """Drops `key` from every item of a collection answer."""

    def answer(body: bytes) -> bytes:
        collection = json.loads(body)
        for item in collection.get("items", []):
            item.pop(key, None)
        return json.dumps(collection).encode()

    return answer


@pytest.mark.parametrize(
    ("method", "path", "answer"),
    [
        ("GET", "/mgmt/tm/ltm/pool", truncated),
        ("GET", "/mgmt/tm/ltm/virtual", without("destination")),
        ("GET", "/mgmt/tm/ltm/pool", lambda body: b'{"items": [{"name": "no-partition"}]}'),
        ("GET", "/mgmt/tm/ltm/virtual", lambda body: b'["not", "an", "object"]'),
        ("POST", "/mgmt/shared/authn/login", lambda body: b'{"token": {}}'),
    ],
    ids=["bad-json", "virtual-without-destination", "pool-without-partition", "list-not-object", "login-no-token"],
)
async def test_malformed_answers_fail_a_pass_and_the_controller_carries_on(
    kube, f5: MockF5, proxy: FaultyF5Proxy, f5sync: service.Parts, method, path, answer, caplog
):
    caplog.set_level("INFO", logger="envbuilder.f5sync")
    web_port = free_port()
    await two_nodes(kube)
    await kube.add_service("web", vip_port=web_port, ports={"http": (80, 30080)})
    await converges(f5.virtuals, {virtual("web"): (f"/Common/127.0.0.1:{web_port}", pool("web"))})
    if method == "POST":
        f5.stop()
        f5.start()  # forgets its tokens: the controller logs in again, and gets the corrupt answer
    proxy.corrupt(method, path, answer, times=3)

    await kube.set_node_ready("node-2", False)

    await converges(f5.pools, {pool("web"): {"10.0.0.1:30080"}})
    assert proxy.pending == 0
    assert counter(f5sync, "f5sync_f5_errors_total", reason="malformed") == 3
    # At least two passes failed: the two reads of a pass log in concurrently, so both can meet a fault.
    assert counter(f5sync, "f5sync_reconciles_total", result="failed") >= 2
    failures = [record.fields["error"] for record in caplog.records if record.getMessage() == "reconcile failed"]
    assert failures and all("malformed answer from the F5" in error for error in failures), failures
