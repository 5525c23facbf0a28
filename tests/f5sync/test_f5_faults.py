"""f5-sync when the F5 answers what BIG-IP never would: malformed answers are injected by a
proxy between the controller and the real mock F5."""

import json
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from envbuilder.components.f5sync import contract, service
from envbuilder.components.f5sync.settings import Settings
from tests.f5sync.conftest import converges, counter
from tests.f5sync.f5_api import MockF5
from tests.f5sync.f5_proxy import FaultyF5Proxy
from tests.f5sync.kube_api import NAMESPACE, KubeApi
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


def pool(service_name: str) -> str:
    return "/Common/" + contract.pool_name(NAMESPACE, service_name, 80)


def virtual(service_name: str) -> str:
    return "/Common/" + contract.virtual_name(NAMESPACE, service_name)


async def two_nodes(kube: KubeApi) -> None:
    await kube.add_node("node-1", "10.0.0.1")
    await kube.add_node("node-2", "10.0.0.2")


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
