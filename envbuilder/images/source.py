"""The files of one revision, exported to a directory: `git archive` for a commit, the working tree when dirty."""

import shutil
from pathlib import Path

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.images.revision import Revision


def export_source(repo: Path, revision: Revision, destination: Path, runner: Runner = run) -> None:
    """Exactly what git knows of that revision: tracked files (plus untracked, unignored ones when dirty),
    never .venv/, build/ or other ignored files, so build contexts stay small and reproducible."""
    destination.mkdir(parents=True, exist_ok=True)
    if revision.dirty:
        _copy_working_tree(repo, destination, runner)
        return
    archive = destination.with_suffix(".tar")
    check(
        runner(["git", "-C", str(repo), "archive", "--format=tar", "-o", str(archive), revision.commit], timeout=300),
        f"git archive {revision.commit}",
    )
    # tar(1) rather than tarfile: Python before 3.11.4 (Debian 12's 3.11.2) has no extraction filters.
    check(runner(["tar", "-x", "-f", str(archive), "-C", str(destination)], timeout=300), f"unpacking {archive}")
    archive.unlink()


def _copy_working_tree(repo: Path, destination: Path, runner: Runner) -> None:
    listed = check(
        runner(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"], timeout=120),
        "git ls-files",
    )
    for relative in filter(None, listed.stdout.split("\0")):
        source = repo / relative
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
