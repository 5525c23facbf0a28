"""`f5-sync run`: the controller in the foreground (the container's entrypoint, or a process on a host).

argparse rather than a CLI framework: the image installs nothing the controller does not run on.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog="f5-sync", allow_abbrev=False, description="Keep the F5's pools and virtual servers in step with Kubernetes Services."
    )
    commands = command.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", allow_abbrev=False,
        help="Run the controller in the foreground; settings come from F5_* and F5SYNC_* environment variables "
        "(docs/f5-sync.md). Logs every F5 change as a JSON line on stdout. Stop it with Ctrl-C or SIGTERM.",
    )
    run.add_argument(
        "--kubeconfig", type=Path,
        help="Kubeconfig of the cluster to watch (default: the pod's service account, else $KUBECONFIG, "
        "then ~/.kube/config).",
    )
    run.add_argument("--listen", help="HOST:PORT for /metrics and /healthz (default: $F5SYNC_LISTEN or 127.0.0.1:8080).")
    return command


def fail(message: str, hint: str | None, exit_code: int) -> NoReturn:
    print(f"f5-sync: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    sys.exit(exit_code)


def main(arguments: Sequence[str] | None = None) -> None:
    options = parser().parse_args(arguments)  # bad usage: argparse says so and exits 2
    if options.kubeconfig is not None and not options.kubeconfig.is_file():
        fail(f"--kubeconfig {options.kubeconfig} is not a file", None, 2)

    import pydantic

    from f5sync import contract, logs
    from f5sync.kubeconfig import KubeconfigError
    from f5sync.service import run_until_stopped
    from f5sync.settings import Settings

    environ = dict(os.environ)
    if options.listen is not None:
        environ[contract.F5SYNC_LISTEN] = options.listen
    try:
        settings = Settings.from_env(environ)
    except pydantic.ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        fail(f"invalid f5-sync settings: {problems}", "every setting is described in docs/f5-sync.md", 2)
    logs.configure()
    try:
        run_until_stopped(settings, kubeconfig=str(options.kubeconfig) if options.kubeconfig else None)
    except KubeconfigError as error:
        fail(str(error), None, 1)
