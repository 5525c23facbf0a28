import pytest

from tests.support.tools import installed_tool


def test_a_tool_found_on_path_is_returned(tmp_path, monkeypatch):
    tool = tmp_path / "chromium"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert installed_tool("chromium", package="chromium") == str(tool)


def test_a_missing_tool_skips_on_a_workstation_and_fails_in_ci(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        installed_tool("chromium", package="chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        installed_tool("chromium", package="chromium")
