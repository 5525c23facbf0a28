"""Where output goes: data on stdout, progress and messages on stderr (the pipeline's console)."""

from typing import TYPE_CHECKING

from envbuilder.pipeline.output import LazyConsole
from envbuilder.pipeline.output import console as err_console

if TYPE_CHECKING:
    from rich.console import Console

console: "Console" = LazyConsole(stderr=False)  # type: ignore[assignment]

__all__ = ["console", "err_console"]
