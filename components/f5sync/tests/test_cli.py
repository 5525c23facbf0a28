"""`envbuilder f5-sync run` refuses incomplete settings before touching anything."""

from typer.testing import CliRunner

from envbuilder.cli import app


def test_run_without_settings_exits_2_naming_the_missing_keys(monkeypatch):
    for key in ("F5_URL", "F5_USERNAME", "F5_PASSWORD", "F5SYNC_NAMESPACE", "F5SYNC_OWNER"):
        monkeypatch.delenv(key, raising=False)
    result = CliRunner().invoke(app, ["f5-sync", "run"])
    assert result.exit_code == 2
    assert "F5_URL" in result.output and "F5SYNC_OWNER" in result.output
