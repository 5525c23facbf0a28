"""Where the pipeline's status lines and messages go: stderr, through one console the CLI shares.

The pipeline owns it so it never imports the CLI; the CLI prints its own messages to the same
object (`cli.console.err_console`). rich is imported on first use, not at start-up, so
`envbuilder --help` stays fast.
"""

from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """A rich Console made on first use."""

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


console: "Console" = LazyConsole(stderr=True)  # type: ignore[assignment]
