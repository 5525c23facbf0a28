"""Where output goes: data on stdout, progress and messages on stderr.

rich is imported on first use, not at start-up: `envbuilder --help` stays fast.
"""

from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr

    @cached_property
    def _console(self) -> "Console":
        from rich.console import Console

        return Console(stderr=self._stderr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console, name)

    # Special methods are looked up on the type, not through __getattr__.
    def __enter__(self) -> "Console":
        return self._console.__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self._console.__exit__(*exc_info)


console: "Console" = _LazyConsole(stderr=False)  # type: ignore[assignment]
err_console: "Console" = _LazyConsole(stderr=True)  # type: ignore[assignment]
