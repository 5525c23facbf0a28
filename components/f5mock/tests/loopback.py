"""Loopback helpers: polling with a deadline, TCP backends and a one-shot client."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable

import httpx

from envbuilder import polling


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """envbuilder.polling's wait, at the pace of a mock on loopback."""
    polling.wait_until(condition, timeout=timeout, what=what, interval=0.02)


def wait_healthy(client: "httpx.Client", timeout: float = 30.0) -> None:
    """Until the mock's /health answers 200 through `client` (refused connections are retried)."""

    def healthy() -> bool:
        try:
            return client.get("/health").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, timeout=timeout, what="/health")


def ask(port: int, message: bytes = b"hello\n", timeout: float = 5.0) -> bytes:
    """One connection through `port`: send, half-close, read the answer to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(message)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


class Backend(socketserver.ThreadingTCPServer):
    """Answers each connection with `<name>:<first line received>`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name: str, port: int = 0) -> None:
        self.name = name
        self.connections = 0
        super().__init__(("127.0.0.1", port), _BackendHandler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _BackendHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.server.connections += 1  # type: ignore[attr-defined]
        line = self.rfile.readline()
        self.wfile.write(self.server.name.encode() + b":" + line)  # type: ignore[attr-defined]
