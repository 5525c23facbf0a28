"""/metrics (Prometheus text) and /healthz, served from a daemon thread so scrapes never wait on the loop."""

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from f5sync.controller import Health
from f5sync.metrics import Metrics


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes and scrapes every few seconds would drown the change log."""


def health_report(health: Health) -> tuple[bool, dict[str, Any]]:
    """Healthy once the cluster state is synced; an unreachable F5 is reported, not fatal
    (restarting the controller would not bring the F5 back)."""
    age = None if health.last_success_at is None else round(time.monotonic() - health.last_success_at, 3)
    return health.synced, {
        "synced": health.synced,
        "f5_in_sync": health.last_success_at is not None
        and health.consecutive_failures == 0
        and health.refused_operations == 0,
        "last_success_age_s": age,
        "consecutive_failures": health.consecutive_failures,
        "last_error": health.last_error,
        "refused_operations": health.refused_operations,
    }


def start(host: str, port: int, metrics: Metrics, health: Health) -> WSGIServer:
    """Listens on host:port (port 0: any free port, see `.server_port`); stop with `.shutdown()`."""
    metrics_app = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        if path == "/healthz":
            healthy, report = health_report(health)
            start_response("200 OK" if healthy else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [json.dumps(report).encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /healthz\n"]

    server = make_server(host, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="f5sync-http", daemon=True).start()
    return server
