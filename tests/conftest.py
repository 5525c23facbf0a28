"""Every test gets its own envbuilder state directory and port range: nothing touches ~/.envbuilder."""

import itertools
import os

import pytest

_port_ranges = itertools.count(0)


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("envbuilder-home")
    monkeypatch.setenv("ENVBUILDER_HOME", str(home))
    # Distinct ranges per test (and per xdist worker) so parallel runs never share host ports.
    start = 43000 + (next(_port_ranges) % 40) * 50 + (os.getpid() % 10) * 2000
    monkeypatch.setenv("ENVBUILDER_PORT_RANGE", f"{start}-{start + 49}")
    return home
