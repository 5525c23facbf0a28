"""`f5-mock serve`: run the mock F5 BIG-IP (the container's entrypoint, or a process on a host).

argparse rather than a CLI framework: the image installs nothing the mock does not run on.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from f5mock import contract
from f5mock.errors import StartupError, UsageError

BIND_VIRTUALS_TO_VARIABLE = "F5MOCK_BIND_VIRTUALS_TO"
INSTALL_ROUTES_VARIABLE = "F5MOCK_INSTALL_ROUTES"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"", "0", "false", "no", "off"}


def parse_listen(listen: str, option: str = "--listen") -> tuple[str, int]:
    """`host:port` or `[ipv6]:port`."""
    host, separator, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not separator or not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise UsageError(f"{option} {listen!r} is not HOST:PORT", hint=f"e.g. {option} 127.0.0.1:8443")
    return host, int(port)


def read_password(password_file: Path | None) -> str:
    """From the file, else the environment: argv is readable by every local user (`ps`)."""
    if password_file is None:
        return os.environ.get(contract.PASSWORD_VARIABLE, "admin")
    try:
        return password_file.read_text().removesuffix("\n").removesuffix("\r")
    except OSError as error:
        raise UsageError(f"--password-file {password_file}: {error.strerror or error}") from None


def bounded(kind: type, low: float, high: float | None = None):
    """An argparse type: `kind` within [low, high]."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is not in [{low}, {high if high is not None else '...'}]")
        return value

    return parse


def environment_flag(variable: str) -> bool:
    value = os.environ.get(variable, "").strip().lower()
    if value not in TRUE_WORDS | FALSE_WORDS:
        raise UsageError(f"${variable}={value!r} is neither true nor false", hint="e.g. 1 or 0")
    return value in TRUE_WORDS


def parser() -> argparse.ArgumentParser:
    environ = os.environ
    command = argparse.ArgumentParser(
        prog="f5-mock", allow_abbrev=False, description="The mock F5 BIG-IP (iControl REST + forwarding virtual servers)."
    )
    commands = command.add_subparsers(dest="command", required=True)
    # No abbreviations: `--password SECRET` must be refused, not taken for --password-file.
    serve = commands.add_parser(
        "serve", allow_abbrev=False,
        help="Serve the iControl REST API over HTTPS until interrupted; logs are JSON lines on stderr.",
    )
    serve.add_argument("--state-dir", type=Path, required=True, help="Configuration, certificate: kept across restarts.")
    serve.add_argument("--listen", default="127.0.0.1:8443", help="HOST:PORT of the HTTPS API (default: %(default)s).")
    serve.add_argument(
        "--username", default=environ.get(contract.USERNAME_VARIABLE, "admin"),
        help=f"API user (default: ${contract.USERNAME_VARIABLE}, else admin).",
    )
    serve.add_argument(
        "--password-file", type=Path, default=environ.get(contract.PASSWORD_FILE_VARIABLE) or None,
        help=f"File holding the API password (default: ${contract.PASSWORD_FILE_VARIABLE}; without one, "
        f"${contract.PASSWORD_VARIABLE}, else admin; never on the command line).",
    )
    serve.add_argument(
        "--bind-virtuals-to", default=environ.get(BIND_VIRTUALS_TO_VARIABLE) or None,
        help=f"Listen for every virtual server on this address instead of its destination's "
        f"(default: ${BIND_VIRTUALS_TO_VARIABLE}).",
    )
    serve.add_argument(
        "--monitor-interval", type=bounded(float, 0.05), default=5.0,
        help="Seconds between TCP health probes (default: %(default)s).",
    )
    serve.add_argument(
        "--install-routes", action=argparse.BooleanOptionalAction, default=None,
        help="Install the static routes (/mgmt/tm/net/route) in this network namespace (needs NET_ADMIN; the "
        f"container's option: a host's own table is not the mock's to change). Default: ${INSTALL_ROUTES_VARIABLE}, "
        "else off.",
    )
    serve.add_argument(
        "--bgp-asn", type=bounded(int, 1, 4294967295), default=environ.get(contract.BGP_ASN_VARIABLE) or None,
        help="Learn routes over BGP with this AS number: nodes that connect as peers (any address, their AS from "
        "their OPEN) have the networks they advertise routed through their next hop (with --install-routes). "
        f"Default: ${contract.BGP_ASN_VARIABLE}.",
    )
    serve.add_argument(
        "--bgp-listen", default=environ.get(contract.BGP_LISTEN_VARIABLE) or "0.0.0.0:179",
        help=f"HOST:PORT the BGP speaker listens on, with --bgp-asn (default: ${contract.BGP_LISTEN_VARIABLE}, "
        "else %(default)s).",
    )
    serve.add_argument(
        "--bgp-peers", default=environ.get(contract.BGP_PEERS_VARIABLE) or None,
        help="With --bgp-asn: the only peers taken, comma-separated addresses, networks or host names (resolved when "
        f"a peer connects); any other gets a NOTIFICATION. Default: ${contract.BGP_PEERS_VARIABLE}, else any peer.",
    )
    return command


def serve(options: argparse.Namespace) -> None:
    from f5mock.events import log_to_stderr
    from f5mock.routing import KernelRoutes
    from f5mock.server import F5MockServer, new_event_loop

    host, port = parse_listen(options.listen)
    bgp_host, bgp_port = parse_listen(options.bgp_listen, "--bgp-listen")
    install_routes = (
        environment_flag(INSTALL_ROUTES_VARIABLE) if options.install_routes is None else options.install_routes
    )
    password = read_password(options.password_file)
    log_to_stderr()
    server = F5MockServer(
        options.state_dir,
        host=host,
        port=port,
        username=options.username,
        password=password,
        bind_virtuals_to=options.bind_virtuals_to,
        monitor_interval=options.monitor_interval,
        routes=KernelRoutes() if install_routes else None,
        bgp_asn=options.bgp_asn,
        bgp_host=bgp_host,
        bgp_port=bgp_port,
        bgp_peers=[peer.strip() for peer in options.bgp_peers.split(",") if peer.strip()] if options.bgp_peers else None,
    )
    loop = new_event_loop()
    try:
        loop.run_until_complete(server.serve_until_signalled())
    except OSError as error:
        raise UsageError(f"cannot serve on {options.listen}: {error.strerror or error}") from None
    finally:
        loop.close()


def main(arguments: Sequence[str] | None = None) -> None:
    options = parser().parse_args(arguments)  # bad usage: argparse says so and exits 2
    try:
        serve(options)
    except StartupError as error:
        print(f"f5-mock: error: {error}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        sys.exit(error.exit_code)
