"""The saved configuration: leftovers of a kill, and changes atomic with the listeners."""

from __future__ import annotations

from envbuilder.components.f5mock import run_in_thread


def test_temp_files_left_by_a_kill_are_removed_at_start(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    leftover = tmp_path / ".config.json.k1ll3d"
    leftover.write_bytes(b'{"generation": 7, "half a wri')

    with run_in_thread(tmp_path):
        assert not leftover.exists()
