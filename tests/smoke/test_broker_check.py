"""The broker round trip against a real RabbitMQ node (Debian's rabbitmq-server, private to the tests)."""

from urllib.parse import urlsplit

import pytest

from envbuilder.smoke.broker import broker_check, masked
from envbuilder.smoke.result import CheckStatus
from tests.smoke.conftest import run_one
from tests.support.ports import free_port


@pytest.mark.slow
def test_a_message_published_to_a_temporary_queue_comes_back(rabbitmq):
    result = run_one(broker_check(rabbitmq.amqp_url))
    assert result.status is CheckStatus.PASSED, result.diagnosis
    assert result.summary == f"message round trip through {masked(rabbitmq.amqp_url)}"
    assert rabbitmq.password not in result.summary


@pytest.mark.slow
def test_wrong_credentials_fail_with_the_brokers_refusal_and_no_password_shown(rabbitmq):
    url = rabbitmq.amqp_url.replace(rabbitmq.password, "wrong-password")
    result = run_one(broker_check(url, deadline=1))
    assert result.status is CheckStatus.FAILED
    assert "cannot connect to the broker at amqp://envbuilder:***@127.0.0.1" in result.summary
    assert "ACCESS_REFUSED" in result.summary or "Authentication" in result.summary
    assert "wrong-password" not in result.summary + result.diagnosis


def test_a_broker_that_is_not_listening_fails_saying_so():
    url = f"amqp://envbuilder:secret@127.0.0.1:{free_port()}/%2F"
    result = run_one(broker_check(url, deadline=0.5))
    assert result.status is CheckStatus.FAILED
    assert f"cannot connect to the broker at amqp://envbuilder:***@127.0.0.1:{urlsplit(url).port}/%2F" in result.summary
    assert "forwarded to the host" in result.diagnosis


def test_masked_hides_only_the_password():
    assert masked("amqp://user:p%40ss@host:5672/%2F") == "amqp://user:***@host:5672/%2F"
    assert masked("amqp://host:5672/") == "amqp://host:5672/"
