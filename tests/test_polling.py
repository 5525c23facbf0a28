"""envbuilder.polling: a wait returns what the condition found, or says what it waited for and what it saw last."""

import pytest

from envbuilder.polling import wait_for, wait_until


def test_a_wait_returns_the_first_true_value_the_condition_gives():
    answers = iter([None, [], ["ready"]])
    assert wait_until(lambda: next(answers), timeout=5, what="an answer", interval=0) == ["ready"]


def test_a_wait_past_its_deadline_names_what_it_waited_for_the_last_value_and_the_diagnosis():
    with pytest.raises(TimeoutError) as raised:
        wait_until(lambda: 0, timeout=0.05, what="the pool", interval=0.01, diagnosis=lambda: "the log")
    assert str(raised.value) == "timed out after 0.05 s waiting for the pool (last: 0)\nthe log"


def test_an_exception_from_the_condition_ends_the_wait_at_once():
    def exited():
        raise RuntimeError("the process exited")

    with pytest.raises(RuntimeError, match="exited"):
        wait_until(exited, timeout=60, what="a process")


def test_a_wait_that_goes_on_regardless_returns_the_last_false_value_at_its_deadline():
    assert wait_for(lambda: set(), timeout=0.05, interval=0.01) == set()
    answers = iter([set(), {"gone"}])
    assert wait_for(lambda: next(answers), timeout=5, interval=0) == {"gone"}
