"""web and worker as real processes against a real RabbitMQ: the request/reply path and its failure modes."""

import asyncio
import json
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import aio_pika
import httpx
import pytest

from tests.services.conftest import SERVICES

pytestmark = pytest.mark.slow


def get_work(web, payload: str, timeout: float = 30.0) -> httpx.Response:
    return httpx.get(f"{web.url}/work", params={"payload": payload}, timeout=timeout)


def messages_waiting(amqp_url: str, queue: str) -> int:
    async def count() -> int:
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            return declared.declaration_result.message_count

    return asyncio.run(count())


def test_web_returns_the_workers_answer_through_the_broker(start_service, work_queue):
    worker = start_service("worker").wait_healthy()
    web = start_service("web", GREETING="hi there").wait_healthy()

    response = get_work(web, "ping")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["queue"] == work_queue
    assert body["answer"]["result"] == "PING"
    assert body["answer"]["worker"] == "worker"
    assert httpx.get(web.url).json() == {
        "greeting": "hi there",
        "service": "web",
        "environment": "test",
        "revision": "test-revision",
        "hostname": "web",
    }
    assert worker.healthy()


def test_healthz_is_503_and_says_why_while_the_broker_is_unreachable(start_service):
    web = start_service("web", AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2F")
    web.wait_until(lambda: _status(f"{web.url}/healthz") is not None, "serving HTTP")

    response = httpx.get(f"{web.url}/healthz")

    assert response.status_code == 503
    assert "not connected to the broker" in response.text


def test_web_answers_504_naming_the_queue_when_no_worker_answers(start_service, work_queue):
    web = start_service("web", RPC_TIMEOUT_SECONDS="1").wait_healthy()

    response = get_work(web, "anyone?")

    assert response.status_code == 504
    assert work_queue in response.json()["error"]


def test_two_worker_replicas_share_the_load(start_service):
    for name in ("worker-a", "worker-b"):
        start_service("worker", HOSTNAME=name, WORK_DELAY_MS="300", PREFETCH="1").wait_healthy()
    web = start_service("web").wait_healthy()

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda n: get_work(web, f"job-{n}"), range(6)))

    assert all(response.status_code == 200 for response in responses)
    assert {response.json()["answer"]["worker"] for response in responses} == {"worker-a", "worker-b"}


def test_a_worker_killed_mid_message_loses_nothing(start_service):
    slow = start_service("worker", HOSTNAME="worker-slow", WORK_DELAY_MS="60000").wait_healthy()
    web = start_service("web", RPC_TIMEOUT_SECONDS="30").wait_healthy()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(get_work, web, "survive")
        slow.wait_for_log("received")  # the slow replica holds the message, unacknowledged
        start_service("worker", HOSTNAME="worker-fast").wait_healthy()
        slow.signal(signal.SIGKILL)
        response = pending.result()

    assert response.status_code == 200, response.text
    answer = response.json()["answer"]
    assert (answer["worker"], answer["result"], answer["redelivered"]) == ("worker-fast", "SURVIVE", True)


def test_both_services_reconnect_on_their_own_after_a_broker_restart(rabbitmq, start_service):
    worker = start_service("worker").wait_healthy()
    web = start_service("web").wait_healthy()
    assert get_work(web, "before").status_code == 200

    rabbitmq.restart()

    worker.wait_healthy(timeout=60)
    web.wait_healthy(timeout=60)
    response = get_work(web, "after")
    assert response.status_code == 200, response.text
    assert response.json()["answer"]["result"] == "AFTER"


def test_sigterm_finishes_in_flight_work_and_exits_cleanly(rabbitmq, start_service, work_queue):
    worker = start_service("worker", WORK_DELAY_MS="1500").wait_healthy()
    web = start_service("web").wait_healthy()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(get_work, web, "drain")
        worker.wait_for_log("received")
        worker.signal(signal.SIGTERM)
        web.signal(signal.SIGTERM)
        response = pending.result()

    assert response.status_code == 200, response.text
    assert response.json()["answer"]["redelivered"] is False
    assert worker.wait_exit() == 0
    assert web.wait_exit() == 0
    assert messages_waiting(rabbitmq.amqp_url, work_queue) == 0  # acknowledged, not handed back


def test_a_message_that_fails_is_retried_then_dead_lettered_and_the_next_one_is_served(
    rabbitmq, start_service, work_queue
):
    worker = start_service("worker", MAX_ATTEMPTS="3", PREFETCH="1").wait_healthy()

    async def scenario() -> tuple[aio_pika.abc.AbstractIncomingMessage, aio_pika.abc.AbstractIncomingMessage]:
        async with await aio_pika.connect(rabbitmq.amqp_url) as connection:
            channel = await connection.channel()
            replies = await channel.declare_queue(exclusive=True)
            # Not UTF-8: decoding the payload raises inside the worker's handler.
            for body, correlation_id in ((b"\xff\xfe", "poison"), (b"next", "next")):
                await channel.default_exchange.publish(
                    aio_pika.Message(body, correlation_id=correlation_id, reply_to=replies.name, expiration=60),
                    routing_key=work_queue,
                )
            answer = await next_message(replies)
            dead_letters = await channel.declare_queue(f"{work_queue}.dead-letter", passive=True)
            return answer, await next_message(dead_letters)

    answer, dead = asyncio.run(scenario())

    assert (answer.correlation_id, json.loads(answer.body)["result"]) == ("next", "NEXT")
    assert (dead.correlation_id, dead.body, dead.headers["x-attempts"]) == ("poison", b"\xff\xfe", 3)
    assert "UnicodeDecodeError" in dead.headers["x-error"]
    assert worker.log().count("handling poison failed") == 3
    assert messages_waiting(rabbitmq.amqp_url, work_queue) == 0


async def next_message(
    queue: aio_pika.abc.AbstractQueue, timeout: float = 20.0
) -> aio_pika.abc.AbstractIncomingMessage:
    """The queue's next message, acknowledged; fails after `timeout` seconds without one."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (message := await queue.get(no_ack=True, fail=False)) is None:
        assert asyncio.get_running_loop().time() < deadline, f"nothing on {queue.name} within {timeout} s"
        await asyncio.sleep(0.1)
    return message


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return None


def process_instance(service) -> str:
    """What the health path names the answering process (a restart in place makes a new one)."""
    return httpx.get(f"{service.url}/healthz", timeout=5).headers.get("X-Process-Instance", "")


def test_sighup_restarts_web_in_place_with_the_code_on_disk_refusing_no_request(start_service, tmp_path):
    script = tmp_path / "web.py"
    shutil.copy(SERVICES / "web" / "web.py", script)
    start_service("worker").wait_healthy()
    web = start_service("web", script=script).wait_healthy()
    script.write_text(script.read_text().replace('"hostname": settings.hostname,', '"hostname": settings.hostname, "edited": 1,'))
    before = process_instance(web)

    web.signal(signal.SIGHUP)
    statuses = []
    deadline = time.monotonic() + 30
    while "edited" not in (answer := httpx.get(web.url, timeout=10)).json():
        statuses.append(answer.status_code)
        statuses.append(get_work(web, "during").status_code)
        assert time.monotonic() < deadline, web.log()

    assert set(statuses) <= {200}
    assert get_work(web, "after").json()["answer"]["result"] == "AFTER"
    assert web.process.poll() is None  # the same process, executing itself again
    assert "restarted in place" in web.log()
    assert process_instance(web) not in ("", before)  # how envbuilder dev tells the restarted code from the old


def test_sighup_restarts_the_worker_in_place_with_the_code_on_disk(start_service, tmp_path):
    script = tmp_path / "worker.py"
    shutil.copy(SERVICES / "worker" / "worker.py", script)
    worker = start_service("worker", script=script).wait_healthy()
    web = start_service("web").wait_healthy()
    script.write_text(script.read_text().replace('"result": payload.upper(),', '"result": payload.lower(),'))
    before = process_instance(worker)

    worker.signal(signal.SIGHUP)
    worker.wait_for_log("restarting in place")  # the old code consumes no more

    assert get_work(web, "MiXeD").json()["answer"]["result"] == "mixed"
    assert worker.process.poll() is None
    assert "restarting in place" in worker.log()
    worker.wait_until(lambda: process_instance(worker) not in ("", before), "answering as a new process")
