"""Naming a source revision: the short commit SHA, and for a changed working tree a digest of its changes.

An image's tag names the content it was built from. While none of an image's inputs differ from the
commit, the tag is the commit's (`abc1234`); once one does, it is `abc1234-dirty-<digest>`, where the
digest covers the path and content of each changed input. So a second edit gets a new tag (and rolls
what runs it), saving the same content again gets the same tag (and builds nothing), and an image whose
inputs an edit did not touch keeps its tag.
"""

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.errors import InputError

DIRTY_MARKER = "-dirty-"
DIGEST_LENGTH = 12
DELETED = "deleted"


@dataclass(frozen=True)
class Revision:
    commit: str  # short SHA
    # Working-tree paths (relative, `/`-separated) that differ from the commit -> digest of their content.
    changes: Mapping[str, str] = field(default_factory=dict)

    @property
    def dirty(self) -> bool:
        """The working tree differs from the commit: build from the tree, not from git."""
        return bool(self.changes)

    @property
    def name(self) -> str:
        """The whole tree's revision, as an environment shows it."""
        return self.tag_for([""])

    def tag_for(self, inputs: Iterable[str]) -> str:
        """The tag of an image built from `inputs` (files or folders, relative to the repository root)."""
        prefixes = [path.rstrip("/") for path in inputs]
        touched = sorted((path, digest) for path, digest in self.changes.items() if _under(path, prefixes))
        if not touched:
            return self.commit
        content = hashlib.sha256("".join(f"{path}\0{digest}\n" for path, digest in touched).encode())
        return f"{self.commit}{DIRTY_MARKER}{content.hexdigest()[:DIGEST_LENGTH]}"


def _under(path: str, prefixes: list[str]) -> bool:
    return any(not prefix or path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def current_revision(repo: Path, runner: Runner = run) -> Revision:
    """HEAD of the working tree, with every tracked file that changed and every untracked, unignored one."""
    commit = _short_sha(repo, "HEAD", runner)
    status = check(
        runner(["git", "-C", str(repo), "status", "--porcelain", "-z", "--untracked-files=all"], timeout=60),
        "git status",
    )
    return Revision(commit=commit, changes={path: _file_digest(repo / path) for path in changed_paths(status.stdout)})


def changed_paths(porcelain_z: str) -> set[str]:
    """The paths `git status --porcelain -z` names; a rename or copy names both its paths."""
    paths: set[str] = set()
    entries = iter(porcelain_z.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        paths.add(entry[3:])
        if entry[0] in "RC":  # the source path follows as an entry of its own
            paths.add(next(entries, ""))
    paths.discard("")
    return paths


def _file_digest(path: Path) -> str:
    """What a build sees of a file: its content, whether it is executable, or where a symlink points."""
    if path.is_symlink():
        return "link:" + os.readlink(path)
    if not path.exists():
        return DELETED
    executable = "x" if os.access(path, os.X_OK) else "-"
    return executable + hashlib.sha256(path.read_bytes()).hexdigest()


def resolve_revision(repo: Path, rev: str, runner: Runner = run) -> Revision:
    """A user's `--revision` (SHA, branch, tag, HEAD~2...) as a clean commit."""
    return Revision(commit=_short_sha(repo, rev, runner))


def _short_sha(repo: Path, rev: str, runner: Runner) -> str:
    result = runner(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", "--short", f"{rev}^{{commit}}"], timeout=60
    )
    if not result.ok or not result.stdout.strip():
        raise InputError(
            f"revision {rev!r} is not a commit of the repository at {repo}",
            hint="give a commit SHA, branch or tag that `git log` shows (fetch it first if it is remote)",
        )
    return result.stdout.strip()
