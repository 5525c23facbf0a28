"""Revision naming against real git repositories made in tmp_path."""

import subprocess
from pathlib import Path

import pytest

from envbuilder.errors import InputError
from envbuilder.images.revision import changed_paths, current_revision, resolve_revision


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


def test_a_changed_tree_is_named_by_the_commit_and_a_digest_of_its_content(repo):
    head = git(repo, "rev-parse", "--short", "HEAD")
    (repo / "app.py").write_text("print('v2')\n")
    first = current_revision(repo).name
    (repo / "app.py").write_text("print('v3')\n")
    second = current_revision(repo).name
    (repo / "app.py").write_text("print('v2')\n")

    assert first.startswith(f"{head}-dirty-") and second.startswith(f"{head}-dirty-")
    assert first != second, "a second edit must get a name of its own"
    assert current_revision(repo).name == first, "the same content must get the same name"


def test_an_image_keeps_the_commits_tag_until_one_of_its_inputs_changes(repo):
    (repo / "svc").mkdir()
    (repo / "svc" / "main.py").write_text("v1\n")
    git(repo, "add", "svc")
    git(repo, "commit", "--quiet", "-m", "svc")
    head = git(repo, "rev-parse", "--short", "HEAD")
    (repo / "app.py").write_text("print('v2')\n")

    assert current_revision(repo).tag_for(["svc"]) == head
    (repo / "svc" / "new.py").write_text("")
    assert current_revision(repo).tag_for(["svc"]).startswith(f"{head}-dirty-")


def test_mode_deletion_and_rename_change_the_name(repo):
    names = {current_revision(repo).name}
    (repo / "app.py").chmod(0o755)
    names.add(current_revision(repo).name)
    git(repo, "mv", "app.py", "main.py")
    names.add(current_revision(repo).name)
    (repo / "main.py").unlink()
    names.add(current_revision(repo).name)

    assert len(names) == 4


def test_git_status_paths_include_both_sides_of_a_rename():
    assert changed_paths(" M a.py\0R  new name.py\0old.py\0?? dir/x\0") == {"a.py", "new name.py", "old.py", "dir/x"}


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
