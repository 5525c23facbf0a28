"""Acknowledged changes: applied to the data plane and saved atomically before the answer.

A change is checked on a copy (`ConfigEdit`), its listeners are opened, the new
configuration is written (temp file, fsync, rename, fsync of the directory), and only
then does it replace the live one; any failure on the way leaves the old one in force.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from envbuilder.components.f5mock.config import ConfigEdit
from envbuilder.components.f5mock.dataplane import DataPlane
from envbuilder.components.f5mock.errors import F5RestError
from envbuilder.components.f5mock.events import log_event
from envbuilder.components.f5mock.models import Config
from envbuilder.errors import EnvbuilderError
from envbuilder.state.files import write_atomically

Result = TypeVar("Result")
RETRY_INTERVAL = 5.0  # seconds between attempts to listen for virtuals that cannot yet


class ConfigStore:
    def __init__(self, state_dir: Path, plane: DataPlane) -> None:
        self.path = state_dir / "config.json"
        self.plane = plane
        self._lock = asyncio.Lock()
        self._retrying: asyncio.Task[None] | None = None

    def load(self) -> Config:
        if not self.path.exists():
            return Config()
        try:
            return Config.model_validate_json(self.path.read_bytes())
        except (OSError, ValidationError) as error:
            raise EnvbuilderError(f"the mock F5's saved configuration {self.path} cannot be read: {error}") from None

    async def start(self) -> None:
        """Loads the saved configuration and listens again on its virtuals' destinations."""
        self._remove_leftovers()
        config = self.load()
        change = await self.plane.prepare(config)
        await change.commit()
        log_event(
            "loaded",
            path=str(self.path),
            generation=config.generation,
            virtuals=len(config.virtuals),
            pools=len(config.pools),
            nodes=len(config.nodes),
        )
        self._retrying = asyncio.get_running_loop().create_task(self._retry_unbound())

    async def close(self) -> None:
        if self._retrying is not None:
            self._retrying.cancel()
            await asyncio.gather(self._retrying, return_exceptions=True)

    async def _retry_unbound(self) -> None:
        """A port freed or an address added later: the virtual listens without a change."""
        while True:
            await asyncio.sleep(RETRY_INTERVAL)
            if self.plane.unbound:
                async with self._lock:
                    change = await self.plane.prepare(self.plane.config, set(self.plane.unbound))
                    await change.commit()

    def _remove_leftovers(self) -> None:
        """Temp files of writes a kill interrupted (`write_atomically` names them `.config.json.*`)."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*"):
            leftover.unlink(missing_ok=True)
            log_event("leftover-removed", path=str(leftover))

    async def change(self, edit: Callable[[ConfigEdit], Result], **event: str) -> Result:
        """Applies `edit` to a copy of the configuration, then makes it live and durable.
        Once begun, a change runs to its end even if its caller is cancelled: cancelling it
        halfway would leave listeners open, or a saved file, that the live configuration
        does not know."""
        applying = asyncio.get_running_loop().create_task(self._apply(edit, event))
        applying.add_done_callback(_retrieve)
        return await asyncio.shield(applying)

    async def _apply(self, edit: Callable[[ConfigEdit], Result], event: dict[str, str]) -> Result:
        async with self._lock:
            editor = ConfigEdit(self.plane.config)
            result = edit(editor)
            listeners = await self.plane.prepare(editor.config)
            try:
                await asyncio.to_thread(self._save, editor.config)
            except OSError as error:
                listeners.rollback()
                raise F5RestError(500, f"The configuration could not be saved: {error}.") from None
            except BaseException:
                listeners.rollback()
                raise
            await listeners.commit()
            log_event("change", generation=editor.generation, **event)
            return result

    def _save(self, config: Config) -> None:
        write_atomically(self.path, config.model_dump_json(indent=1).encode())


def _retrieve(task: asyncio.Task[object]) -> None:
    """Marks the outcome of a change whose caller went away as seen (no asyncio warning)."""
    if not task.cancelled():
        task.exception()
