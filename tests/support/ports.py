"""Free loopback TCP ports for test servers, and the registry of host ports environments reserve."""

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from envbuilder.state.ports import DEFAULT_REGISTRY

REGISTRY_VARIABLE = "ENVBUILDER_PORT_REGISTRY"
# The registry this machine's environments use, as found when the test session began (the root conftest.py
# then gives the session one of its own).
MACHINE_REGISTRY = Path(os.environ.get(REGISTRY_VARIABLE) or DEFAULT_REGISTRY)


def free_port() -> int:
    """A port the kernel just gave out on 127.0.0.1 (free unless another process grabs it right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def in_the_machines_registry() -> Iterator[None]:
    """Within: environments reserve host ports where every environment of the machine does, so that a
    test's `up` never picks a port a developer's `up` has reserved and not bound yet, nor the other way round."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(REGISTRY_VARIABLE, str(MACHINE_REGISTRY))
        yield


def reservations_of_homes_under(root: Path) -> list[str]:
    """The machine registry's reservations held by homes below `root` (a test session's directory)."""
    held = []
    for reservation in sorted(MACHINE_REGISTRY.glob("*")) if MACHINE_REGISTRY.is_dir() else []:
        try:
            home = Path(json.loads(reservation.read_text()).get("home", ""))
        except (OSError, ValueError, AttributeError):
            continue
        if root in home.parents:
            held.append(f"{reservation.name} ({home.name}, {reservation.read_text()[:120]})")
    return held
