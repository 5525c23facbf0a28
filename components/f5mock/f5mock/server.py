"""Running the mock: `F5MockServer` (async) and `run_in_thread` (sync, for tests)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from f5mock.api import F5Api
from f5mock.auth import Authenticator
from f5mock.bgp import BGP_PORT, BgpListener
from f5mock.dataplane import DataPlane
from f5mock.errors import UsageError
from f5mock.events import log_event
from f5mock.fastpath import KernelForwarding, table_name
from f5mock.routing import KernelRoutes
from f5mock.store import ConfigStore
from f5mock.tls import server_context

# A client that opens API connections and stalls must not hold them (and their descriptors):
API_HANDSHAKE_TIMEOUT = 10.0  # seconds for the TLS handshake
# seconds for a request's headers to arrive after the connection or the previous answer
# (aiohttp's keep-alive timer covers both), hence also how long an idle keep-alive lasts
API_IDLE_TIMEOUT = 20.0


class F5MockServer:
    """The mock F5 on one event loop: HTTPS API on `host:port` (0 picks a free port) and
    the virtual servers' listeners, with its configuration and certificate in `state_dir`."""

    def __init__(
        self,
        state_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "admin",
        password: str = "admin",
        bind_virtuals_to: str | None = None,
        monitor_interval: float = 5.0,
        routes: KernelRoutes | None = None,
        bgp_asn: int | None = None,
        bgp_host: str = "0.0.0.0",
        bgp_port: int = BGP_PORT,
        bgp_peers: Sequence[str] | None = None,
    ) -> None:
        if not password:
            raise UsageError("the mock F5's password is empty", hint="set F5MOCK_PASSWORD or --password-file")
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.plane = DataPlane(
            bind_virtuals_to=bind_virtuals_to,
            monitor_interval=monitor_interval,
            kernel=KernelForwarding(table_name(self.state_dir)),
        )
        self.routes = routes
        # Routes learned over BGP from the cluster's nodes, when given an AS number.
        self.bgp = (
            BgpListener(bgp_asn, self._learned_routes_changed, host=bgp_host, port=bgp_port, peers=bgp_peers)
            if bgp_asn is not None
            else None
        )
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.AbstractServer | None = None
        self.store: ConfigStore | None = None

    @property
    def url(self) -> str:
        """`https://host:port`; a wildcard listen address is reached on loopback."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"https://[{host}]:{self.port}" if ":" in host else f"https://{host}:{self.port}"

    async def start(self) -> None:
        """Serves, or raises (e.g. OSError: API port in use) with nothing left listening."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tls = await asyncio.to_thread(server_context, self.state_dir / "tls")
        self.store = ConfigStore(self.state_dir, self.plane, self.routes)
        try:
            if self.plane.kernel is not None:
                await self.plane.kernel.start()
            await self.store.start()
            if self.bgp is not None:
                await self.bgp.start()
            api = F5Api(self.store, self.plane, Authenticator(self.username, self.password), self.bgp)
            self._runner = web.AppRunner(
                api.application(),
                access_log=None,
                handle_signals=False,
                shutdown_timeout=2.0,
                keepalive_timeout=API_IDLE_TIMEOUT,
                lingering_time=0,  # a body not read in time is not waited for after the answer
            )
            await self._runner.setup()
            # Our own listener rather than web.TCPSite, which has no handshake timeout.
            self._listener = await asyncio.get_running_loop().create_server(
                self._runner.server,
                self.host,
                self.port,
                ssl=tls,
                ssl_handshake_timeout=API_HANDSHAKE_TIMEOUT,
                reuse_address=True,
            )
        except BaseException:
            await self._close()
            raise
        self.port = self._listener.sockets[0].getsockname()[1]
        log_event("started", url=self.url, state_dir=str(self.state_dir))
        if (self.username, self.password) == ("admin", "admin") and not _loopback(self.host):
            log_event(
                "default-credentials",
                logging.WARNING,
                listen=self.host,
                hint="admin/admin is reachable beyond this host: set F5MOCK_PASSWORD or --password-file",
            )

    async def stop(self) -> None:
        await self._close()
        log_event("stopped", url=self.url)

    async def _learned_routes_changed(self, learned: dict[str, str]) -> None:
        assert self.store is not None
        await self.store.set_learned_routes(learned)
        log_event("bgp-routes", routes=len(learned))

    async def _close(self) -> None:
        if self.bgp is not None:
            await self.bgp.stop()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.store is not None:
            await self.store.close()
        await self.plane.close()

    async def serve_until_signalled(self) -> None:
        """Runs until SIGINT or SIGTERM (the CLI and the container)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> F5MockServer:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.stop()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop: the data plane's copy loop is markedly faster on it (benchmarks/f5mock_throughput.py)."""
    import uvloop

    return uvloop.new_event_loop()


class ThreadedF5Mock:
    """A mock F5 serving from its own thread and event loop; `stop()` or use as a context manager."""

    def __init__(self, server: F5MockServer) -> None:
        self.server = server
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="f5-mock", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def start(self) -> ThreadedF5Mock:
        self._thread.start()
        try:
            self._run(self.server.start())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._run(self.server.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    def __enter__(self) -> ThreadedF5Mock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def run_in_thread(state_dir: Path | str, **options: Any) -> ThreadedF5Mock:
    """Starts a mock F5 (same options as `F5MockServer`) and returns once it serves."""
    return ThreadedF5Mock(F5MockServer(state_dir, **options)).start()
