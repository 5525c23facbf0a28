"""`up` of a new environment, `up` again with no change, and `down` on an existing cluster, timed by phase.

    .venv/bin/python benchmarks/engine_up_down.py [--runs N] [--services web] [--json FILE] [--code DIR]

Runs against the test control plane of `make toolchain` (etcd, kube-apiserver, controllers and
KWOK nodes, all on loopback, started here) with the `existing` target, `--no-smoke`, on the real
Pulumi engine; its own ENVBUILDER_HOME (a temporary directory), so it touches no one's
environments. Each step's time, and each phase's: `up`'s from the environment's record (when it
started, counted from the command's start, and how long it took; phases overlap where the graph
lets them) with the stretches when no phase ran (Python's start, the record, the Pulumi CLI's calls
around the engine), `down`'s from its status lines. The load average after each step. `--code
DIR` times the envbuilder of another checkout (`git worktree add /tmp/before <commit>`), so a
change is measured against the code before it in the same session.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.checkout import LAUNCH  # noqa: E402
from tests.support.controlplane import ControlPlane  # noqa: E402

STEPS = ("up, new environment", "up again, nothing changed", "down")
# A finished phase's status line: " ✓ Deleting the kind cluster or the namespace 9.8s".
STATUS_LINE = re.compile(r"^\s*✓ (?P<title>.+?) (?P<seconds>\d+(?:\.\d+)?)s\s*$")


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def timed(args: list[str], env: dict[str, str]) -> tuple[float, datetime, str]:
    """Seconds the command took, when it started, and what it said."""
    started_at, started = datetime.now(UTC), time.perf_counter()
    result = subprocess.run([sys.executable, "-c", LAUNCH, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"envbuilder {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started, started_at, result.stdout + result.stderr


def up_phases(home: Path, name: str, started_at: datetime, seconds: float) -> dict[str, tuple[float | None, float]]:
    """Phase -> (seconds from the command's start, seconds it took), from the record; and each stretch
    of time in which no phase ran (Python's start, the record, the Pulumi CLI's calls around the engine)."""
    record = json.loads((home / "environments" / f"{name}.json").read_text())
    phases: dict[str, tuple[float | None, float]] = {}
    covered = 0.0  # until when some phase ran
    for phase in sorted(record["phases"], key=lambda phase: phase["started_at"]):
        start = (datetime.fromisoformat(phase["started_at"]) - started_at).total_seconds()
        if start < 0:
            continue  # an earlier command's: this one ran no phase (an unchanged environment)
        took = (datetime.fromisoformat(phase["finished_at"]) - datetime.fromisoformat(phase["started_at"])).total_seconds()
        if start - covered >= 0.05:
            phases[f"(no phase, before {phase['name']})"] = (covered, start - covered)
        phases[phase["name"]] = (start, took)
        covered = max(covered, start + took)
    phases["(no phase, after the last)"] = (covered, seconds - covered)
    return phases


def down_phases(said: str) -> dict[str, tuple[float | None, float]]:
    """Phase title -> (start unknown, seconds it took), from the status lines: `down` leaves no record."""
    return {match["title"]: (None, float(match["seconds"])) for line in said.splitlines()
            if (match := STATUS_LINE.match(line))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--services", default="web")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose envbuilder is timed")
    options = parser.parse_args()
    code = options.code.resolve()
    revision = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    figures: dict[str, list[float]] = {step: [] for step in STEPS}
    phases: dict[str, list[dict[str, tuple[float | None, float]]]] = {step: [] for step in STEPS}
    loads = [load()]
    with tempfile.TemporaryDirectory() as scratch, ControlPlane(nodes=2) as control_plane:
        home = Path(scratch) / "home"
        env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig), "ENVBUILDER_HOME": str(home),
               "ENVBUILDER_CODE": str(code), "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        print(f"envbuilder {revision} ({code}), services {options.services}, existing target (KWOK, 2 nodes), "
              f"load {loads[0]}", flush=True)
        for run in range(1, options.runs + 1):
            name = f"bench{run}"
            up = ["up", "--services", options.services, "--name", name, "--target", "existing",
                  "--kube-context", "envbuilder-test", "--revision", revision, "--no-smoke"]
            try:
                for step, args in zip(STEPS, (up, up, ["down", name])):
                    seconds, started_at, said = timed(args, env)
                    figures[step].append(seconds)
                    loads.append(load())
                    phases[step].append(down_phases(said) if step == "down" else
                                        up_phases(home, name, started_at, seconds))
                    print(f"run {run}: {step:<28} {seconds:6.1f} s   load {loads[-1]}", flush=True)
                    # Whether the no-op took the fast path (fake pods never answer a liveness check) or ran the engine.
                    for line in said.splitlines() if step == STEPS[1] else []:
                        if "unchanged" in line or "up to date" in line:
                            print(f"    {line.strip()}", flush=True)
                    for phase, (start, took) in phases[step][-1].items():
                        at = "" if start is None else f"at {start:5.1f} s"
                        print(f"    {phase:<52} {at:>10} {took:6.1f} s", flush=True)
            finally:  # whatever a failed step left
                subprocess.run([sys.executable, "-c", LAUNCH, "down", name], env=env, capture_output=True)
    print(f"\n{'':<28} {'median':>9} {'min–max':>15}")
    for step in STEPS:
        values = figures[step]
        print(f"{step:<28} {statistics.median(values):7.1f} s {f'{min(values):.1f}–{max(values):.1f} s':>15}")
    print(f"load average (1, 5, 15 min) before and after each step: {'; '.join(loads)} on {os.cpu_count()} cores")
    if options.json:
        options.json.write_text(json.dumps({
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": revision, "code": str(code),
            "services": options.services, "runs": options.runs, "cores": os.cpu_count(), "load_average": loads,
            "seconds": figures, "phases": phases,
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()
