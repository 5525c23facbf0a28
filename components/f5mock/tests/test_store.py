"""The saved configuration: leftovers of a kill, and changes atomic with the listeners."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from f5mock import journal
from f5mock.server import F5MockServer, run_in_thread
from f5mock.config import ConfigEdit
from f5mock.journal import Journal
from f5mock.kinds import MEMBER
from f5mock.models import MemberBody, PoolBody, VirtualBody
from f5mock.names import make_path
from f5mock.store import ConfigStore
from components.f5mock.tests.loopback import wait_until
from tests.support.ports import free_port

POOLS = "/mgmt/tm/ltm/pool"
SERVE_COMPACTING_OFTEN = (
    "import f5mock.journal as j; j.COMPACT_AFTER = 20; from f5mock.cli import main; main()"
)


def test_temp_files_left_by_a_kill_are_removed_at_start(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    leftover = tmp_path / ".config.json.k1ll3d"
    leftover.write_bytes(b'{"generation": 7, "half a wri')

    with run_in_thread(tmp_path):
        assert not leftover.exists()


def slow_saves(monkeypatch, seconds: float) -> None:
    save = ConfigStore._save

    def slowly(store: ConfigStore, *args: object) -> None:
        time.sleep(seconds)
        save(store, *args)

    monkeypatch.setattr(ConfigStore, "_save", slowly)


async def can_connect(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return False
    writer.close()
    return True


def create_virtual(port: int) -> Callable[[ConfigEdit], object]:
    body = VirtualBody(name="vs", destination=f"127.0.0.1:{port}", pool="web")
    return lambda edit: edit.create_virtual(body)


def test_a_change_cancelled_mid_write_is_applied_whole_not_half(tmp_path, monkeypatch):
    slow_saves(monkeypatch, 0.5)
    port = free_port()

    async def scenario() -> None:
        async with F5MockServer(tmp_path) as f5:
            await f5.store.change(lambda edit: edit.create_pool(PoolBody(name="web")))
            change = asyncio.create_task(f5.store.change(create_virtual(port)))
            await asyncio.sleep(0.2)  # its listener is bound and its file being written
            change.cancel()
            with pytest.raises(asyncio.CancelledError):
                await change
            await asyncio.sleep(1.0)  # the write it began ends

            live = "/Common/vs" in f5.plane.config.virtuals
            saved = Journal(tmp_path).read()
            assert live and "/Common/vs" in saved.virtuals and "/Common/vs" in f5.plane.listeners
            assert await can_connect(port)

    asyncio.run(scenario())


def test_a_new_virtual_accepts_no_connection_before_its_configuration_is_live(tmp_path, monkeypatch):
    slow_saves(monkeypatch, 0.5)
    port = free_port()

    async def scenario() -> None:
        async with F5MockServer(tmp_path) as f5:
            await f5.store.change(lambda edit: edit.create_pool(PoolBody(name="web")))
            change = asyncio.create_task(f5.store.change(create_virtual(port)))
            await asyncio.sleep(0.2)

            assert not await can_connect(port)  # bound for the change, not yet listening
            await change
            assert await can_connect(port)

    asyncio.run(scenario())


def test_changes_replay_across_restarts_and_compactions_and_every_file_is_0600(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "COMPACT_AFTER", 3)  # a snapshot every few changes
    with (
        run_in_thread(tmp_path) as first,
        httpx.Client(base_url=first.url, auth=("admin", "admin"), verify=False) as api,
    ):
        for number in range(12):
            assert (
                api.post(POOLS, json={"name": f"p{number}", "members": [{"name": f"10.0.0.{number}:80"}]}).status_code
                == 200
            )
        api.patch(f"{POOLS}/~Common~p3", json={"description": "changed"})
        api.delete(f"{POOLS}/~Common~p5")
        api.post(f"{POOLS}/~Common~p7/members", json={"name": "10.0.0.99:81"})
        before = api.get(POOLS, params={"expandSubcollections": "true"}).json()
        nodes_before = api.get("/mgmt/tm/ltm/node").json()

    files = [path for path in tmp_path.iterdir() if path.is_file()]
    assert files and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files), files
    with (
        run_in_thread(tmp_path) as second,
        httpx.Client(base_url=second.url, auth=("admin", "admin"), verify=False) as api,
    ):
        assert api.get(POOLS, params={"expandSubcollections": "true"}).json() == before
        assert api.get("/mgmt/tm/ltm/node").json() == nodes_before


def test_a_journal_line_cut_short_by_a_crash_is_dropped_and_later_changes_are_kept(tmp_path):
    with (
        run_in_thread(tmp_path) as first,
        httpx.Client(base_url=first.url, auth=("admin", "admin"), verify=False) as api,
    ):
        assert api.post(POOLS, json={"name": "kept"}).status_code == 200
    (segment,) = sorted(tmp_path.glob("journal-*.jsonl"))
    with segment.open("ab") as torn:
        torn.write(b'{"generation":99,"put":{"pools":{"/Common/hal')  # no newline: never acknowledged

    for start in range(2):  # the second start proves the first left the files consistent
        with (
            run_in_thread(tmp_path) as mock,
            httpx.Client(base_url=mock.url, auth=("admin", "admin"), verify=False) as api,
        ):
            assert [pool["name"] for pool in api.get(POOLS).json()["items"]][:1] == ["kept"]
            assert api.post(POOLS, json={"name": f"after-start-{start}"}).status_code == 200
    assert len(Journal(tmp_path).read().pools) == 3


@pytest.mark.slow
def test_no_acknowledged_write_is_lost_when_the_mock_is_killed_while_writing(tmp_path):
    """Three rounds of kill -9 in the middle of a stream of creates (compacting every 20)."""
    acknowledged: list[str] = []
    for round_number in range(3):
        port = free_port()
        command = [
            sys.executable,
            "-c",
            SERVE_COMPACTING_OFTEN,
            *("serve", "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path)),
        ]
        process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(
                base_url=f"https://127.0.0.1:{port}", auth=("admin", "admin"), verify=False, timeout=10
            ) as api:
                wait_until(lambda: _healthy(api), timeout=30, what="the mock to serve")
                names = {pool["name"] for pool in api.get(POOLS).json().get("items", [])}
                assert set(acknowledged) <= names, set(acknowledged) - names
                deadline = time.monotonic() + 1.0
                number = 0
                while time.monotonic() < deadline:
                    name = f"r{round_number}-{number}"
                    if api.post(POOLS, json={"name": name}).status_code == 200:
                        acknowledged.append(name)
                    number += 1
                killer = threading.Timer(0.05, process.kill)  # SIGKILL while the next creates run
                killer.start()
                with contextlib.suppress(httpx.TransportError):
                    while True:
                        name = f"r{round_number}-{number}"
                        if api.post(POOLS, json={"name": name}).status_code == 200:
                            acknowledged.append(name)
                        number += 1
        finally:
            process.kill()
            process.wait(timeout=30)
    assert len(acknowledged) > 20
    assert set(acknowledged) <= {key.removeprefix("/Common/") for key in Journal(tmp_path).read().pools}


def _healthy(api: httpx.Client) -> bool:
    try:
        return api.get("/health").status_code == 200
    except httpx.TransportError:
        return False


# Files as the mock of 2026-12-02 saved them (a snapshot and a journal segment after it): an environment's
# F5 keeps its state volume across revisions, so every later mock must read them as they are.
SAVED_BY_AN_EARLIER_VERSION = Path(__file__).parent / "saved" / "2026-12-02"


def test_a_configuration_an_earlier_version_saved_is_served_as_it_was(tmp_path):
    shutil.copytree(SAVED_BY_AN_EARLIER_VERSION, tmp_path / "f5")

    with run_in_thread(tmp_path / "f5") as f5, httpx.Client(base_url=f5.url, auth=("admin", "admin"),
                                                            verify=False, timeout=10) as api:
        web = api.get(f"{POOLS}/~Common~web?expandSubcollections=true").json()
        db = api.get(f"{POOLS}/~Common~db/members").json()["items"]
        virtual = api.get("/mgmt/tm/ltm/virtual/~Common~web-vip").json()
        profile = api.get("/mgmt/tm/ltm/profile/tcp/~Common~short").json()
        node = api.get("/mgmt/tm/ltm/node/~Common~db").json()

    assert (web["loadBalancingMode"], web["monitor"], web["description"]) == (
        "least-connections-member", "/Common/tcp", "owner: env-dev")
    members = {m["name"]: m for m in web["membersReference"]["items"]}
    assert members["10.0.0.1:30080"]["state"] == "user-down"
    assert members["10.0.0.2:30080"]["session"] == "user-disabled"
    assert [(m["name"], m["address"], m["ratio"]) for m in db] == [("db:5432", "10.0.0.9", 2)]
    assert (virtual["destination"], virtual["pool"], virtual["sourceAddressTranslation"]) == (
        "/Common/192.0.2.10:80", "/Common/web", {"type": "automap"})
    assert (profile["idleTimeout"], profile["defaultsFrom"]) == (60, "/Common/tcp")
    assert (node["address"], node["description"]) == ("10.0.0.9", "database")


def test_member_writes_journal_the_member_not_the_pool_and_replay_to_the_same_pool(tmp_path):
    """Adding members one request at a time: each journal line holds the one member, so a
    write costs the same and the files grow by the same amount at any pool size."""
    members = f"{POOLS}/~Common~big/members"
    with run_in_thread(tmp_path) as f5, httpx.Client(base_url=f5.url, auth=("admin", "admin"), verify=False) as api:
        # monitored: its probes go to loopback addresses only
        assert api.post(POOLS, json={"name": "big", "monitor": "tcp"}).status_code == 200
        for index in range(120):
            answer = api.post(members, json={"name": f"127.0.1.{index + 1}:80"})
            assert answer.status_code == 200, answer.text
        assert api.patch(f"{members}/~Common~127.0.1.7:80", json={"session": "user-disabled"}).status_code == 200
        assert api.delete(f"{members}/~Common~127.0.1.9:80").status_code == 200
        before = api.get(members).json()["items"]
        lines = [line for segment in Journal(tmp_path).segments() for line in segment.read_bytes().splitlines()]

    assert len(before) == 119
    assert max(len(line) for line in lines[-60:]) < 2 * min(len(line) for line in lines[2:20])
    assert sum(len(line) for line in lines) < 100 * 1024  # whole pools journalled: over 2 MB here
    with run_in_thread(tmp_path) as f5, httpx.Client(base_url=f5.url, auth=("admin", "admin"), verify=False) as api:
        assert api.get(members).json()["items"] == before


def test_member_changes_replay_from_the_journal_without_a_snapshot_between(tmp_path):
    pool = PoolBody(name="p", members=[{"name": "10.0.0.1:80"}, {"name": "10.0.0.2:80"}])
    config = journal.Config()
    segment_journal = Journal(tmp_path)
    segment_journal.start_segment(1)
    for change in (
        lambda edit: edit.create_pool(pool),
        lambda edit: edit.create(MEMBER, MemberBody(name="10.0.0.3:80"), make_path("/Common/p")),
        lambda edit: edit.update(MEMBER, make_path("10.0.0.1:80"), MemberBody(ratio=5), make_path("/Common/p")),
        lambda edit: edit.delete(MEMBER, make_path("10.0.0.2:80"), make_path("/Common/p")),
    ):
        edit = ConfigEdit(config)
        change(edit)
        segment_journal.append(Journal.entry(edit.config, edit.changed, edit.member_changes))
        config = edit.config
    segment_journal.close()

    replayed = Journal(tmp_path).read()

    assert replayed.pools["/Common/p"] == config.pools["/Common/p"]
    assert [(member.name, member.ratio) for member in replayed.pools["/Common/p"].members] == [
        ("10.0.0.1:80", 5), ("10.0.0.3:80", 1)
    ]
