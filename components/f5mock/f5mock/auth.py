"""Basic auth and BIG-IP's token auth (`X-F5-Auth-Token`), with BIG-IP's token fields.

Tokens live in memory: a restarted mock asks clients to log in again, which every token
client handles (a real BIG-IP forgets tokens on restart too).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from f5mock.errors import F5RestError, unauthorized
from f5mock.events import log_event

DEFAULT_TIMEOUT = 1200
MAX_TIMEOUT = 36000

# Guessing credentials or tokens: the first failures of a user from an address are free, then
# that user's attempts from that address are spaced SLOWDOWN apart until it has had none for
# FORGET_AFTER; one that would wait longer than MAX_WAIT is refused unchecked, so a flood holds
# no connection open either. Keyed by user and address, so that one client guessing cannot
# lock out the other users behind the same address (a NAT, the kind network).
FREE_FAILURES = 5
SLOWDOWN = 1.0
FORGET_AFTER = 60.0
MAX_WAIT = 10.0
MAX_SOURCES = 10_000


def _micros() -> int:
    return time.time_ns() // 1000


@dataclass
class Token:
    token: str
    user: str
    timeout: int
    start_micros: int
    last_update_micros: int

    @property
    def expiration_micros(self) -> int:
        return self.start_micros + self.timeout * 1_000_000

    def body(self) -> dict[str, Any]:
        start = datetime.fromtimestamp(self.start_micros / 1e6, tz=UTC)
        return {
            "token": self.token,
            "name": self.token,
            "userName": self.user,
            "authProviderName": "tmos",
            "user": {"link": f"https://localhost/mgmt/shared/authz/users/{self.user}"},
            "groupReferences": [],
            "timeout": self.timeout,
            "startTime": start.isoformat(timespec="milliseconds"),
            "partition": "[All]",
            "generation": 1,
            "lastUpdateMicros": self.last_update_micros,
            "expirationMicros": self.expiration_micros,
            "kind": "shared:authz:tokens:authtokenitemstate",
            "selfLink": f"https://localhost/mgmt/shared/authz/tokens/{self.token}",
        }


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    next_attempt: float = 0.0


# Who is throttled: (user, source address); the user is None for a token or a header that
# names none (they are throttled together, per address).
Attempt = tuple[str | None, str]


class Throttle:
    """Failed authentications by user and source address (bounded: the oldest are forgotten first)."""

    def __init__(self) -> None:
        self._sources: dict[Attempt, _Failures] = {}

    async def wait_turn(self, attempt: Attempt) -> None:
        """Returns when `attempt`'s user may try again from its address; raises a 401 if that is too far off."""
        failures = self._sources.get(attempt)
        now = time.monotonic()
        if failures is None or failures.count < FREE_FAILURES:
            return
        if now - failures.last > FORGET_AFTER:
            del self._sources[attempt]
            return
        turn = max(now, failures.next_attempt)
        if turn - now > MAX_WAIT:
            user, address = attempt
            who = f"for user {user} " if user is not None else ""
            raise unauthorized(f"too many failed attempts {who}from {address}; try again later.")
        failures.next_attempt = turn + SLOWDOWN
        await asyncio.sleep(turn - now)

    def failed(self, attempt: Attempt) -> int:
        failures = self._sources.pop(attempt, None) or _Failures()  # re-inserted: newest last
        if len(self._sources) >= MAX_SOURCES:
            del self._sources[next(iter(self._sources))]
        failures.count += 1
        failures.last = time.monotonic()
        self._sources[attempt] = failures
        return failures.count

    def succeeded(self, attempt: Attempt) -> None:
        self._sources.pop(attempt, None)


class Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password
        self._tokens: dict[str, Token] = {}
        self.throttle = Throttle()

    def credentials_match(self, username: str, password: str) -> bool:
        return hmac.compare_digest(username.encode(), self._username.encode()) and hmac.compare_digest(
            password.encode(), self._password.encode()
        )

    async def login(self, username: str, password: str, source: str) -> Token:
        await self.throttle.wait_turn((username, source))
        if not self.credentials_match(username, password):
            self._failed(source, username, "login")
            raise F5RestError(401, "Authentication failed.")
        self.throttle.succeeded((username, source))
        self._drop_expired()
        now = _micros()
        token = Token(base64.b32encode(secrets.token_bytes(15)).decode(), username, DEFAULT_TIMEOUT, now, now)
        self._tokens[token.token] = token
        return token

    def token(self, value: str) -> Token:
        token = self._tokens.get(value)
        if token is None or token.expiration_micros <= _micros():
            raise unauthorized(f"X-F5-Auth-Token {value} does not exist.")
        return token

    def extend(self, value: str, timeout: int) -> Token:
        token = self.token(value)
        token.timeout = timeout
        token.last_update_micros = _micros()
        return token

    def revoke(self, value: str) -> Token:
        return self._tokens.pop(self.token(value).token)

    async def authenticate(self, headers: Any, source: str) -> str:
        """The user a request from `source` comes from; a token, when sent, takes precedence
        over Basic. Failures are logged and, repeated, slowed (`Throttle`)."""
        token = headers.get("X-F5-Auth-Token")
        header = headers.get("Authorization", "")
        if not token and not header:
            raise unauthorized("no user authentication header or token detected.")
        if token:
            await self.throttle.wait_turn((None, source))
            try:
                user = self.token(token).user
            except F5RestError:
                self._failed(source, None, "token")
                raise
            self.throttle.succeeded((None, source))
            return user
        scheme, _, encoded = header.partition(" ")
        try:
            if scheme.lower() != "basic":
                raise ValueError
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            await self.throttle.wait_turn((None, source))
            self._failed(source, None, "basic")
            raise unauthorized("malformed Basic authorization header.") from None
        await self.throttle.wait_turn((username, source))
        if not self.credentials_match(username, password):
            self._failed(source, username, "basic")
            raise unauthorized(f"user {username} was not authenticated.")
        self.throttle.succeeded((username, source))
        return username

    def _failed(self, source: str, user: str | None, method: str) -> None:
        failures = self.throttle.failed((user, source))
        log_event("auth-failed", logging.WARNING, user=user, source=source, method=method, failures=failures)

    def _drop_expired(self) -> None:
        now = _micros()
        for value in [v for v, token in self._tokens.items() if token.expiration_micros <= now]:
            del self._tokens[value]
