"""Host port allocation: environments side by side never collide on 127.0.0.1.

Allocations live in `ports.json` under a file lock, so concurrent `up`s on one machine each
get their own ports; a port is also checked to be free right now before it is handed out.
"""

import json
import os
import socket
from collections.abc import Iterable

from filelock import FileLock

from envbuilder.errors import EnvbuilderError
from envbuilder.state.files import write_atomically
from envbuilder.state.home import state_home

DEFAULT_RANGE = (42000, 42999)


def port_range() -> tuple[int, int]:
    configured = os.environ.get("ENVBUILDER_PORT_RANGE")
    if not configured:
        return DEFAULT_RANGE
    low, _, high = configured.partition("-")
    return int(low), int(high)


def _table_path():
    return state_home() / "ports.json"


def _lock() -> FileLock:
    return FileLock(str(state_home() / "ports.lock"), timeout=30)


def _read_table() -> dict[int, str]:
    path = _table_path()
    if not path.is_file():
        return {}
    return {int(port): owner for port, owner in json.loads(path.read_text()).items()}


def _write_table(table: dict[int, str]) -> None:
    write_atomically(_table_path(), json.dumps({str(p): o for p, o in sorted(table.items())}, indent=1))


def _free_on_loopback(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def allocate(environment: str, count: int) -> list[int]:
    """Reserve `count` ports for `environment`; they stay reserved until `release`."""
    low, high = port_range()
    with _lock():
        table = _read_table()
        chosen: list[int] = []
        for port in range(low, high + 1):
            if port not in table and _free_on_loopback(port):
                chosen.append(port)
                if len(chosen) == count:
                    break
        else:
            raise EnvbuilderError(
                f"no free host ports left in {low}-{high}",
                hint="remove environments you no longer need (envbuilder list / down / reap) "
                "or set ENVBUILDER_PORT_RANGE",
            )
        table.update({port: environment for port in chosen})
        _write_table(table)
    return chosen


def release(environment: str) -> list[int]:
    with _lock():
        table = _read_table()
        released = [port for port, owner in table.items() if owner == environment]
        _write_table({port: owner for port, owner in table.items() if owner != environment})
    return released


def owned_by(environment: str) -> list[int]:
    return sorted(port for port, owner in _read_table().items() if owner == environment)


def owners() -> Iterable[str]:
    return set(_read_table().values())
