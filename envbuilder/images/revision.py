"""Naming a source revision: the short commit SHA, with `-dirty` for uncommitted changes."""

from dataclasses import dataclass
from pathlib import Path

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.errors import InputError

DIRTY_SUFFIX = "-dirty"


@dataclass(frozen=True)
class Revision:
    commit: str  # short SHA
    dirty: bool  # the working tree differs from the commit: build from the tree, not from git

    @property
    def name(self) -> str:
        """The image tag for this revision."""
        return self.commit + (DIRTY_SUFFIX if self.dirty else "")

    @classmethod
    def from_name(cls, name: str) -> "Revision":
        """The revision an environment records by its tag name."""
        return cls(commit=name.removesuffix(DIRTY_SUFFIX), dirty=name.endswith(DIRTY_SUFFIX))


def current_revision(repo: Path, runner: Runner = run) -> Revision:
    """HEAD of the working tree; dirty when tracked files changed or untracked, unignored files exist."""
    commit = _short_sha(repo, "HEAD", runner)
    status = check(runner(["git", "-C", str(repo), "status", "--porcelain"], timeout=60), "git status")
    return Revision(commit=commit, dirty=bool(status.stdout.strip()))


def resolve_revision(repo: Path, rev: str, runner: Runner = run) -> Revision:
    """A user's `--revision` (SHA, branch, tag, HEAD~2...) as a clean commit."""
    return Revision(commit=_short_sha(repo, rev, runner), dirty=False)


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
