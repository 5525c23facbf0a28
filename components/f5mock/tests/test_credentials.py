"""Credentials: no empty password, a warning for admin/admin beyond loopback, failed
attempts logged and slowed (issue 12)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from f5mock import auth
from f5mock.errors import F5RestError, UsageError
from f5mock.server import F5MockServer

LOGIN = "/mgmt/shared/authn/login"


def test_an_empty_password_is_refused(tmp_path):
    with pytest.raises(UsageError, match="password is empty"):
        F5MockServer(tmp_path, password="")


def events(caplog, name: str) -> list[str]:
    return [record.message for record in caplog.records if f'"event":"{name}"' in record.message]


@pytest.mark.parametrize(
    ("host", "password", "warned"),
    [("0.0.0.0", "admin", True), ("127.0.0.1", "admin", False), ("0.0.0.0", "s3cret", False)],
)
def test_default_credentials_beyond_loopback_are_warned_at_start(tmp_path, caplog, host, password, warned):
    async def start_and_stop() -> None:
        async with F5MockServer(tmp_path, host=host, password=password):
            pass

    asyncio.run(start_and_stop())

    assert bool(events(caplog, "default-credentials")) is warned


def test_failed_logins_are_logged_with_user_and_source_and_slowed_when_repeated(f5, caplog, monkeypatch):
    monkeypatch.setattr(auth, "SLOWDOWN", 0.3)
    with httpx.Client(base_url=f5.url, verify=False, timeout=30) as client:

        def bad_login(_: object = None) -> int:
            return client.post(LOGIN, json={"username": "admin", "password": "guess"}).status_code

        assert [bad_login() for _ in range(auth.FREE_FAILURES)] == [401] * auth.FREE_FAILURES
        logged = events(caplog, "auth-failed")
        assert len(logged) == auth.FREE_FAILURES
        assert '"user":"admin"' in logged[0] and '"source":"127.0.0.1"' in logged[0]

        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:  # in parallel: still one attempt per SLOWDOWN
            assert list(pool.map(bad_login, range(4))) == [401] * 4
        assert time.monotonic() - started >= 3 * auth.SLOWDOWN
        assert client.get("/mgmt/tm/sys", headers={"X-F5-Auth-Token": "GUESSED"}).status_code == 401
        assert '"method":"token"' in events(caplog, "auth-failed")[-1]

        assert client.post(LOGIN, json={"username": "admin", "password": "admin"}).status_code == 200
        assert bad_login() == 401
        assert '"failures":1' in events(caplog, "auth-failed")[-1]  # a success forgot the earlier ones


def test_one_user_guessing_does_not_lock_out_another_user_from_the_same_address(tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "MAX_WAIT", 0.0)  # past the free failures, a guess is refused at once
    authenticator = auth.Authenticator("admin", "admin")

    async def attempts() -> None:
        for _ in range(auth.FREE_FAILURES + 1):
            with pytest.raises(F5RestError):
                await authenticator.login("mallory", "guess", "10.0.0.7")
        with pytest.raises(F5RestError, match="too many failed attempts for user mallory from 10.0.0.7"):
            await authenticator.login("mallory", "guess", "10.0.0.7")
        assert (await authenticator.login("admin", "admin", "10.0.0.7")).user == "admin"

    asyncio.run(attempts())


def test_a_login_body_over_a_few_kilobytes_is_refused_with_413_before_it_is_read(f5):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with context.wrap_socket(socket.create_connection(("127.0.0.1", f5.server.port), timeout=5)) as connection:
        connection.sendall(
            f"POST {LOGIN} HTTP/1.1\r\nHost: f5\r\nContent-Type: application/json\r\n"
            f"Content-Length: {2 * 1024 * 1024}\r\n\r\n".encode() + b'{"username": "admin", "password": "'
        )
        answer = connection.recv(65536)  # the rest of the 2 MB is never sent: the answer cannot wait for it

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"larger than 4096 bytes" in answer
