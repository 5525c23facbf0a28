import json
import multiprocessing
import os
import shutil
import socket
import stat

import pytest

from envbuilder.errors import EnvbuilderError
from envbuilder.state import ports
from envbuilder.state.identity import home_identity
from tests.support.ports import REGISTRY_VARIABLE


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
    [port] = ports.free_ports(1)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        assert port not in ports.allocate("a", 3)


def _two_adjacent_free_ports() -> int:
    # Another program on the machine may hold any port of the test's range: start where two are free.
    free = ports.free_ports(50)
    return next(port for port in free if port + 1 in free)


def test_running_out_of_ports_says_how_to_fix_it(monkeypatch):
    low = _two_adjacent_free_ports()
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


# --- nothing another user put in the registry decides a port -------------------------------------

NOBODY = 65534


def _planted(path, content: str, uid: int = NOBODY, mode: int = 0o644):
    path.write_text(content)
    os.chown(path, uid, uid)
    path.chmod(mode)


needs_root = pytest.mark.skipif(os.getuid() != 0, reason="planting another user's file takes root")


@needs_root
def test_a_reservation_another_user_planted_in_this_homes_name_is_not_this_homes(isolated_state):
    low, _high = ports.port_range()
    mine = {"home": str(isolated_state.resolve()), "owner": home_identity(), "environment": "app"}
    _planted(ports.registry() / str(low), json.dumps(mine))
    assert ports.owned_by("app") == []  # down would not "release" it, nor up think it holds it
    assert low not in ports.allocate("app", 2)  # the port is held, as any other user's reservation


@needs_root
def test_another_users_reservation_naming_a_missing_home_is_left_alone_not_taken_back():
    low, _high = ports.port_range()
    planted = ports.registry() / str(low)
    _planted(planted, json.dumps({"home": "/nonexistent", "owner": "x", "environment": "app"}))
    assert low not in ports.allocate("app", 2)
    assert planted.exists()


def test_a_link_or_a_file_others_may_write_holds_its_port_and_is_not_believed(isolated_state, tmp_path, monkeypatch):
    # A registry of its own: the session's may hold an earlier test's reservation of the same port.
    (tmp_path / "registry").mkdir()
    monkeypatch.setenv(REGISTRY_VARIABLE, str(tmp_path / "registry"))
    low, _high = ports.port_range()
    mine = json.dumps({"home": str(isolated_state.resolve()), "owner": home_identity(), "environment": "app"})
    (tmp_path / "target").write_text(mine)
    (ports.registry() / str(low)).symlink_to(tmp_path / "target")
    (ports.registry() / str(low + 1)).write_text(mine)
    (ports.registry() / str(low + 1)).chmod(0o666)
    assert ports.owned_by("app") == []
    assert not {low, low + 1} & set(ports.allocate("other", 2))


def test_reservations_are_made_only_their_makers_to_write_whatever_the_umask():
    previous = os.umask(0)
    try:
        (port,) = ports.allocate("app", 1)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((ports.registry() / str(port)).stat().st_mode) == 0o644
    assert ports.owned_by("app") == [port]


@needs_root
def test_a_registry_another_user_owns_is_refused_naming_the_fix(monkeypatch, tmp_path):
    registry = tmp_path / "theirs"
    registry.mkdir(mode=0o1777)
    os.chown(registry, NOBODY, NOBODY)
    monkeypatch.setenv("ENVBUILDER_PORT_REGISTRY", str(registry))
    with pytest.raises(EnvbuilderError, match="could remove every other user's port reservations") as raised:
        ports.allocate("app", 1)
    assert "sudo install -d -m 1777" in raised.value.hint


@pytest.mark.parametrize("make", ["link", "open, not sticky"])
def test_a_registry_that_is_a_link_or_open_without_the_sticky_bit_is_refused(monkeypatch, tmp_path, make):
    (tmp_path / "real").mkdir()
    registry = tmp_path / "registry"
    if make == "link":
        registry.symlink_to(tmp_path / "real")
    else:
        registry.mkdir()
        registry.chmod(0o777)
    monkeypatch.setenv("ENVBUILDER_PORT_REGISTRY", str(registry))
    with pytest.raises(EnvbuilderError, match="host-port registry"):
        ports.allocate("app", 1)
