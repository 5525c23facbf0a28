"""Host port allocation: environments side by side never collide on 127.0.0.1, whichever home made them.

A port is reserved machine-wide, not per home: an environment's ports are allocated when `up`
starts, but bound only minutes later (when the F5 container starts), so a check that a port is
free cannot see another home's reservation. Each reservation is one file, `<registry>/<port>`,
created exclusively (the atomic claim) and naming the home, its identity and the environment.
The registry (`ENVBUILDER_PORT_REGISTRY`, default /var/tmp/envbuilder-ports: it survives
reboots, as stopped containers keep their ports) is sticky and world-writable, like /tmp, so
every user can claim ports and none can take back another's.

Nothing another user put there decides a port: the registry is used only when it is a real
directory owned by root or by this user (another owner could delete every reservation in it)
and, if others may write to it, sticky; a reservation's content is believed only when the file
is a plain file of this user that nobody else may write. Anything else holds its port as
another's: never this home's, never taken back as stale.
"""

import json
import os
import re
import socket
import stat
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
    trusted: bool = True  # this user's file, which only it can write: what it says is believed

    def is_stale(self) -> bool:
        """Its home is gone (deleted with its environments): nothing can release it any more. Only
        this user's own reservations are judged: another's home may merely be unreadable to it."""
        return self.trusted and not Path(self.home).is_dir()


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
    if not os.path.lexists(path):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o1777)  # every user may claim; the sticky bit keeps each reservation its maker's
    _require_trusted_registry(path)
    return path


def _require_trusted_registry(path: Path) -> None:
    fix = (f"have root make it (sudo install -d -m 1777 -o root -g root {path}), or set "
           "ENVBUILDER_PORT_REGISTRY to a directory of your own (shared by every user who runs environments here)")
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise EnvbuilderError(f"the host-port registry {path} is not a directory (a link or file put there)", hint=fix)
    if info.st_uid not in (os.getuid(), 0):
        raise EnvbuilderError(
            f"the host-port registry {path} belongs to {_user_name(info.st_uid)}, who could remove every other "
            "user's port reservations", hint=fix)
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        raise EnvbuilderError(
            f"the host-port registry {path} may be written by others but is not sticky: anyone could remove "
            "reservations", hint=f"chmod 1777 {path}")


def _user_name(uid: int) -> str:
    import pwd

    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"


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
        path.unlink(missing_ok=True)  # only ever this user's own (is_stale judges no other)
    if not _free_on_loopback(port):
        return False
    reservation = {"home": str(state_home().resolve()), "owner": home_identity(), "environment": environment}
    return _create(path, reservation)


def _create(path: Path, reservation: dict[str, str]) -> bool:
    """Claim `path` for `reservation`: False when it exists (another process, of any home, got there first)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(descriptor, 0o644)  # whatever the umask: a reservation others could write would not be believed
        json.dump(reservation, file)
    return True


def _unclaim(port: int) -> None:
    (registry() / str(port)).unlink(missing_ok=True)


def _read(path: Path) -> Reservation | None:
    if not path.name.isdigit():
        return None
    held_by_another = Reservation(int(path.name), home="", owner="", environment="", trusted=False)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError:  # a link, or unreadable: held, by whoever put it there
        return held_by_another
    with os.fdopen(descriptor) as file:
        info = os.fstat(descriptor)
        if info.st_uid != os.getuid() or not stat.S_ISREG(info.st_mode) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return held_by_another  # another user's, or one others could have written: its content is not believed
        try:
            data = json.loads(file.read())
            return Reservation(int(path.name), data["home"], data["owner"], data["environment"])
        except (OSError, ValueError, KeyError, TypeError):
            return held_by_another  # half-written: held, never free


def _free_on_loopback(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
