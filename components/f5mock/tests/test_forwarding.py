"""Virtual servers really forward: real TCP backends on loopback behind real listeners."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter

import httpx
import pytest

from f5mock import store
from f5mock.server import F5MockServer, run_in_thread
from components.f5mock.tests.loopback import ask, wait_until
from tests.support.ports import free_port

pytestmark = pytest.mark.slow

MEMBERS = "/mgmt/tm/ltm/pool/~Common~web/members"


def serve_pool(api: httpx.Client, ports: list[int], **pool_fields: str) -> int:
    """Pool `web` with a member per port, and virtual `vs` on a free loopback port."""
    members = [{"name": f"127.0.0.1:{port}"} for port in ports]
    assert api.post("/mgmt/tm/ltm/pool", json={"name": "web", "members": members, **pool_fields}).status_code == 200
    port = free_port()
    answer = api.post("/mgmt/tm/ltm/virtual", json={"name": "vs", "destination": f"127.0.0.1:{port}", "pool": "web"})
    assert answer.status_code == 200, answer.text
    return port


def answers(port: int, count: int) -> list[str]:
    return [ask(port).decode().partition(":")[0] for _ in range(count)]


def test_connections_reach_the_members_in_turn(api, backends):
    a, b, c = backends("a"), backends("b"), backends("c")
    port = serve_pool(api, [a.port, b.port, c.port])

    assert answers(port, 6) == ["a", "b", "c", "a", "b", "c"]
    assert ask(port, b"ping\n") == b"a:ping\n"


def test_disabled_forced_down_and_deleted_members_get_no_new_connections(api, backends):
    a, b, c = backends("a"), backends("b"), backends("c")
    port = serve_pool(api, [a.port, b.port, c.port])

    api.patch(f"{MEMBERS}/~Common~127.0.0.1:{a.port}", json={"session": "user-disabled"})
    assert set(answers(port, 4)) == {"b", "c"}
    api.patch(f"{MEMBERS}/~Common~127.0.0.1:{b.port}", json={"state": "user-down"})
    assert set(answers(port, 3)) == {"c"}
    api.patch(f"{MEMBERS}/~Common~127.0.0.1:{a.port}", json={"session": "user-enabled"})
    api.delete(f"{MEMBERS}/~Common~127.0.0.1:{c.port}")
    assert set(answers(port, 3)) == {"a"}


def test_a_disabled_node_takes_its_members_out(api, backends):
    a = backends("a")
    port = serve_pool(api, [a.port])
    api.post(MEMBERS, json={"name": "n2:80", "address": "127.0.0.2"})  # a second node, to keep the pool non-empty

    api.patch("/mgmt/tm/ltm/node/~Common~127.0.0.1", json={"state": "user-down"})

    with pytest.raises(OSError):  # only n2 is left and nothing listens there: connection reset
        ask(port)


def test_a_pool_with_a_tcp_monitor_skips_members_that_fail_probes(api, backends):
    up = backends("up")
    down_port = free_port()
    port = serve_pool(api, [up.port, down_port], monitor="/Common/tcp")

    def state(member_port: int) -> str:
        return api.get(f"{MEMBERS}/~Common~127.0.0.1:{member_port}").json()["state"]

    wait_until(lambda: state(up.port) == "up" and state(down_port) == "down", what="first probes")
    assert set(answers(port, 4)) == {"up"}

    backends("late", down_port)
    wait_until(lambda: state(down_port) == "up", what="the late member to pass its probe")
    assert set(answers(port, 4)) == {"up", "late"}


def test_counters_follow_the_traffic(api, backends):
    a = backends("a")
    port = serve_pool(api, [a.port])

    answers(port, 3)

    def virtual_stats() -> dict:
        (nested,) = api.get("/mgmt/tm/ltm/virtual/~Common~vs/stats").json()["entries"].values()
        return nested["nestedStats"]["entries"]

    wait_until(lambda: virtual_stats()["clientside.curConns"]["value"] == 0, what="connections to close")
    entries = virtual_stats()
    assert entries["clientside.totConns"]["value"] == 3
    assert entries["clientside.bitsIn"]["value"] == 3 * len(b"hello\n") * 8
    (member,) = api.get(f"{MEMBERS}/~Common~127.0.0.1:{a.port}/stats").json()["entries"].values()
    assert member["nestedStats"]["entries"]["serverside.totConns"]["value"] == 3


def test_deleting_a_virtual_closes_its_listener_and_changes_apply_to_the_next_connection(api, backends):
    a, b = backends("a"), backends("b")
    port = serve_pool(api, [a.port])
    api.post("/mgmt/tm/ltm/pool", json={"name": "other", "members": [{"name": f"127.0.0.1:{b.port}"}]})

    api.patch("/mgmt/tm/ltm/virtual/~Common~vs", json={"pool": "/Common/other"})
    assert answers(port, 2) == ["b", "b"]
    assert api.delete("/mgmt/tm/ltm/virtual/~Common~vs").status_code == 200
    with pytest.raises(ConnectionRefusedError):
        ask(port)


def virtual_status(api: httpx.Client, name: str) -> tuple[str, str]:
    (nested,) = api.get(f"/mgmt/tm/ltm/virtual/~Common~{name}/stats").json()["entries"].values()
    entries = nested["nestedStats"]["entries"]
    return entries["status.availabilityState"]["description"], entries["status.statusReason"]["description"]


def test_a_destination_that_cannot_be_bound_is_accepted_and_reported_through_its_status(api, backends, monkeypatch):
    monkeypatch.setattr(store, "RETRY_INTERVAL", 0.2)
    a = backends("a")
    port = serve_pool(api, [a.port])
    squatter = backends("squatter")

    created = api.post(
        "/mgmt/tm/ltm/virtual", json={"name": "vs2", "destination": f"127.0.0.1:{squatter.port}", "pool": "web"}
    )
    foreign = api.post("/mgmt/tm/ltm/virtual", json={"name": "vs3", "destination": "192.0.2.10:80", "pool": "web"})

    assert created.status_code == 200 and foreign.status_code == 200, (created.text, foreign.text)
    state, reason = virtual_status(api, "vs2")
    assert state == "offline" and f"cannot listen on 127.0.0.1:{squatter.port}: Address already in use" in reason
    assert "cannot listen on 192.0.2.10:80" in virtual_status(api, "vs3")[1]
    assert set(api.get("/health").json()["virtualsNotListening"]) == {"/Common/vs2", "/Common/vs3"}
    assert virtual_status(api, "vs") == ("available", "The virtual server is available")
    assert answers(port, 1) == ["a"]

    squatter.stop()  # the port frees up: the virtual listens without another change
    wait_until(lambda: virtual_status(api, "vs2")[0] == "available", what="the freed port to be taken")
    assert answers(squatter.port, 1) == ["a"]


def test_a_restart_with_the_same_state_dir_loses_nothing_and_listens_again(tmp_path, backends):
    a, b = backends("a"), backends("b")
    with (
        run_in_thread(tmp_path) as first,
        httpx.Client(base_url=first.url, auth=("admin", "admin"), verify=False) as api,
    ):
        port = serve_pool(api, [a.port, b.port])
        api.patch(f"{MEMBERS}/~Common~127.0.0.1:{b.port}", json={"session": "user-disabled"})
        before = api.get("/mgmt/tm/ltm/pool", params={"expandSubcollections": "true"}).json()

    with (
        run_in_thread(tmp_path) as second,
        httpx.Client(base_url=second.url, auth=("admin", "admin"), verify=False) as api,
    ):
        assert api.get("/mgmt/tm/ltm/pool", params={"expandSubcollections": "true"}).json() == before
        assert api.get("/mgmt/tm/ltm/virtual/~Common~vs").status_code == 200
        assert Counter(answers(port, 3)) == Counter({"a": 3})


def test_a_start_that_fails_leaves_nothing_listening(tmp_path, backends, f5):
    a = backends("a")
    with run_in_thread(tmp_path) as mock, httpx.Client(base_url=mock.url, auth=("admin", "admin"), verify=False) as api:
        virtual_port = serve_pool(api, [a.port])

    async def start_on_a_taken_api_port() -> None:
        with pytest.raises(OSError):  # the `f5` fixture's mock holds that port
            await F5MockServer(tmp_path, port=f5.server.port).start()
        with pytest.raises(ConnectionRefusedError):  # the virtual it had started listening on is closed again
            await asyncio.open_connection("127.0.0.1", virtual_port)

    asyncio.run(start_on_a_taken_api_port())


def test_least_connections_sends_new_connections_away_from_a_busy_member(api, backends):
    a, b = backends("a"), backends("b")
    port = serve_pool(api, [a.port, b.port], loadBalancingMode="least-connections-member")

    with socket.create_connection(("127.0.0.1", port), timeout=5) as held:  # stays open on one member
        held.sendall(b"no newline yet")
        wait_until(lambda: a.connections + b.connections == 1, what="the held connection to reach a member")
        busy = "a" if a.connections else "b"

        assert set(answers(port, 3)) == {"a", "b"} - {busy}
