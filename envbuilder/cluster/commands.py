"""Running external commands with results that are easy to test and failures that explain themselves."""

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from envbuilder.errors import EnvbuilderError


@dataclass(frozen=True)
class CommandResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandFailed(EnvbuilderError):
    def __init__(self, result: CommandResult, what: str) -> None:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        super().__init__(f"{what} failed (exit {result.returncode}): {' '.join(result.args)}\n{tail}")
        self.result = result


Runner = Callable[..., CommandResult]


def run(
    args: Sequence[str], *, input: str | bytes | None = None, timeout: float | None = None, env: dict | None = None
) -> CommandResult:
    """`input` as bytes for binary data (an archive); the output is text either way."""
    try:
        completed = subprocess.run(
            list(args), input=input, capture_output=True, text=not isinstance(input, bytes), timeout=timeout, env=env
        )
    except FileNotFoundError:
        raise EnvbuilderError(f"{args[0]} is not installed") from None
    except subprocess.TimeoutExpired as expired:
        raise EnvbuilderError(f"{' '.join(args)} did not finish within {timeout:.0f} s") from expired
    stdout, stderr = completed.stdout, completed.stderr
    if isinstance(input, bytes):
        stdout, stderr = stdout.decode(errors="replace"), stderr.decode(errors="replace")
    return CommandResult(tuple(args), completed.returncode, stdout, stderr)


def check(result: CommandResult, what: str) -> CommandResult:
    if not result.ok:
        raise CommandFailed(result, what)
    return result
