"""Basic auth and BIG-IP's token auth (`X-F5-Auth-Token`), with BIG-IP's token fields.

Tokens live in memory: a restarted mock asks clients to log in again, which every token
client handles (a real BIG-IP forgets tokens on restart too).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from envbuilder.components.f5mock.errors import F5RestError, unauthorized

DEFAULT_TIMEOUT = 1200
MAX_TIMEOUT = 36000


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


class Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password
        self._tokens: dict[str, Token] = {}

    def credentials_match(self, username: str, password: str) -> bool:
        return hmac.compare_digest(username.encode(), self._username.encode()) and hmac.compare_digest(
            password.encode(), self._password.encode()
        )

    def login(self, username: str, password: str) -> Token:
        if not self.credentials_match(username, password):
            raise F5RestError(401, "Authentication failed.")
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

    def authenticate(self, headers: Any) -> str:
        """The user a request comes from; a token, when sent, takes precedence over Basic."""
        token = headers.get("X-F5-Auth-Token")
        if token:
            return self.token(token).user
        header = headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise unauthorized("no user authentication header or token detected.")
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise unauthorized("malformed Basic authorization header.") from None
        if not self.credentials_match(username, password):
            raise unauthorized(f"user {username} was not authenticated.")
        return username

    def _drop_expired(self) -> None:
        now = _micros()
        for value in [v for v, token in self._tokens.items() if token.expiration_micros <= now]:
            del self._tokens[value]
