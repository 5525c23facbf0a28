"""Host port allocation: environments side by side never collide on 127.0.0.1, whichever home made them.

A port is reserved machine-wide, not per home: an environment's ports are allocated when `up`
starts, but bound only minutes later (when the F5 container starts), so a check that a port is
free cannot see another home's reservation. Each reservation is one file, `<registry>/<port>`,
created exclusively (the atomic claim) and naming the home, its identity and the environment.
The registry (`ENVBUILDER_PORT_REGISTRY`, default /var/tmp/envbuilder-ports: it survives
reboots, as stopped containers keep their ports) is sticky and world-writable, like /tmp, so
every user can claim ports and none can take back another's.
"""

import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from envbuilder.errors import EnvbuilderError, InputError
from envbuilder.state.home import state_home
from envbuilder.state.identity import home_identity

DEFAULT_RANGE = (42000, 42999)
DEFAULT_REGISTRY = Path("/var/tmp/envbuilder-ports")


@dataclass(frozen=True)
class Reservation:
    port: int
    home: str
    owner: str  # the home's identity
    environment: str

    def is_stale(self) -> bool:
        """Its home is gone (deleted with its environments): nothing can release it any more."""
        return not Path(self.home).is_dir()


def port_range() -> tuple[int, int]:
    configured = os.environ.get("ENVBUILDER_PORT_RANGE")
    if not configured:
        return DEFAULT_RANGE
    match = re.fullmatch(r"\s*([0-9]{1,5})\s*-\s*([0-9]{1,5})\s*", configured)  # ASCII digits only
    low, high = (int(match[1]), int(match[2])) if match else (0, 0)
    if not 1024 <= low <= high <= 65535:
        raise InputError(
            f"$ENVBUILDER_PORT_RANGE={configured!r} is not a range of ports like 42000-42999",
            hint="give LOW-HIGH with 1024 <= LOW <= HIGH <= 65535, or unset it",
        )
    return low, high


def registry() -> Path:
    path = Path(os.environ.get("ENVBUILDER_PORT_REGISTRY") or DEFAULT_REGISTRY)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o1777)  # every user may claim; the sticky bit keeps each reservation its maker's
    return path


def allocate(environment: str, count: int) -> list[int]:
    """Reserve `count` ports for `environment` of this home; they stay reserved until `release`."""
    low, high = port_range()
    chosen: list[int] = []
    for port in range(low, high + 1):
        if _claim(port, environment):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    for port in chosen:
        _unclaim(port)
    raise EnvbuilderError(
        f"no free host ports left in {low}-{high}",
        hint="remove environments you no longer need (envbuilder list / down / reap) "
        "or set ENVBUILDER_PORT_RANGE",
    )


def free_ports(count: int) -> list[int]:
    """Up to `count` ports of the range that `allocate` could take now (nothing is reserved)."""
    low, high = port_range()
    free: list[int] = []
    for port in range(low, high + 1):
        if len(free) == count:
            break
        if not (registry() / str(port)).exists() and _free_on_loopback(port):
            free.append(port)
    return free


def release(environment: str) -> list[int]:
    released = owned_by(environment)
    for port in released:
        _unclaim(port)
    return released


def owned_by(environment: str) -> list[int]:
    return sorted(r.port for r in _this_homes_reservations() if r.environment == environment)


def owners() -> set[str]:
    """The environments of this home that hold ports."""
    return {r.environment for r in _this_homes_reservations()}


def _this_homes_reservations() -> list[Reservation]:
    owner = home_identity()
    return [r for r in map(_read, registry().iterdir()) if r is not None and r.owner == owner]


def _claim(port: int, environment: str) -> bool:
    path = registry() / str(port)
    existing = _read(path)
    if existing is not None and existing.is_stale():
        path.unlink(missing_ok=True)  # fails (PermissionError) for another user's: then the port stays taken
    if not _free_on_loopback(port):
        return False
    reservation = {"home": str(state_home().resolve()), "owner": home_identity(), "environment": environment}
    try:
        with open(path, "x") as file:
            json.dump(reservation, file)
    except FileExistsError:  # another process, of any home, got there first
        return False
    return True


def _unclaim(port: int) -> None:
    (registry() / str(port)).unlink(missing_ok=True)


def _read(path: Path) -> Reservation | None:
    if not path.name.isdigit():
        return None
    try:
        data = json.loads(path.read_text())
        return Reservation(int(path.name), data["home"], data["owner"], data["environment"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        # Unreadable or half-written: treat as held by someone else, never as free.
        return Reservation(int(path.name), home="", owner="", environment="")


def _free_on_loopback(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
