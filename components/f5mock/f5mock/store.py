"""Acknowledged changes: applied to the data plane and saved durably before the answer.

A change is checked on a copy (`ConfigEdit`), its listeners are bound, it is appended to
the journal (`journal.py`: one line, fdatasync, in a worker thread), and only then does
the copy replace the live configuration; any failure on the way leaves the old one in
force. Snapshots are written in the background once the journal has grown enough.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from f5mock.config import ConfigEdit
from f5mock.dataplane import DataPlane
from f5mock.errors import F5RestError
from f5mock.events import log_event
from f5mock.journal import RECORDS, Journal
from f5mock.models import Config
from f5mock.routing import KernelRoutes

Result = TypeVar("Result")
RETRY_INTERVAL = 5.0  # seconds between attempts to listen for virtuals, or install routes, that cannot yet


class ConfigStore:
    def __init__(self, state_dir: Path, plane: DataPlane, routes: KernelRoutes | None = None) -> None:
        self.journal = Journal(state_dir)
        self.plane = plane
        self.routes = routes  # None: routes are configuration only
        self.routes_not_installed: dict[str, str] = {}  # route full path -> the kernel's reason
        # Routes learned over BGP (bgp.py): network -> next hop, installed beside the static ones.
        self.learned_routes: dict[str, str] = {}
        self.learned_not_installed: dict[str, str] = {}  # network -> the kernel's reason
        self._lock = asyncio.Lock()
        self._retrying: asyncio.Task[None] | None = None
        self._compacting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Loads the saved configuration, compacts it into a fresh snapshot, and listens
        again on its virtuals' destinations."""
        self._remove_leftovers()
        config = await asyncio.to_thread(self.journal.read)
        await asyncio.to_thread(self._compact_now, config)
        everything = {(kind, key) for kind in RECORDS for key in getattr(config, kind)}
        change = await self.plane.prepare(config)
        await change.commit(everything)
        await self._install_routes(config)
        log_event(
            "loaded",
            path=str(self.journal.directory),
            generation=config.generation,
            virtuals=len(config.virtuals),
            pools=len(config.pools),
            nodes=len(config.nodes),
        )
        self._retrying = asyncio.get_running_loop().create_task(self._retry_unbound())

    def _compact_now(self, config: Config) -> None:
        self.journal.start_segment(config.generation + 1)
        self.journal.write_snapshot(config)

    async def close(self) -> None:
        if self._retrying is not None:
            self._retrying.cancel()
            await asyncio.gather(self._retrying, return_exceptions=True)
        if self._compacting is not None:
            await self._compacting  # a snapshot is not left half-written by a clean stop
        self.journal.close()

    def _remove_leftovers(self) -> None:
        """Temp files of writes a kill interrupted (`write_atomically` names them `.config.json.*`)."""
        snapshot = self.journal.snapshot_path
        for leftover in snapshot.parent.glob(f".{snapshot.name}.*"):
            leftover.unlink(missing_ok=True)
            log_event("leftover-removed", path=str(leftover))

    async def _retry_unbound(self) -> None:
        """A port freed or an address added later: the virtual listens without a change."""
        while True:
            await asyncio.sleep(RETRY_INTERVAL)
            if self.plane.unbound:
                async with self._lock:
                    change = await self.plane.prepare(self.plane.config, set(self.plane.unbound))
                    await change.commit(set())
            if self.routes_not_installed or self.learned_not_installed:
                async with self._lock:
                    await self._install_routes(self.plane.config)

    async def set_learned_routes(self, learned: dict[str, str]) -> None:
        """The routes a BGP peer advertised or withdrew, made the kernel's."""
        async with self._lock:
            self.learned_routes = dict(learned)
            await self._install_routes(self.plane.config)

    async def _install_routes(self, config: Config) -> None:
        """The kernel's routes made those of `config` and the learned ones, before the change is
        answered: once a client has its 200, a connection to a member behind the route goes
        through its gateway. A static route wins over a learned one to the same network (as a
        router prefers static routes to BGP ones). A route the kernel refuses stays configured
        (as a virtual that cannot listen does), is reported in /health and retried."""
        if self.routes is None:
            return
        static = {route.network: route.gw for route in config.routes.values()}
        failed = await self.routes.sync({**self.learned_routes, **static})
        not_installed = {
            key: f"{route.network} via {route.gw}: {failed[route.network]}"
            for key, route in config.routes.items()
            if route.network in failed
        }
        for key in not_installed.keys() - self.routes_not_installed.keys():
            log_event("route-failed", logging.WARNING, route=key, error=not_installed[key])
        self.routes_not_installed = not_installed
        learned_failed = {
            network: f"via {gateway}: {failed[network]}"
            for network, gateway in self.learned_routes.items()
            if network in failed and network not in static
        }
        for network in learned_failed.keys() - self.learned_not_installed.keys():
            log_event("route-failed", logging.WARNING, route=f"bgp {network}", error=learned_failed[network])
        self.learned_not_installed = learned_failed

    async def change(self, edit: Callable[[ConfigEdit], Result], **event: str) -> Result:
        """Applies `edit` to a copy of the configuration, then makes it live and durable.
        Once begun, a change runs to its end even if its caller is cancelled: cancelling it
        halfway would leave listeners open, or a saved change, that the live configuration
        does not know."""
        applying = asyncio.get_running_loop().create_task(self._apply(edit, event))
        applying.add_done_callback(_retrieve)
        return await asyncio.shield(applying)

    async def _apply(self, edit: Callable[[ConfigEdit], Result], event: dict[str, str]) -> Result:
        async with self._lock:
            editor = ConfigEdit(self.plane.config)
            result = edit(editor)
            virtuals = {key for kind, key in editor.changed if kind == "virtuals"}
            listeners = await self.plane.prepare(editor.config, virtuals)
            try:
                await asyncio.to_thread(self._save, Journal.entry(editor.config, editor.changed, editor.member_changes))
            except OSError as error:
                listeners.rollback()
                raise F5RestError(500, f"The configuration could not be saved: {error}.") from None
            except BaseException:
                listeners.rollback()
                raise
            await listeners.commit(editor.changed)
            if any(kind == "routes" for kind, _key in editor.changed):
                await self._install_routes(editor.config)
            log_event("change", generation=editor.generation, **event)
            await self._compact_if_due(editor.config)
            return result

    def _save(self, line: bytes) -> None:
        self.journal.append(line)

    async def _compact_if_due(self, config: Config) -> None:
        """Called with the lock held, right after `config` was saved: later changes go to a
        new segment, and the snapshot of `config` (whose records are never changed in place)
        is written beside them."""
        objects = sum(len(getattr(config, kind)) for kind in RECORDS)
        if not self.journal.due(objects) or (self._compacting is not None and not self._compacting.done()):
            return
        await asyncio.to_thread(self.journal.start_segment, config.generation + 1)
        self._compacting = asyncio.get_running_loop().create_task(self._snapshot(config))

    async def _snapshot(self, config: Config) -> None:
        try:
            await asyncio.to_thread(self.journal.write_snapshot, config)
        except OSError as error:  # the segments stay: nothing is lost, the next one retries
            log_event("compaction-failed", logging.ERROR, generation=config.generation, error=str(error))
            return
        log_event("compacted", generation=config.generation)


def _retrieve(task: asyncio.Task[object]) -> None:
    """Marks the outcome of a change whose caller went away as seen (no asyncio warning)."""
    if not task.cancelled():
        task.exception()
