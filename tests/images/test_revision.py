"""Revision naming against real git repositories made in tmp_path."""

import subprocess
from pathlib import Path

import pytest

from envbuilder.errors import InputError
from envbuilder.images.revision import current_revision, resolve_revision


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "config", "user.email", "test@example.invalid")
    git(tmp_path, "config", "user.name", "test")
    (tmp_path / "app.py").write_text("print('v1')\n")
    git(tmp_path, "add", "app.py")
    git(tmp_path, "commit", "--quiet", "-m", "v1")
    return tmp_path


def test_a_clean_tree_is_named_by_the_short_sha_of_head(repo):
    revision = current_revision(repo)

    assert revision.name == git(repo, "rev-parse", "--short", "HEAD")
    assert not revision.dirty


def test_a_changed_tracked_file_makes_the_tree_dirty(repo):
    (repo / "app.py").write_text("print('v2')\n")

    assert current_revision(repo).name == git(repo, "rev-parse", "--short", "HEAD") + "-dirty"


def test_an_untracked_file_makes_the_tree_dirty_but_an_ignored_one_does_not(repo):
    (repo / ".gitignore").write_text("build/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "--quiet", "-m", "ignore build")
    (repo / "build").mkdir()
    (repo / "build" / "wheel.whl").write_text("")
    assert not current_revision(repo).dirty

    (repo / "new.py").write_text("")
    assert current_revision(repo).dirty


def test_a_branch_or_full_sha_resolves_to_the_short_sha(repo):
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "release-1")
    (repo / "app.py").write_text("print('v2')\n")
    git(repo, "commit", "--quiet", "-am", "v2")

    assert first.startswith(resolve_revision(repo, first).name)
    assert resolve_revision(repo, "release-1") == resolve_revision(repo, first)
    assert resolve_revision(repo, "HEAD~1") == resolve_revision(repo, first)
    assert not resolve_revision(repo, "HEAD").dirty


def test_an_unknown_revision_is_an_input_error_naming_it(repo):
    with pytest.raises(InputError, match="'no-such-branch' is not a commit"):
        resolve_revision(repo, "no-such-branch")
