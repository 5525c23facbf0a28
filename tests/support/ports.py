"""Free loopback TCP ports for test servers, and the registry of host ports environments reserve."""

import itertools
import json
import os
import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from envbuilder.state.ports import DEFAULT_REGISTRY
from tests.support.parallel import worker_number

REGISTRY_VARIABLE = "ENVBUILDER_PORT_REGISTRY"
# The registry this machine's environments use, as found when the test session began (the root conftest.py
# then gives the session one of its own).
MACHINE_REGISTRY = Path(os.environ.get(REGISTRY_VARIABLE) or DEFAULT_REGISTRY)


# Test servers listen below the kernel's ephemeral range (ip_local_port_range, 32768 and up): a port there,
# free when asked, can be taken as the source port of any outgoing connection of the machine before the
# server binds it (seen: a test's web server refused its port under load). Each xdist worker has its own
# band, below the environments' ranges of the root conftest.py (12000 and up), starting at a random place
# so that two sessions side by side rarely ask for the same port at once.
FREE_PORTS_BASE, FREE_PORTS_PER_WORKER = 2000, 1000
_worker = worker_number()
_band = range(FREE_PORTS_BASE + _worker * FREE_PORTS_PER_WORKER, FREE_PORTS_BASE + (_worker + 1) * FREE_PORTS_PER_WORKER)
_candidates = itertools.islice(itertools.cycle(_band), random.randrange(len(_band)), None)


def free_port() -> int:
    """A TCP port nothing listens on or connects from now, on any address, in this worker's band."""
    for port in itertools.islice(_candidates, len(_band)):
        with socket.socket() as probe:
            try:
                probe.bind(("", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port left in {_band}")


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
