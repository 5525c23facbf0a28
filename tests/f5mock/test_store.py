"""The saved configuration: leftovers of a kill, and changes atomic with the listeners."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from envbuilder.components.f5mock import F5MockServer, run_in_thread
from envbuilder.components.f5mock.config import ConfigEdit
from envbuilder.components.f5mock.models import Config, PoolBody, VirtualBody
from envbuilder.components.f5mock.store import ConfigStore
from tests.f5mock.loopback import free_port


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
            saved = Config.model_validate_json((tmp_path / "config.json").read_bytes())
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
