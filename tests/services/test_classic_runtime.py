"""`runtime: classic`: a service run as a plain Docker container (standing in for a VM) instead of in
the cluster. For web nothing changes: the same broker, the same queue, the same answer."""

import secrets
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from envbuilder.cluster.docker import ContainerSpec, Docker
from envbuilder.images.base import ensure_base_image
from envbuilder.images.build import build_images
from envbuilder.images.revision import current_revision
from envbuilder.polling import wait_until
from tests.support.docker import remove_images, require_docker
from tests.support.parallel import KIND_CLUSTERS
from tests.support.ports import free_port

# It builds, and removes, the revision's worker image, which the kind tier's environments run: never beside them.
pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.xdist_group(KIND_CLUSTERS)]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def worker_image():
    require_docker()
    [image] = build_images(REPO, current_revision(REPO), ["worker"], ensure_base_image)
    yield image.tag
    if image.built:
        remove_images(image.tag)


@pytest.fixture
def run_container():
    names: list[str] = []

    def run(image: str, env: dict[str, str], secret_files: tuple[tuple[str, str], ...]) -> str:
        """As envbuilder runs classic services (its Docker wrapper), on the host network: the container
        reaches the test broker on loopback, and we reach its /healthz."""
        name = f"envbuilder-test-{secrets.token_hex(4)}"
        names.append(name)
        Docker().run_container(ContainerSpec(name=name, image=image, network="host", labels={}, env=env,
                                             secret_files=secret_files))
        return name

    yield run
    subprocess.run(["docker", "rm", "--force", *names], capture_output=True, timeout=60, check=False)


def wait_healthy(url: str, timeout: float = 30.0) -> None:
    def healthy() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, timeout=timeout, what=f"{url} to be healthy")


def test_web_gets_the_same_answer_from_a_worker_container_as_from_a_worker_process(
    rabbitmq, start_service, work_queue, worker_image, run_container
):
    web = start_service("web").wait_healthy()
    process_worker = start_service("worker", HOSTNAME="worker-process").wait_healthy()
    from_process = httpx.get(f"{web.url}/work", params={"payload": "same"}, timeout=30).json()["answer"]
    process_worker.stop()

    health_port = free_port()
    container = run_container(
        worker_image,
        {"AMQP_URL_FILE": "/run/secrets/amqp-url", "PORT": str(health_port), "SERVICE_NAME": "worker",
         "ENVIRONMENT": "test", "REVISION": "test-revision", "HOSTNAME": "worker-container", "WORK_QUEUE": work_queue},
        secret_files=(("/run/secrets/amqp-url", rabbitmq.amqp_url),),
    )
    wait_healthy(f"http://127.0.0.1:{health_port}/healthz")
    from_container = httpx.get(f"{web.url}/work", params={"payload": "same"}, timeout=30).json()["answer"]

    assert (from_process["worker"], from_container["worker"]) == ("worker-process", "worker-container")
    assert {**from_process, "worker": None} == {**from_container, "worker": None}
    # The worker (not root) read the broker URL from its file; the container's configuration does not hold it.
    password = urlsplit(rabbitmq.amqp_url).password
    assert password and password not in subprocess.run(["docker", "inspect", container], capture_output=True,
                                                       text=True, check=True).stdout
