"""The inner loop: `envbuilder dev` (saved files into the running environment) and `envbuilder logs`."""

from typing import TYPE_CHECKING, Annotated

import typer

from envbuilder.cli.app import app
from envbuilder.cli.console import console
from envbuilder.cli.exit_codes import exit_codes

if TYPE_CHECKING:
    from envbuilder.pipeline.logs import LogLine

NameArgument = Annotated[str | None, typer.Argument(help="Environment. Default: <user>-<git branch>.")]


def print_log_line(line: "LogLine", as_json: bool = False) -> None:
    """One line on stdout: `service/pod | text` with the pod's colour, or one JSON object."""
    from rich.text import Text

    if as_json:
        console.out(line.as_json(), highlight=False)
        return
    console.print(Text.assemble((line.prefix, line.colour), " | ", line.text), soft_wrap=True)


@app.command(epilog=exit_codes("logs"))
def logs(
    name: NameArgument = None,
    services: Annotated[list[str] | None, typer.Argument(help="Services to show (default: all, the broker and f5-sync too).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming; new pods join as they start.")] = False,
    since: Annotated[str | None, typer.Option("--since", help="Only lines this recent, e.g. 10m, 1h.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line: service, source, time, line.")] = False,
) -> None:
    """The output of every pod and classic container of an environment, each line prefixed with its service/pod."""
    import asyncio

    from envbuilder.errors import InputError
    from envbuilder.pipeline.logs import LogReader, chosen_services
    from envbuilder.spec.names import default_name, validate_name
    from envbuilder.spec.profile import parse_duration
    from envbuilder.state.records import load_record

    record = load_record(validate_name(name) if name else default_name())
    try:
        since_seconds = int(parse_duration(since).total_seconds()) if since else None
    except ValueError as error:
        raise InputError(f"--since: {error}") from None
    reader = LogReader(record, chosen_services(record, services or []), lambda line: print_log_line(line, as_json))
    if follow:
        asyncio.run(_until_terminated(reader.follow(since_seconds)))
    else:
        asyncio.run(reader.show(since_seconds))


async def _until_terminated(work) -> None:
    """`work`, cancelled (its children stopped) on SIGTERM as on Ctrl-C."""
    import asyncio
    import signal

    task = asyncio.ensure_future(work)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


@app.command(epilog=exit_codes("dev"))
def dev(
    name: NameArgument = None,
    services: Annotated[str | None, typer.Option("--services", "-s", help="Comma-separated services to watch. "
                                                 "Default: every service of the environment that opted in.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not show the watched services' logs.")] = False,
) -> None:
    """Put saved source files into the running environment: copied into every container of the service and
    its process restarted in place, in seconds; a change sync cannot carry rebuilds that image and rolls it."""
    from envbuilder.cli.console import err_console
    from envbuilder.pipeline.dev import dev as run_dev
    from envbuilder.spec.names import default_name, validate_name

    chosen = [service.strip() for service in (services or "").split(",") if service.strip()]
    run_dev(validate_name(name) if name else default_name(), chosen,
            # soft_wrap: a cycle is one line, also in a log file or a pipe (grep)
            say=lambda message: err_console.print(message, highlight=False, soft_wrap=True),
            show_log=None if quiet else print_log_line)
