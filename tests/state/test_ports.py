import multiprocessing
import shutil
import socket
import stat

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


def _in_home(monkeypatch, home) -> None:
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("ENVBUILDER_HOME", str(home))


def test_two_homes_never_share_a_port_even_before_either_binds_it(monkeypatch, tmp_path):
    # Ports are allocated when `up` starts and bound minutes later: a loopback check alone cannot see them.
    _in_home(monkeypatch, tmp_path / "first-home")
    first = ports.allocate("app", 3)
    _in_home(monkeypatch, tmp_path / "second-home")
    second = ports.allocate("app", 3)
    assert not set(first) & set(second)
    assert ports.owned_by("app") == second


def test_a_home_releases_only_its_own_environments_ports(monkeypatch, tmp_path):
    _in_home(monkeypatch, tmp_path / "first-home")
    first = ports.allocate("app", 2)
    _in_home(monkeypatch, tmp_path / "second-home")
    second = ports.allocate("app", 2)
    assert ports.release("app") == second
    _in_home(monkeypatch, tmp_path / "first-home")
    assert ports.owned_by("app") == first
    assert ports.owners() == {"app"}


def test_a_reservation_whose_home_is_gone_is_taken_back(monkeypatch, tmp_path):
    _in_home(monkeypatch, tmp_path / "deleted-home")
    abandoned = ports.allocate("app", 2)
    shutil.rmtree(tmp_path / "deleted-home")
    _in_home(monkeypatch, tmp_path / "home")
    assert ports.allocate("app", 2) == abandoned


def test_an_unreadable_reservation_keeps_its_port_taken():
    low, _high = ports.port_range()
    (ports.registry() / str(low)).write_text("{half-writ")
    assert low not in ports.allocate("app", 2)


def test_the_registry_is_open_to_every_user_and_keeps_each_reservation_its_makers(monkeypatch, tmp_path):
    monkeypatch.setenv("ENVBUILDER_PORT_REGISTRY", str(tmp_path / "registry"))
    assert stat.S_IMODE(ports.registry().stat().st_mode) == 0o1777
