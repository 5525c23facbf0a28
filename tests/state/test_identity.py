"""The identity of an envbuilder home: made once, the same ever after, different for every home."""

import multiprocessing
import os
import re

from envbuilder.state.identity import home_identity


def _identity_in(home: str, results) -> None:
    os.environ["ENVBUILDER_HOME"] = home
    results.put(home_identity())


def test_a_home_keeps_its_identity_and_another_home_gets_another(tmp_path, monkeypatch):
    first = home_identity()
    assert home_identity() == first and re.fullmatch(r"[a-z0-9]{12,63}", first)  # usable as a label value
    monkeypatch.setenv("ENVBUILDER_HOME", str(tmp_path / "second-home"))
    assert home_identity() != first


def test_processes_racing_to_make_the_identity_all_get_the_same_one(tmp_path):
    home = str(tmp_path / "home")
    results = multiprocessing.get_context("spawn").Queue()
    racers = [multiprocessing.get_context("spawn").Process(target=_identity_in, args=(home, results)) for _ in range(6)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)
    assert len({results.get(timeout=5) for _ in racers}) == 1
