"""The iControl client's login against a scripted F5 (httpx's MockTransport): what it counts as a login."""

import httpx
import pytest

from f5sync.backoff import Backoff
from f5sync.icontrol import LOGIN_PATH, IControlClient
from f5sync.metrics import Metrics

pytestmark = pytest.mark.asyncio


def scripted_f5(login_failures: int) -> tuple[httpx.MockTransport, list[str]]:
    """An F5 whose first `login_failures` logins never arrive (the connection drops, as while it restarts)."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == LOGIN_PATH:
            if seen.count(LOGIN_PATH) <= login_failures:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
            return httpx.Response(200, json={"token": {"token": "t-1", "timeout": 1200}})
        assert request.headers["X-F5-Auth-Token"] == "t-1"
        return httpx.Response(200, json={"items": []})

    return httpx.MockTransport(answer), seen


async def test_a_login_that_never_reached_the_f5_is_a_transport_error_not_a_login():
    transport, seen = scripted_f5(login_failures=1)
    metrics = Metrics()
    client = IControlClient("https://f5.test", "admin", "secret", verify_tls=True, metrics=metrics,
                            backoff=Backoff(base=0.001, cap=0.001), transport=transport)
    try:
        await client.holdings("envbuilder")
    finally:
        await client.aclose()

    assert seen.count(LOGIN_PATH) == 2
    assert metrics.registry.get_sample_value("f5sync_f5_logins_total") == 1.0
    assert metrics.registry.get_sample_value("f5sync_f5_errors_total", {"reason": "transport"}) == 1.0
