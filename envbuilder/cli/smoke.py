"""`envbuilder smoke`: prove an environment works, and say why when it does not."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from envbuilder.cli.app import app
from envbuilder.cli.exit_codes import exit_codes
from envbuilder.cli.console import console, err_console

if TYPE_CHECKING:
    from envbuilder.reports.model import SmokeRun


@app.command(epilog=exit_codes("smoke"))
def smoke(
    name: Annotated[str | None, typer.Argument(help="Environment. Default: <user>-<git branch>.")] = None,
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="Write JUnit XML, JSON and an HTML page here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON instead of a table.")] = False,
) -> None:
    """Run the smoke checks concurrently; exit 1 when one fails, with the evidence of why."""
    import asyncio
    from datetime import UTC, datetime

    from envbuilder.errors import EnvbuilderError
    from envbuilder.reports import write_reports
    from envbuilder.reports.json_report import run_to_json
    from envbuilder.reports.model import Phase, SmokeRun
    from envbuilder.smoke.suite import smoke_environment
    from envbuilder.spec.names import default_name, validate_name
    from envbuilder.state.records import load_record

    record = load_record(validate_name(name) if name else default_name())
    err_console.print(f"smoke checks against {record.name} (namespace {record.namespace}) ...")
    started_at = datetime.now(UTC)
    checks = asyncio.run(smoke_environment(record))
    run = SmokeRun(
        environment=record.name,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        checks=tuple(checks),
        phases=tuple(Phase.from_record(phase) for phase in record.phases),
    )
    if as_json:
        console.print_json(run_to_json(run))
    else:
        _print_run(run)
    if report_dir:
        for path in write_reports(report_dir, run):
            err_console.print(f"wrote {path}")
    failed = [check.name for check in checks if check.failed]
    if failed:
        raise EnvbuilderError(f"{len(failed)} of {len(checks)} smoke checks failed: {', '.join(failed)}")


def _print_run(run: "SmokeRun") -> None:
    from rich.table import Table
    from rich.text import Text

    colours = {"passed": "green", "failed": "red", "skipped": "dim"}
    table = Table("status", "check", "time", "summary", box=None)
    for check in run.checks:
        table.add_row(
            f"[{colours[check.status.value]}]{check.status.value}[/]",
            check.name,
            f"{check.duration_seconds:.1f}s",
            Text(check.summary),
        )
    console.print(table)
    for check in run.checks:
        if check.failed and check.diagnosis:
            console.rule(f"[red]{check.name}[/]: why")
            console.print(check.diagnosis, highlight=False, markup=False)
