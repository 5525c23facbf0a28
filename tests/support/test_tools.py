import pytest

from tests.support.tools import SKIP_VARIABLE, installed_tool, missing, opted_out


def test_a_tool_found_on_path_is_returned(tmp_path, monkeypatch):
    tool = tmp_path / "chromium"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert installed_tool("chromium", package="chromium", part="browser") == str(tool)


def test_a_missing_tool_fails_with_its_install_line_unless_the_run_leaves_its_part_out(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(SKIP_VARIABLE, raising=False)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium.*make test SKIP=browser"):
        installed_tool("chromium", package="chromium", part="browser")
    monkeypatch.setenv(SKIP_VARIABLE, "kind,browser")
    with pytest.raises(pytest.skip.Exception, match="left out: SKIP=browser"):
        installed_tool("chromium", package="chromium", part="browser")
    with pytest.raises(pytest.fail.Exception):
        missing("rabbitmq", "rabbitmq-server is not installed", "make setup")


def test_a_part_the_run_does_not_know_is_refused_so_a_typo_hides_nothing(monkeypatch):
    monkeypatch.setenv(SKIP_VARIABLE, "browsr")
    with pytest.raises(pytest.UsageError, match="SKIP names browsr; known: browser"):
        opted_out()


def test_a_leftovers_lookup_whose_tool_cannot_run_fails_instead_of_finding_nothing(tmp_path, monkeypatch):
    from tests.support.leftovers import LookupFailed, leftovers

    broken = tmp_path / "docker"
    broken.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LookupFailed, match="docker ps -a .* exited 1: Cannot connect to the Docker daemon"):
        leftovers("kt-000000", tmp_path)
    broken.unlink()
    with pytest.raises(LookupFailed, match="cannot look for leftovers with docker"):
        leftovers("kt-000000", tmp_path)
