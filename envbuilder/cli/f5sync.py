"""`envbuilder f5-sync run`: the F5 sync controller as a host process."""

import os
from pathlib import Path
from typing import Annotated

import typer

from envbuilder.cli.app import app
from envbuilder.errors import InputError

f5sync_app = typer.Typer(
    help="Keep the F5's pools and virtual servers in step with Kubernetes Services.", no_args_is_help=True
)
app.add_typer(f5sync_app, name="f5-sync")


@f5sync_app.command("run")
def run(
    kubeconfig: Annotated[
        Path | None,
        typer.Option(
            help="Kubeconfig of the cluster to watch (default: $KUBECONFIG, then ~/.kube/config).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    listen: Annotated[
        str | None, typer.Option(help="HOST:PORT for /metrics and /healthz (default: $F5SYNC_LISTEN or 127.0.0.1:8080).")
    ] = None,
) -> None:
    """Run the controller in the foreground; settings come from F5_* and F5SYNC_* environment variables.

    Logs every F5 change as a JSON line on stdout. Stop it with Ctrl-C.
    """
    import pydantic

    from envbuilder.components.f5sync import contract, logs
    from envbuilder.components.f5sync.service import run_until_stopped
    from envbuilder.components.f5sync.settings import Settings

    environ = dict(os.environ)
    if listen is not None:
        environ[contract.F5SYNC_LISTEN] = listen
    try:
        settings = Settings.from_env(environ)
    except pydantic.ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise InputError(
            f"invalid f5-sync settings: {problems}",
            hint="every setting is described in docs/f5-sync.md",
        ) from None
    logs.configure()
    run_until_stopped(settings, kubeconfig=str(kubeconfig) if kubeconfig else None)
