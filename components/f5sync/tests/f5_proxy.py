"""A proxy in front of the real mock F5 that replaces chosen answers: what a broken appliance,
a half-configured load balancer in between or a truncated response would hand f5-sync."""

from collections.abc import Callable
from dataclasses import dataclass

import httpx
from aiohttp import web

# Hop-by-hop and length headers are the proxy's own to set.
NOT_FORWARDED = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@dataclass
class _Fault:
    method: str
    path: str
    answer: Callable[[bytes], bytes]  # the mock's real body -> the body sent instead
    times: int


@dataclass
class _Refusal:
    method: str
    path: str
    matches: Callable[[bytes], bool]  # the request body -> refused?
    message: str


class FaultyF5Proxy:
    def __init__(self, upstream: str) -> None:
        self._upstream = httpx.AsyncClient(base_url=upstream, verify=False, timeout=5)
        self._faults: list[_Fault] = []
        self._refusals: list[_Refusal] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def corrupt(self, method: str, path: str, answer: Callable[[bytes], bytes], *, times: int = 1) -> None:
        """The next `times` answers to `method path` (query ignored) carry `answer(real body)`, status kept."""
        self._faults.append(_Fault(method, path, answer, times))

    def refuse(self, method: str, path: str, matches: Callable[[bytes], bool], message: str) -> None:
        """Requests to `method path` whose body `matches` get BIG-IP's 400 with `message`, unforwarded, until `allow`."""
        self._refusals.append(_Refusal(method, path, matches, message))

    def allow(self) -> None:
        self._refusals.clear()

    @property
    def pending(self) -> int:
        """Faults not injected yet."""
        return sum(fault.times for fault in self._faults)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self._upstream.aclose()

    async def _forward(self, request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_FORWARDED}
        content = await request.read()
        for refusal in self._refusals:
            if (refusal.method, refusal.path) == (request.method, request.path) and refusal.matches(content):
                return web.json_response({"code": 400, "message": refusal.message, "errorStack": [], "apiError": 3},
                                         status=400)
        real = await self._upstream.request(request.method, request.path_qs, content=content, headers=headers)
        body = real.content
        for fault in self._faults:
            if fault.times and (fault.method, fault.path) == (request.method, request.path):
                fault.times -= 1
                body = fault.answer(body)
                break
        return web.Response(status=real.status_code, body=body, content_type="application/json")
