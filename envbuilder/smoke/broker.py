"""The broker check: a message published to a temporary queue comes back."""

import asyncio
import logging
import uuid
from urllib.parse import urlsplit, urlunsplit

from envbuilder.errors import PrerequisiteError
from envbuilder.smoke.framework import Check, CheckFailed, Progress

BROKER_DEADLINE = 20.0
CONNECT_SECONDS = 5.0
DELIVERY_SECONDS = 5.0
_GET_POLL_SECONDS = 0.05


def masked(url: str) -> str:
    """The URL without its password, fit for reports."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def broker_check(url: str, deadline: float = BROKER_DEADLINE) -> Check:
    try:
        import aio_pika
    except ImportError:
        raise PrerequisiteError("the broker check needs aio-pika", hint="pip install 'envbuilder[broker]'") from None
    # Without a handler of their own, the AMQP libraries' warnings about each failed attempt reach
    # stderr through logging's last resort; the check's own result already says what failed.
    for library in ("aiormq", "aio_pika"):
        logger = logging.getLogger(library)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())

    async def attempt() -> str:
        try:
            connection = await aio_pika.connect(url, timeout=CONNECT_SECONDS)
        except Exception as error:  # noqa: BLE001 - refused, DNS, TLS, authentication: each says so in its message
            raise CheckFailed(
                f"cannot connect to the broker at {masked(url)}: {type(error).__name__}: {error}",
                "is the broker running and its AMQP port forwarded to the host? are the credentials the environment's?",
            ) from None
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            token = uuid.uuid4().hex
            await channel.default_exchange.publish(aio_pika.Message(token.encode()), routing_key=queue.name)
            try:
                async with asyncio.timeout(DELIVERY_SECONDS):
                    while (message := await queue.get(no_ack=True, fail=False)) is None:
                        await asyncio.sleep(_GET_POLL_SECONDS)
            except TimeoutError:
                raise CheckFailed(
                    f"published to {queue.name} but nothing came back within {DELIVERY_SECONDS:g} s",
                    f"broker {masked(url)} accepted the connection and the publish; "
                    "look for memory or disk alarms (rabbitmqctl status) that block delivery",
                ) from None
            if message.body != token.encode():
                raise CheckFailed(
                    f"queue {queue.name} returned a different message", f"sent {token!r}, got {message.body[:200]!r}"
                )
        return f"message round trip through {masked(url)}"

    async def probe(progress: Progress) -> str:
        return await progress.retry(attempt)

    return Check("broker-round-trip", deadline, probe)
