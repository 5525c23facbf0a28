"""Wires settings, the Kubernetes client, the F5 client, metrics and the HTTP endpoints into one run."""

import asyncio
import logging
import signal
from dataclasses import dataclass

from lightkube import AsyncClient

from f5sync import httpserver
from f5sync.controller import Controller
from f5sync.icontrol import IControlClient
from f5sync.kube import kube_client
from f5sync.metrics import Metrics
from f5sync.settings import Settings

log = logging.getLogger("envbuilder.f5sync")


@dataclass
class Parts:
    """One controller and the clients it owns."""

    metrics: Metrics
    f5: IControlClient
    kube: AsyncClient
    controller: Controller

    async def aclose(self) -> None:
        await asyncio.gather(self.f5.aclose(), self.kube.close())


def build(settings: Settings, *, kubeconfig: str | None = None) -> Parts:
    metrics = Metrics()
    f5 = IControlClient(
        settings.f5_url,
        settings.f5_username,
        settings.f5_password.get_secret_value(),
        verify_tls=settings.f5_verify_tls,
        metrics=metrics,
    )
    kube = kube_client(kubeconfig)
    return Parts(metrics, f5, kube, Controller(settings, kube, f5, metrics))


async def run(settings: Settings, *, kubeconfig: str | None = None) -> None:
    """Runs the controller and its HTTP endpoints until cancelled."""
    parts = build(settings, kubeconfig=kubeconfig)
    server = httpserver.start(settings.listen_host, settings.listen_port, parts.metrics, parts.controller.health)
    log.info(
        "f5-sync started",
        extra={
            "fields": {
                "f5": settings.f5_url,
                "namespace": settings.namespace,
                "owner": settings.owner,
                "listen": f"{settings.listen_host}:{server.server_port}",
            }
        },
    )
    try:
        await parts.controller.run()
    finally:
        server.shutdown()
        server.server_close()
        await parts.aclose()


def run_until_stopped(settings: Settings, *, kubeconfig: str | None = None) -> None:
    """Blocks running the controller; SIGTERM (pod shutdown) and Ctrl-C stop it cleanly."""

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await run(settings, kubeconfig=kubeconfig)

    try:
        asyncio.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt):
        log.info("f5-sync stopped")
