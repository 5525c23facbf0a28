"""`f5-sync run` refuses incomplete settings before touching anything."""

import pytest

from f5sync.cli import main


def test_run_without_settings_exits_2_naming_the_missing_keys(monkeypatch, capsys):
    for key in ("F5_URL", "F5_USERNAME", "F5_PASSWORD", "F5SYNC_NAMESPACE", "F5SYNC_OWNER"):
        monkeypatch.delenv(key, raising=False)

    with pytest.raises(SystemExit) as exit:
        main(["run"])

    assert exit.value.code == 2
    error = capsys.readouterr().err
    assert "F5_URL" in error and "F5SYNC_OWNER" in error


def test_a_kubeconfig_that_is_not_a_file_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["run", "--kubeconfig", str(tmp_path / "missing")])

    assert exit.value.code == 2
    assert "is not a file" in capsys.readouterr().err
