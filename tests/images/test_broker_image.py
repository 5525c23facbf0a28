"""The local broker image for real: made without any registry, run the way the StatefulSet runs it, used over AMQP."""

import asyncio
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import aio_pika
import httpx
import pytest

from envbuilder.desired.broker import DEFAULT_USER_CONF, default_user_conf
from envbuilder.images.broker import ensure_broker_image
from envbuilder.polling import wait_until
from tests.support.docker import remove_images, require_docker
from tests.support.parallel import on_one_worker

pytestmark = [pytest.mark.slow, pytest.mark.docker, on_one_worker(__name__)]
USER = "envbuilder"
READY_WITHIN = 120.0


@pytest.fixture(scope="module")
def broker_image() -> Iterator[str]:
    """The broker image under a tag of this test's own (from the cached rootfs, so about half a minute)."""
    require_docker()
    image = f"envbuilder-test/broker:{secrets.token_hex(4)}"
    try:
        yield ensure_broker_image(image=image)
    finally:
        remove_images(image)


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"envbuilder-test-broker-{secrets.token_hex(4)}"
    try:
        yield name
    finally:
        subprocess.run(["docker", "rm", "--force", "--volumes", name], capture_output=True, timeout=120, check=False)


def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def wait_until_ready(name: str) -> None:
    """Until the StatefulSet's readiness probe command succeeds in the container."""
    def ready() -> bool:
        if docker("exec", name, "rabbitmq-diagnostics", "-q", "check_port_connectivity").returncode == 0:
            return True
        if docker("inspect", "--format", "{{.State.Running}}", name).stdout.strip() != "true":
            pytest.fail(f"the broker container stopped:\n{docker('logs', name).stderr[-3000:]}")
        return False

    wait_until(ready, timeout=READY_WITHIN, what="the broker to be ready", interval=1,
               diagnosis=lambda: docker("logs", name).stderr[-3000:])


def published_port(name: str, port: int) -> int:
    return int(docker("port", name, str(port)).stdout.split(":")[-1])


async def round_trip(url: str) -> bytes:
    connection = await aio_pika.connect(url, timeout=30)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"through the local broker"), routing_key=queue.name)
        message = await queue.get(timeout=10, fail=True)
        await message.ack()
        return message.body


def test_the_local_broker_takes_its_user_from_conf_d_and_serves_amqp_and_its_probes(
    broker_image, container_name, tmp_path: Path
):
    """Run as the StatefulSet runs it: the user's file from the Secret, read-only, in conf.d; the data an emptyDir."""
    data = tmp_path / "data"  # like an emptyDir: a fresh directory owned by root that anyone may write
    data.mkdir()
    data.chmod(0o777)
    password = secrets.token_urlsafe(18)
    user_file = tmp_path / "default-user.conf"
    user_file.write_text(default_user_conf(password))
    user_file.chmod(0o644)  # a Secret volume's default mode
    started = docker(
        "run", "--detach", "--name", container_name,
        "--volume", f"{user_file}:{DEFAULT_USER_CONF}:ro",
        "--volume", f"{data}:/var/lib/rabbitmq",
        "--publish", "127.0.0.1::5672", "--publish", "127.0.0.1::15672",
        broker_image,
    )
    assert started.returncode == 0, started.stderr
    wait_until_ready(container_name)

    assert docker("exec", container_name, "rabbitmq-diagnostics", "-q", "status").returncode == 0  # the liveness probe
    assert password not in docker("inspect", container_name).stdout
    amqp = published_port(container_name, 5672)
    assert asyncio.run(round_trip(f"amqp://{USER}:{quote(password, safe='')}@127.0.0.1:{amqp}/%2F")) == (
        b"through the local broker"
    )
    with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
        asyncio.run(round_trip(f"amqp://{USER}:wrong@127.0.0.1:{amqp}/%2F"))
    with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
        asyncio.run(round_trip(f"amqp://guest:guest@127.0.0.1:{amqp}/%2F"))  # our user replaces guest
    management = f"http://127.0.0.1:{published_port(container_name, 15672)}/api/whoami"
    whoami = httpx.get(management, auth=(USER, password), timeout=10)
    assert whoami.status_code == 200 and whoami.json()["name"] == USER


def test_a_data_directory_the_broker_cannot_write_stops_the_container_with_the_reason(
    broker_image, container_name, tmp_path: Path
):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)  # root's: the image's rabbitmq user cannot write it
    result = docker("run", "--rm", "--name", container_name, "--volume", f"{data}:/var/lib/rabbitmq", broker_image,
                    timeout=120)
    assert result.returncode == 64, result.stderr
    assert "/var/lib/rabbitmq is not writable by rabbitmq" in result.stderr
