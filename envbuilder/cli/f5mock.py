"""`envbuilder f5-mock`: run the mock F5 BIG-IP."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from envbuilder.cli.app import app
from envbuilder.components.f5mock import contract
from envbuilder.errors import InputError

f5_mock = typer.Typer(help="The mock F5 BIG-IP (iControl REST + forwarding virtual servers).", no_args_is_help=True)
app.add_typer(f5_mock, name="f5-mock")


def parse_listen(listen: str, option: str = "--listen") -> tuple[str, int]:
    """`host:port` or `[ipv6]:port`."""
    host, separator, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not separator or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"{option} {listen!r} is not HOST:PORT", hint=f"e.g. {option} 127.0.0.1:8443")
    return host, int(port)


def read_password(password_file: Path | None) -> str:
    """From the file, else the environment: argv is readable by every local user (`ps`)."""
    if password_file is None:
        return os.environ.get(contract.PASSWORD_VARIABLE, "admin")
    try:
        return password_file.read_text().removesuffix("\n").removesuffix("\r")
    except OSError as error:
        raise InputError(f"--password-file {password_file}: {error.strerror or error}") from None


@f5_mock.command()
def serve(
    state_dir: Annotated[Path, typer.Option(help="Configuration, certificate: kept across restarts.")],
    listen: Annotated[str, typer.Option(help="HOST:PORT of the HTTPS API.")] = "127.0.0.1:8443",
    username: Annotated[str, typer.Option(envvar=contract.USERNAME_VARIABLE, help="API user.")] = "admin",
    password_file: Annotated[
        Path | None,
        typer.Option(
            envvar=contract.PASSWORD_FILE_VARIABLE,
            help="File holding the API password (else $F5MOCK_PASSWORD, else admin; never on the command line).",
        ),
    ] = None,
    bind_virtuals_to: Annotated[
        str | None,
        typer.Option(
            envvar="F5MOCK_BIND_VIRTUALS_TO",
            help="Listen for every virtual server on this address instead of its destination's.",
        ),
    ] = None,
    monitor_interval: Annotated[float, typer.Option(min=0.05, help="Seconds between TCP health probes.")] = 5.0,
    install_routes: Annotated[
        bool,
        typer.Option(
            envvar="F5MOCK_INSTALL_ROUTES",
            help="Install the static routes (/mgmt/tm/net/route) in this network namespace (needs NET_ADMIN; "
            "the container's option: a host's own table is not the mock's to change).",
        ),
    ] = False,
    bgp_asn: Annotated[
        int | None,
        typer.Option(
            envvar=contract.BGP_ASN_VARIABLE,
            min=1,
            max=4294967295,
            help="Learn routes over BGP with this AS number: nodes that connect as peers (any address, their AS "
            "from their OPEN) have the networks they advertise routed through their next hop (with --install-routes).",
        ),
    ] = None,
    bgp_listen: Annotated[
        str, typer.Option(envvar=contract.BGP_LISTEN_VARIABLE, help="HOST:PORT the BGP speaker listens on (with --bgp-asn).")
    ] = "0.0.0.0:179",
) -> None:
    """Serve the iControl REST API over HTTPS until interrupted; logs are JSON lines on stderr."""
    from envbuilder.components.f5mock.events import log_to_stderr
    from envbuilder.components.f5mock.routing import KernelRoutes
    from envbuilder.components.f5mock.server import F5MockServer, new_event_loop

    host, port = parse_listen(listen)
    bgp_host, bgp_port = parse_listen(bgp_listen, "--bgp-listen")
    password = read_password(password_file)
    log_to_stderr()
    server = F5MockServer(
        state_dir,
        host=host,
        port=port,
        username=username,
        password=password,
        bind_virtuals_to=bind_virtuals_to,
        monitor_interval=monitor_interval,
        routes=KernelRoutes() if install_routes else None,
        bgp_asn=bgp_asn,
        bgp_host=bgp_host,
        bgp_port=bgp_port,
    )
    loop = new_event_loop()
    try:
        loop.run_until_complete(server.serve_until_signalled())
    except OSError as error:
        raise InputError(f"cannot serve on {listen}: {error.strerror or error}") from None
    finally:
        loop.close()
