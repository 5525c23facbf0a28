"""Every test, envbuilder's (tests/) and the components' (components/*/tests/), gets its own envbuilder
state directory and port range: nothing touches ~/.envbuilder."""

import itertools
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.controlplane import ControlPlane, missing_binaries
from tests.support.parallel import KIND_CLUSTERS, worker_number
from tests.support.ports import REGISTRY_VARIABLE, reservations_of_homes_under
from tests.support.rabbitmq import RabbitMQServer, rabbitmq_available
from tests.support.tools import TIERS, opted_out
from tests.support.tools import missing as missing_part

# Per-tier times of every run in build/test-times.json (printed by .ci/run); the fault suite's figures.
pytest_plugins = ["tests.support.timing", "tests.support.fault_figures"]

_port_ranges = itertools.count(0)


def pytest_configure(config: pytest.Config) -> None:
    """Tests stop the commands they start with Ctrl-C (SIGINT). A shell starts a background job (`make test &`,
    `nohup`) with SIGINT ignored, which every child would inherit; a handler of this process's own is reset to
    the default in each child instead."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(tryfirst=True)  # before xdist names each test by its group
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tiers the run leaves out by name (`make test SKIP=kind`) are reported as skipped, with why.

    Under xdist (`make test` spreads the suite over workers, `--dist loadgroup`) the kind clusters are made
    one after another on one worker, as on a developer's machine: two clusters starting at once on
    2 cores would time each other out."""
    left_out = opted_out() & (TIERS | {"docker"})
    for item in items:
        markers = {mark.name for mark in item.iter_markers()}
        for marker in left_out & markers:
            item.add_marker(pytest.mark.skip(reason=f"left out: SKIP={marker}"))
        if "kind" in markers:
            item.add_marker(pytest.mark.xdist_group(KIND_CLUSTERS))


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("envbuilder-home")
    monkeypatch.setenv("ENVBUILDER_HOME", str(home))
    # Distinct ranges per test and per xdist worker (gw0, gw1 ...) so parallel runs never share host ports.
    # Below the kernel's ephemeral range (32768 and up), where an outgoing connection could take one.
    start = 12000 + worker_number() * 2000 + (next(_port_ranges) % 40) * 50
    monkeypatch.setenv("ENVBUILDER_PORT_RANGE", f"{start}-{start + 49}")
    return home


@pytest.fixture(scope="session", autouse=True)
def port_registry(tmp_path_factory) -> Iterator[Path]:
    """The session's own port registry, the same for every test and fixture (an environment made by a
    module's fixture is taken down from within a test): tests that only record environments leave no
    reservation on the machine. Packages whose environments publish host ports use the machine's
    (`tests.support.ports.in_the_machines_registry`); at the end none of their reservations is left."""
    registry = tmp_path_factory.mktemp("port-registry")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(REGISTRY_VARIABLE, str(registry))
        yield registry
    left = reservations_of_homes_under(tmp_path_factory.getbasetemp().resolve())
    assert left == [], f"the tests left host ports reserved on the machine: {left}"


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQServer]:
    """A private RabbitMQ node (own ports, data and cookie) shared by the session's tests."""
    if not rabbitmq_available():
        missing_part("rabbitmq", "rabbitmq-server is not installed", "apt-get install -y rabbitmq-server, or make setup")
    with RabbitMQServer() as server:
        yield server


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """A loopback control plane (etcd, apiserver, controller-manager, scheduler, kwok) with two fake
    nodes, shared by the whole session: the engine tier and the fault-injection suite run against it."""
    missing = missing_binaries()
    if missing:
        missing_part("toolchain", f"the control plane is not built ({', '.join(missing)})", "make setup")
    with ControlPlane(nodes=2) as cp:
        yield cp
