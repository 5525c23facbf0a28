"""When `envbuilder dev` counts a restart in place done, failed, or not yet."""

import asyncio

from envbuilder.pipeline.dev import Running, once_running, restart_progress

POD = Running("web-1", pod=True, restarts=0)


def test_an_answer_of_the_process_that_is_stopping_is_not_the_restarted_code():
    assert restart_progress(POD, POD, before="old", instance="old") is None


def test_a_new_process_answering_in_the_same_container_is_the_restart_done():
    assert restart_progress(POD, POD, before="old", instance="new") == "answering"


def test_a_container_that_started_again_from_its_image_is_a_failed_restart_even_when_it_answers():
    started_again = Running("web-1", pod=True, restarts=1)
    assert restart_progress(POD, started_again, before="old", instance="new") == "exited"


def test_a_container_that_no_longer_runs_is_a_failed_restart():
    stopped = Running("envbuilder-dev-legacy-worker", pod=False, running=False)
    assert restart_progress(Running("envbuilder-dev-legacy-worker", pod=False), stopped, "old", None) == "exited"


def test_no_answer_yet_is_waited_for():
    assert restart_progress(POD, POD, before="old", instance=None) is None


def test_a_service_that_names_no_process_is_done_at_its_first_answer():
    assert restart_progress(POD, POD, before="", instance="") == "answering"
    assert restart_progress(POD, POD, before=None, instance="") == "answering"


def scripted(*views: Running):
    """What the API shows of a container, one view per look; the last one stays."""
    shown = list(views)

    async def look() -> Running:
        return shown.pop(0) if len(shown) > 1 else shown[0]
    return look


def test_a_container_a_save_broke_is_synced_into_once_it_runs_again_with_its_new_restart_count():
    crashed = Running("web-1", pod=True, restarts=0, running=False)
    started_again = Running("web-1", pod=True, restarts=1)
    look = scripted(crashed, crashed, started_again)
    assert asyncio.run(once_running(look, timeout=5, interval=0)) == started_again


def test_a_container_that_does_not_run_again_in_time_is_taken_as_last_seen():
    crashed = Running("web-1", pod=True, restarts=0, running=False)
    assert asyncio.run(once_running(scripted(crashed), timeout=0.05, interval=0.01)) == crashed
