"""`envbuilder doctor`: is this machine ready for `up` and for the tests?"""

import json
from dataclasses import asdict
from typing import Annotated

import typer

from envbuilder.cli.app import app
from envbuilder.cli.exit_codes import exit_codes
from envbuilder.cli.console import console

MARKS = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]"}


@app.command(epilog=exit_codes("doctor"))
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check every prerequisite of `up` and of the tests, one line each with its fix.
    Exit 0 when all pass (warnings allowed), 1 when something needed is missing."""
    from envbuilder.pipeline.doctor import diagnose

    checks = diagnose()
    if as_json:
        console.print_json(json.dumps([asdict(check) for check in checks]))
    else:
        for check in checks:
            fix = f" [dim]→ {check.fix}[/]" if check.outcome != "ok" and check.fix else ""
            scope = " [dim](tests)[/]" if check.needed_by == "tests" else ""
            console.print(f"{MARKS[check.outcome]} [bold]{check.name}[/]{scope}: {check.detail}{fix}", highlight=False)
    if any(check.outcome == "fail" for check in checks):
        raise typer.Exit(1)
