"""The typer application and the one place where errors become messages and exit codes."""

from typing import Any

import typer
from typer.core import TyperGroup

from envbuilder.cli.console import err_console
from envbuilder.errors import EnvbuilderError


class _ErrorReportingGroup(TyperGroup):
    """Turns an EnvbuilderError raised by any command into one message and its exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EnvbuilderError as error:
            err_console.print(f"[bold red]error:[/] {error}", highlight=False)
            if error.hint:
                err_console.print(f"[dim]hint:[/] {error.hint}", highlight=False)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        except (typer.TyperException, typer.Exit, typer.Abort):  # typer's own: usage errors, exits
            raise
        except Exception as error:  # noqa: BLE001 - a bug: said in one line, the traceback kept in a file
            log = _keep_traceback()
            err_console.print(f"[bold red]error:[/] unexpected {type(error).__name__}: {error}".strip(), highlight=False)
            err_console.print(f"[dim]hint:[/] this is a bug of envbuilder; the traceback is in {log}", highlight=False)
            raise typer.Exit(1) from None


def _keep_traceback() -> str:
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="envbuilder-error-", suffix=".log", delete=False) as log:
        traceback.print_exc(file=log)
    return log.name


app = typer.Typer(
    name="envbuilder",
    cls=_ErrorReportingGroup,
    help="Disposable, prod-like Kubernetes environments: kind with a real pod network (--pod-network: Calico "
    "where its manifest and images can be had, else kube-router from the offline node image), RabbitMQ, a mock F5 "
    "and your services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rich formatting costs more start-up time than the help is worth.
    rich_markup_mode=None,
)
