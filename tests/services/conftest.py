"""Fixtures for the sample services: a private RabbitMQ for the session, services as real processes.

The session's private RabbitMQ node, `rabbitmq`, comes from the root conftest.py.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from envbuilder.polling import wait_until
from tests.support.ports import free_port
from tests.support.rabbitmq import RabbitMQServer

SERVICES = Path(__file__).resolve().parents[2] / "fixtures" / "services"


class ServiceProcess:
    """One sample service run as `python fixtures/services/<name>/<name>.py` (or a copy, `script`) with the env contract."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path, script: Path | None = None) -> None:
        self.name = name
        self.port = int(env["PORT"])
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(script or SERVICES / name / f"{name}.py")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until(self, condition, what: str, timeout: float = 30.0) -> None:
        def running_and_done() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.process.returncode}); log:\n{self.log()}")
            return condition()

        wait_until(running_and_done, timeout=timeout, what=f"{self.name} {what}", interval=0.1,
                   diagnosis=lambda: f"log:\n{self.log()}")

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def wait_healthy(self, timeout: float = 30.0) -> "ServiceProcess":
        self.wait_until(self.healthy, "healthy", timeout)
        return self

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        self.wait_until(lambda: text in self.log(), f"logging {text!r}", timeout)

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def service_environment(name: str, amqp_url: str, work_queue: str, **settings: str) -> dict[str, str]:
    """The environment the desired state gives a container (docs/services.md), plus PATH for Python."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AMQP_URL": amqp_url,
        "PORT": str(free_port()),
        "SERVICE_NAME": name,
        "ENVIRONMENT": "test",
        "REVISION": "test-revision",
        "HOSTNAME": name,
        "WORK_QUEUE": work_queue,
        **settings,
    }


@pytest.fixture
def work_queue(request: pytest.FixtureRequest) -> str:
    """A queue per test, so one test's leftovers never reach the next one's workers."""
    return f"work.{request.node.name}"


@pytest.fixture
def start_service(rabbitmq: RabbitMQServer, work_queue: str, tmp_path: Path) -> Iterator:
    """start_service("worker", HOSTNAME="worker-a", WORK_DELAY_MS="500") -> a started ServiceProcess;
    `script=` runs a copy of the service's file instead."""
    started: list[ServiceProcess] = []

    def start(name: str, script: Path | None = None, **settings: str) -> ServiceProcess:
        env = service_environment(name, rabbitmq.amqp_url, work_queue, **settings)
        service = ServiceProcess(name, env, tmp_path / f"{env['HOSTNAME']}.log", script)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()
