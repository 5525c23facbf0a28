"""Where a CI run's time went, printed at the end of `.ci/run`: each timed step of `make setup` and `make test`
(the file named by ENVBUILDER_STEP_TIMES, written by tools/steps.sh) and each test tier (build/test-times.json,
written by tests/support/timing.py). Standard library only: it runs whether or not the venv was made.

    python3 tools/ci_summary.py STEP_TIMES_FILE TEST_TIMES_JSON TOTAL_SECONDS
"""

import json
import sys
from pathlib import Path


def minutes(seconds: float) -> str:
    return f"{int(seconds) // 60:3d} min {seconds % 60:04.1f} s"


def steps(path: Path) -> list[tuple[str, str, int]]:
    """(prefix, name, seconds) of each timed step, in the order they ended."""
    if not path.exists():
        return []
    rows = [line.split("\t") for line in path.read_text().splitlines() if line.count("\t") == 2]
    return [(prefix, name, int(seconds)) for prefix, name, seconds in rows]


def main(step_times: Path, test_times: Path, total: int) -> None:
    print(f"\n==== where the time went ({minutes(total).strip()} in all) ====")
    # make's own steps at the left, each followed by the pieces its build script timed (they end first).
    pieces: list[str] = []
    for prefix, name, seconds in steps(step_times):
        if prefix != "make":
            pieces.append(f"{minutes(seconds)}    {prefix}: {name}")
            continue
        print(f"{minutes(seconds)}  {name}")
        for piece in pieces:
            print(piece)
        pieces = []
    for piece in pieces:  # those of a step cut short by a failure
        print(piece)
    if test_times.exists():
        figures = json.loads(test_times.read_text())
        print(f"tests by tier (the sum of each test's setup, call and teardown; {minutes(figures['wall seconds']).strip()} "
              "of pytest in all):")
        for tier, times in figures["tiers"].items():
            print(f"{minutes(times['seconds'])}    {tier:7} {times['tests']:4d} tests")
        print("slowest tests:")
        for entry in figures["slowest"][:8]:
            print(f"{minutes(entry['seconds'])}    {entry['test']}")
        # Last, pytest's own count again, so the log still ends on the tests' outcome.
        outcomes = figures["outcomes"]
        print(f"tests: {outcomes['passed']} passed, {outcomes['failed']} failed, {outcomes['skipped']} skipped")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
