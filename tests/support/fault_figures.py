"""The fault suite's figures (runs killed, recovered, objects leaked, each case) in build/faults.json and at
the end of the terminal output.

Each fault test records its cases as a user property of its report, so the figures are read from the
reports: under xdist the controller sees every worker's, where a module's global would hold one worker's."""

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIGURES = REPO / "build" / "faults.json"
CASE_PROPERTY = "fault case"


class FaultFigures:
    def __init__(self) -> None:
        self.cases: list[dict] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":  # the last report of a test: its cases are final by then
            self.cases += [value for key, value in report.user_properties if key == CASE_PROPERTY]

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter, config: pytest.Config) -> None:
        if not self.cases or hasattr(config, "workerinput"):  # an xdist worker: its controller reports
            return
        summary = {
            "runs killed": len(self.cases),
            "recovered": sum(case["recovered"] for case in self.cases),
            "objects leaked": sum(len(case["leaked"]) for case in self.cases),
            "cases": self.cases,
        }
        FIGURES.parent.mkdir(exist_ok=True)
        FIGURES.write_text(json.dumps(summary, indent=1))
        terminalreporter.section("fault injection")
        terminalreporter.write_line(f"runs killed {summary['runs killed']}, recovered {summary['recovered']}, "
                                    f"objects leaked {summary['objects leaked']} (details: {FIGURES})")
        for case in self.cases:
            terminalreporter.write_line(
                f"  {case['target']:8} {case['command']:4} {case['phase']:13} {case['interruption']:7} "
                f"{'recovered' if case['recovered'] else 'NOT recovered':13} leaked {len(case['leaked'])}  "
                f"{case['seconds']:.0f} s"
            )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(FaultFigures(), "envbuilder-fault-figures")
