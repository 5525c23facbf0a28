"""BIG-IP object names and addresses: `~Partition~name` URL tokens, `/Partition/name` full
paths, pool member names (`ip:port`, IPv6 `ip.port`) and virtual destinations."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from f5mock.errors import F5RestError

DEFAULT_PARTITION = "Common"
# ASCII only and matched whole (`fullmatch`: `$` would let a trailing newline through), as
# BIG-IP refuses any other character; `\d` and `str.isdigit` take other scripts' digits.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:%-]{0,254}")
_FOLDER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_ROUTE_DOMAIN = re.compile(r"[0-9]{1,5}")
_PORT = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True, order=True)
class ObjectPath:
    """Where an object lives: partition, optional sub-folder, name."""

    partition: str
    name: str
    sub_path: str = ""

    @property
    def full_path(self) -> str:
        folders = f"/{self.partition}/{self.sub_path}/" if self.sub_path else f"/{self.partition}/"
        return folders + self.name

    @property
    def url_token(self) -> str:
        """The `~Common~web` form used in URLs."""
        return self.full_path.replace("/", "~")


def _invalid_name(text: str) -> F5RestError:
    return F5RestError(400, f"01070022:3: The requested object name ({text}) is invalid.")


def make_path(name: str, partition: str | None = None, sub_path: str | None = None) -> ObjectPath:
    """The path of an object given as a body's `name` (short or full path) + `partition`."""
    if name.startswith("/"):
        parts = name.split("/")[1:]
        if len(parts) not in (2, 3):
            raise _invalid_name(name)
        full = ObjectPath(parts[0], parts[-1], parts[1] if len(parts) == 3 else "")
        if (partition and partition != full.partition) or (sub_path and sub_path != full.sub_path):
            raise F5RestError(400, f"The partition or subPath given do not match the full path name ({name}).")
        path = full
    else:
        path = ObjectPath(partition or DEFAULT_PARTITION, name, sub_path or "")
    for folder in filter(None, (path.partition, path.sub_path)):
        if not _FOLDER.fullmatch(folder):
            raise F5RestError(400, f"01020036:3: The requested folder (/{folder}) was not found.")
    if not _NAME.fullmatch(path.name):
        raise _invalid_name(name)
    return path


def parse_url_token(token: str) -> ObjectPath:
    """`~Common~web`, `~Common~app~web` or a bare `web` (partition Common)."""
    if token.startswith("~"):
        return make_path(token.replace("~", "/"))
    return make_path(token)


def reference_path(reference: str, default_partition: str) -> ObjectPath:
    """A reference to another object in a body (`/Common/web` or `web`)."""
    return make_path(reference, None if reference.startswith("/") else default_partition)


@dataclass(frozen=True)
class HostAddress:
    """An IP address with BIG-IP's optional route-domain suffix (`10.0.0.1%1`)."""

    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    route_domain: int | None = None

    def __str__(self) -> str:
        return f"{self.ip}%{self.route_domain}" if self.route_domain is not None else str(self.ip)


def parse_address(text: str) -> HostAddress:
    ip_text, _, route_domain = text.partition("%")
    try:
        ip = ipaddress.ip_address(ip_text)
    except ValueError:
        raise F5RestError(400, f'01070712:3: Invalid IP address "{text}".') from None
    if not route_domain:
        return HostAddress(ip)
    if not _ROUTE_DOMAIN.fullmatch(route_domain):
        raise F5RestError(400, f'01070712:3: Invalid IP address "{text}".')
    # Route domain 0 is the default one: BIG-IP drops the suffix.
    return HostAddress(ip, int(route_domain) or None)


def is_address(text: str) -> bool:
    try:
        parse_address(text)
    except F5RestError:
        return False
    return True


def parse_port(text: str, context: str) -> int:
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise F5RestError(400, f"01070734:3: Configuration error: invalid port ({text}) in {context}.")
    return int(text)


def split_service(text: str) -> tuple[str, str]:
    """`host:port`, or IPv6 `host.port`, into its two halves (as BIG-IP writes them)."""
    host, separator, port = text.rpartition(":")
    if separator and ":" not in host:
        return host, port
    host, separator, port = text.rpartition(".")
    if separator and ":" in host:
        return host, port
    raise F5RestError(400, f"01070734:3: Configuration error: ({text}) is not of the form address:port.")


def join_service(host: str, port: int) -> str:
    return f"{host}.{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Destination:
    """A virtual server's listening address, e.g. `/Common/10.0.0.100:80`."""

    partition: str
    address: HostAddress
    port: int

    def __str__(self) -> str:
        return f"/{self.partition}/{join_service(str(self.address), self.port)}"


def parse_destination(text: str, default_partition: str) -> Destination:
    """Accepts `/Common/10.0.0.100:80`, `10.0.0.100:80`, `10.0.0.100%0:80`, IPv6 `addr.port`."""
    partition = default_partition
    if text.startswith("/"):
        partition, _, text = text[1:].partition("/")
        if not _FOLDER.fullmatch(partition):
            raise F5RestError(400, f"01020036:3: The requested folder (/{partition}) was not found.")
    host, port = split_service(text)
    return Destination(partition, parse_address(host), parse_port(port, f"destination {text}"))
