"""Where the pipeline's status lines and messages go.

The pipeline says what happens; whoever runs it supplies the console it goes to: the CLI its
stderr console (`supply_console`), so the pipeline never imports the CLI. Run from Python
(tests, benchmarks), it is a plain console on stderr. rich is imported on first use.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class _SuppliedConsole:
    def __init__(self) -> None:
        self._supplied: "Console | None" = None

    def supply(self, console: "Console") -> None:
        self._supplied = console

    @property
    def _console(self) -> "Console":
        if self._supplied is None:
            from rich.console import Console

            self._supplied = Console(stderr=True)
        return self._supplied

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console, name)

    # Special methods are looked up on the type, not through __getattr__.
    def __enter__(self) -> "Console":
        return self._console.__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self._console.__exit__(*exc_info)


console: "Console" = _SuppliedConsole()  # type: ignore[assignment]


def supply_console(supplied: "Console") -> None:
    """Send the pipeline's output to `supplied` from now on."""
    console.supply(supplied)  # type: ignore[attr-defined]
