"""The errors every layer raises; the CLI turns them into a message and an exit code."""


class EnvbuilderError(Exception):
    """The environment or a check failed (exit 1)."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class InputError(EnvbuilderError):
    """Bad usage or bad input: nothing was created (exit 2)."""

    exit_code = 2


class PrerequisiteError(InputError):
    """A tool, the Docker engine or a resource is missing: nothing was created (exit 2)."""
