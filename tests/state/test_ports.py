import multiprocessing
import socket

import pytest

from envbuilder.errors import EnvbuilderError
from envbuilder.state import ports


def _allocate_in_another_process(args):
    environment, count = args
    return environment, ports.allocate(environment, count)


def test_concurrent_ups_never_share_a_port():
    # Separate processes, as separate `envbuilder up` commands would be.
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_allocate_in_another_process, [(f"env{i}", 3) for i in range(8)])
    allocated = [port for _env, chosen in results for port in chosen]
    assert len(allocated) == 24
    assert len(set(allocated)) == 24
    for environment, chosen in results:
        assert ports.owned_by(environment) == sorted(chosen)


def test_release_frees_an_environments_ports_for_the_next():
    first = ports.allocate("a", 2)
    assert ports.release("a") == first
    assert ports.owned_by("a") == []
    assert ports.allocate("b", 2) == first


def test_a_port_in_use_by_another_program_is_skipped():
    low, _high = ports.port_range()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", low))
        busy.listen()
        assert low not in ports.allocate("a", 3)


def test_running_out_of_ports_says_how_to_fix_it(monkeypatch):
    low, _ = ports.port_range()
    monkeypatch.setenv("ENVBUILDER_PORT_RANGE", f"{low}-{low + 1}")
    ports.allocate("a", 2)
    with pytest.raises(EnvbuilderError, match="no free host ports") as raised:
        ports.allocate("b", 1)
    assert "ENVBUILDER_PORT_RANGE" in raised.value.hint
