"""When `envbuilder dev` counts a restart in place done, failed, or not yet."""

from envbuilder.pipeline.dev import Running, restart_progress

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
