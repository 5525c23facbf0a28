"""Where a pytest run spent its time, per tier: written to build/test-times.json at the end of every session,
so `.ci/run` (tools/ci_summary.py) can print it and a slow tier shows in every CI log.

A test counts in one tier, the most expensive of its markers: faults, kind, engine, slow (real components,
Docker), else fast. Its time is its setup, call and teardown, so a cluster made by a module's fixture counts
in the tier of the test that first asked for it. Under xdist the controller sees every worker's reports."""

import json
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMES = REPO / "build" / "test-times.json"
# Most expensive first: a test marked both `faults` and `kind` is a fault-injection test.
TIER_ORDER = ("faults", "kind", "engine", "slow", "docker")
SLOWEST_KEPT = 15


def tier_of(markers: set[str]) -> str:
    tier = next((name for name in TIER_ORDER if name in markers), "fast")
    return "slow" if tier == "docker" else tier


class TierTimes:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.tiers: dict[str, dict[str, float]] = {}
        self.tests: dict[str, float] = {}
        self.outcomes: dict[str, str] = {}

    @pytest.hookimpl
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # On the item, so that the report carries it (also from an xdist worker to its controller).
        for item in items:
            item.user_properties.append(("tier", tier_of({mark.name for mark in item.iter_markers()})))

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = dict(report.user_properties).get("tier", "fast")
        tier = self.tiers.setdefault(name, {"tests": 0, "seconds": 0.0})
        tier["seconds"] += report.duration
        if report.when == "call" or (report.when == "setup" and not report.passed):  # ran, or skipped or erred
            tier["tests"] += 1
        self.tests[report.nodeid] = self.tests.get(report.nodeid, 0.0) + report.duration
        # A test's outcome: failed if any phase failed, else skipped or passed as it ran.
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.when == "call" or report.skipped:
            self.outcomes.setdefault(report.nodeid, "skipped" if report.skipped else "passed")

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):  # an xdist worker: its controller writes the figures
            return
        slowest = sorted(self.tests.items(), key=lambda entry: entry[1], reverse=True)[:SLOWEST_KEPT]
        TIMES.parent.mkdir(exist_ok=True)
        TIMES.write_text(json.dumps({
            "wall seconds": round(time.monotonic() - self.started, 1),
            "tiers": {name: {"tests": int(t["tests"]), "seconds": round(t["seconds"], 1)}
                      for name, t in sorted(self.tiers.items(), key=lambda entry: -entry[1]["seconds"])},
            "outcomes": {outcome: list(self.outcomes.values()).count(outcome) for outcome in ("passed", "failed", "skipped")},
            "slowest": [{"test": nodeid, "seconds": round(seconds, 1)} for nodeid, seconds in slowest],
        }, indent=1))


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(TierTimes(), "envbuilder-tier-times")
