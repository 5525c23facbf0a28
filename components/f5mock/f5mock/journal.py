"""The saved configuration: a snapshot and a journal of the changes made since.

`config.json` holds the configuration at some generation; `journal-<G>.jsonl` segments
hold one line per change from generation G on (the records it created or changed, the
keys it deleted; of a pool whose members alone changed, those members). A change costs one
appended line and one fdatasync whatever the size of the configuration and of its pools. Once the segments hold as many changes as there are objects, a new
segment is started and a snapshot written (off the event loop); the segments it covers
are then deleted. A crash at any point leaves a snapshot plus segments that replay to
every acknowledged change; a line cut short by a crash was never acknowledged and is
dropped at the next start, which also compacts everything into a fresh snapshot.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from f5mock.kinds import KINDS
from f5mock.models import Config, MemberRecord
from f5mock.errors import StartupError

# The saved tables, `Config`'s fields: each top-level kind's records (members are in their pool's).
RECORDS: dict[str, type[BaseModel]] = {kind.plural: kind.record for kind in KINDS if kind.parent is None}
Change = set[tuple[str, str]]  # (kind, key) of the records a change created, changed or deleted
COMPACT_AFTER = 1000  # changes, at least, before a snapshot (more when there are more objects)


class Journal:
    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir
        self.snapshot_path = state_dir / "config.json"
        self._segment: int | None = None  # descriptor of the segment appended to
        self.entries = 0  # changes since the last snapshot began

    # --- reading ------------------------------------------------------------------------

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob("journal-*.jsonl"))

    def read(self) -> Config:
        """The configuration the files hold: the snapshot plus every complete change after it."""
        config = Config()
        if self.snapshot_path.exists():
            config = self._parse(self.snapshot_path, Config.model_validate_json)
        positions: dict[str, dict[str, int]] = {}  # pool -> member name -> index, built as replay needs them
        for segment in self.segments():
            lines = segment.read_bytes().split(b"\n")
            for number, line in enumerate(lines[:-1], 1):  # the last piece has no newline: cut short
                entry = self._parse(segment, json.loads, raw=line, line=number)
                if entry["generation"] > config.generation:
                    self._replay(config, entry, segment, number, positions)
        return config

    def _replay(
        self, config: Config, entry: dict[str, Any], segment: Path, number: int, positions: dict[str, dict[str, int]]
    ) -> None:
        if entry["generation"] != config.generation + 1:
            raise StartupError(
                f"the mock F5's journal {segment} line {number} is generation {entry['generation']}, "
                f"expected {config.generation + 1}: changes are missing"
            )
        for kind, records in entry["put"].items():
            model = RECORDS[kind]
            for key, data in records.items():
                getattr(config, kind)[key] = self._parse(segment, model.model_validate, raw=data, line=number)
                positions.pop(key, None)
        for kind, keys in entry["delete"].items():
            for key in keys:
                getattr(config, kind).pop(key, None)
                positions.pop(key, None)
        for pool_key, change in entry.get("members", {}).items():  # absent from lines before member changes
            pool = config.pools.get(pool_key)
            if pool is None:
                raise StartupError(f"the mock F5's journal {segment} line {number} changes members of {pool_key}, "
                                   "which it does not have")
            members = pool.members
            if pool_key not in positions:
                positions[pool_key] = {member.name: index for index, member in enumerate(members)}
            position = positions[pool_key]
            for name, data in change.get("put", {}).items():
                member = self._parse(segment, MemberRecord.model_validate, raw=data, line=number)
                if name in position:
                    members[position[name]] = member
                else:
                    position[name] = len(members)
                    members.append(member)
            if change.get("delete"):
                gone = set(change["delete"])
                pool.members = [member for member in members if member.name not in gone]
                positions.pop(pool_key)
        config.generation = entry["generation"]

    @staticmethod
    def _parse(path: Path, parse: Any, *, raw: Any = None, line: int | None = None) -> Any:
        try:
            return parse(path.read_bytes() if raw is None else raw)
        except (OSError, ValueError, KeyError, ValidationError) as error:
            where = f"{path} line {line}" if line else str(path)
            raise StartupError(f"the mock F5's saved configuration {where} cannot be read: {error}") from None

    # --- writing (all of it in worker threads: it waits on the disk) ---------------------

    @staticmethod
    def entry(
        config: Config, change: Change, member_changes: dict[str, dict[str, MemberRecord | None]] | None = None
    ) -> bytes:
        """One journal line: `change` as it stands in `config`; of the pools in `member_changes`
        (pool -> member name -> the member, None when deleted), only those members."""
        member_changes = member_changes or {}
        put: dict[str, dict[str, Any]] = {}
        delete: dict[str, list[str]] = {}
        members: dict[str, dict[str, Any]] = {}
        for kind, key in sorted(change):
            record = getattr(config, kind).get(key)
            if record is None:
                delete.setdefault(kind, []).append(key)
            elif kind == "pools" and key in member_changes:
                changed = sorted(member_changes[key].items())
                members[key] = {
                    "put": {name: member.model_dump(mode="json") for name, member in changed if member is not None},
                    "delete": [name for name, member in changed if member is None],
                }
            else:
                put.setdefault(kind, {})[key] = record.model_dump(mode="json")
        line: dict[str, Any] = {"generation": config.generation, "put": put, "delete": delete}
        if members:
            line["members"] = members
        return json.dumps(line, separators=(",", ":")).encode() + b"\n"

    def append(self, line: bytes) -> None:
        """Durable once it returns."""
        assert self._segment is not None, "start_segment first"
        os.write(self._segment, line)
        os.fdatasync(self._segment)
        self.entries += 1

    def start_segment(self, first_generation: int) -> None:
        """Later changes go to a new segment (made durable in the directory at once)."""
        path = self.directory / f"journal-{first_generation:012d}.jsonl"
        # O_TRUNC: a file of that name can only hold a line a crash cut short
        segment = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        _sync_directory(self.directory)
        if self._segment is not None:
            os.close(self._segment)
        self._segment = segment
        self.entries = 0

    def due(self, objects: int) -> bool:
        return self.entries >= max(COMPACT_AFTER, objects)

    def write_snapshot(self, config: Config) -> None:
        """`config` as the snapshot, then the segments it makes redundant are deleted.
        Records are serialised one at a time, so the event loop's thread gets the
        interpreter between them rather than waiting for the whole configuration."""
        parts = [b'{"generation":', str(config.generation).encode()]
        for kind in RECORDS:
            records = getattr(config, kind)
            parts.append(b',"' + kind.encode() + b'":{')
            parts.append(
                b",".join(
                    json.dumps(key).encode() + b":" + record.model_dump_json().encode()
                    for key, record in records.items()
                )
            )
            parts.append(b"}")
        parts.append(b"}")
        write_atomically(self.snapshot_path, b"".join(parts))
        for segment in self.segments():
            if int(segment.stem.removeprefix("journal-")) <= config.generation:
                segment.unlink()
        _sync_directory(self.directory)

    def close(self) -> None:
        if self._segment is not None:
            os.close(self._segment)
            self._segment = None


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename, fsync of the directory: once this returns, the new snapshot is durable.
    (envbuilder's state files are written the same way; the mock keeps its own: it imports nothing of envbuilder.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
