"""The inner loop: `envbuilder dev` (saved files into the running environment) and `envbuilder logs`."""

from typing import TYPE_CHECKING, Annotated

import typer

from envbuilder.cli.app import app
from envbuilder.cli.console import console

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


@app.command()
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
