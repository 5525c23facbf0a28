"""What a save means to `envbuilder dev`: sync or rebuild, which services, batching, the cycle's line."""

from pathlib import Path

import pytest

from envbuilder.errors import InputError
from envbuilder.pipeline.dev_plan import Batch, LiveFiles, WatchedService, cycle_line, live_changes, plan
from envbuilder.spec.catalog import load_catalog

ROOT = Path("/repo")
CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "stacks" / "services")
SERVICES = [WatchedService.of(CATALOG.entries[name], ROOT, ROOT / "stacks" / "services")
            for name in ("web", "worker", "legacy-worker")]
WEB = ROOT / "fixtures/services/web"
WORKER = ROOT / "fixtures/services/worker"


def everything_exists(path: Path) -> bool:
    return True


def test_a_saved_source_file_is_copied_to_where_the_image_has_it():
    [web] = plan(SERVICES, [WEB / "web.py"], everything_exists)
    assert (web.service, web.copy, web.rebuild) == ("web", {"/app/web.py": WEB / "web.py"}, False)


def test_a_file_both_runtimes_run_goes_to_each_service_that_runs_it():
    plans = plan(SERVICES, [WORKER / "worker.py"], everything_exists)
    assert [(p.service, p.copy) for p in plans] == [("worker", {"/app/worker.py": WORKER / "worker.py"}),
                                                    ("legacy-worker", {"/app/worker.py": WORKER / "worker.py"})]


@pytest.mark.parametrize("saved", [WEB / "requirements.txt", WEB / "Dockerfile", ROOT / "stacks/services/web.yaml"])
def test_what_sync_cannot_carry_rebuilds_that_service_alone(saved):
    plans = plan(SERVICES, [saved, WEB / "web.py"], everything_exists)
    assert [(p.service, p.rebuild_because) for p in plans] == [("web", [saved])]


def test_a_deleted_file_is_deleted_in_the_containers_and_unrelated_files_are_no_ones():
    plans = plan(SERVICES, [WEB / "old.py", ROOT / "README.md"], lambda path: False)
    assert [(p.service, p.delete, p.copy) for p in plans] == [("web", ["/app/old.py"], {})]


def test_a_service_that_has_not_opted_in_is_refused_with_how_to():
    with pytest.raises(InputError, match="web-direct has not opted in"):
        WatchedService.of(CATALOG.entries["web-direct"], ROOT, ROOT / "stacks" / "services")


def test_saves_close_together_are_one_batch_timed_from_the_first_save():
    batch = Batch(quiet_seconds=0.2)
    batch.add([WEB / "web.py"], saved_at=10.0, seen_at=10.05)
    assert not batch.ready(now=10.1)
    batch.add([WEB / "util.py", WEB / "web.py"], saved_at=10.12, seen_at=10.15)
    assert not batch.ready(now=10.3) and batch.ready(now=10.36)
    assert batch.take() == ({WEB / "web.py", WEB / "util.py"}, 10.0)
    assert not batch.ready(now=99.0)


def test_live_files_keep_every_change_so_far_and_the_last_word_on_each_file():
    live = LiveFiles()
    live.add(plan(SERVICES, [WEB / "web.py", WEB / "util.py"], everything_exists)[0])
    live.add(plan(SERVICES, [WEB / "util.py"], lambda path: False)[0])
    assert (live.copy, live.delete) == ({"/app/web.py": WEB / "web.py"}, {"/app/util.py"})
    assert live_changes({"web": live, "worker": LiveFiles()}, ROOT) == {
        "web": ["fixtures/services/web/util.py", "fixtures/services/web/web.py"]}


def test_a_cycle_is_one_line_service_mode_files_seconds_outcome():
    files = [WEB / f"m{n}.py" for n in range(5)]
    assert cycle_line("web", files[:1], ROOT, "sync", 1.234, "2 pods answering") == \
        "web  sync  fixtures/services/web/m0.py  1.2 s  2 pods answering"
    assert "and 2 more" in cycle_line("web", files, ROOT, "rebuild", 40, "rolled")


def test_files_git_ignores_are_not_synced(tmp_path):
    import subprocess

    from envbuilder.pipeline.dev import not_ignored

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("build/\n")
    saved = {tmp_path / "web.py", tmp_path / "build" / "wheels" / "x.whl"}
    assert not_ignored(tmp_path, saved) == {tmp_path / "web.py"}
    assert not_ignored(tmp_path / "nowhere", saved) == saved
