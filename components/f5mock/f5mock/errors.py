"""REST errors in the bodies BIG-IP answers with, and the errors that stop the mock from starting."""

from __future__ import annotations

from typing import Any


class StartupError(Exception):
    """The mock cannot start: `f5-mock serve` prints the message (and hint) and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(StartupError):
    """A bad option or setting: nothing was started (exit 2)."""

    exit_code = 2


class F5RestError(Exception):
    """An API answer other than 200; `body` is what BIG-IP would send."""

    def __init__(self, status: int, message: str, *, api_error: int = 3) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.api_error = api_error

    @property
    def body(self) -> dict[str, Any]:
        if self.status == 401:
            return {
                "code": 401,
                "message": self.message,
                "referer": "",
                "restOperationId": 0,
                "kind": ":resterrorresponse",
            }
        return {"code": self.status, "message": self.message, "errorStack": [], "apiError": self.api_error}


def not_found(kind_label: str, identity: str) -> F5RestError:
    return F5RestError(404, f"01020036:3: The requested {kind_label} ({identity}) was not found.")


def already_exists(kind_label: str, identity: str, partition: str) -> F5RestError:
    return F5RestError(
        409, f"01020066:3: The requested {kind_label} ({identity}) already exists in partition {partition}."
    )


def unauthorized(reason: str) -> F5RestError:
    return F5RestError(401, f"Authorization failed: {reason}")


def invalid_json() -> F5RestError:
    return F5RestError(400, "Found invalid JSON body in the request.", api_error=1)
