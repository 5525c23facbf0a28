"""An environment's lifecycle against bare kind, in one run on the same node image.

    .venv/bin/python benchmarks/environment_speed.py [--runs N] [--services web,worker] [--json FILE] [--code DIR]
        [--timeline FILE.svg]

Times `kind create cluster` and `kind delete cluster` of a bare cluster with the nodes an
environment has (one control plane and the default profile's workers) on the node image
envbuilder chooses, then `envbuilder up` of a new environment to green smoke checks, `up`
again with nothing changed, and `down`; each N times. Prints a table with each figure's
ratio to bare kind (`up` against `kind create`, `down` against `kind delete`) and the load
average, and writes the figures as JSON for the docs. For each new environment's `up` it prints
when each phase began and ended, from the start of the command (the environment's record keeps each
phase's times), and `--timeline` draws the first run's as an SVG picture.

Uses its own ENVBUILDER_HOME and kubeconfig (a temporary directory) and names no environment
or cluster anyone else has; the images are built before anything is timed. `--code DIR` runs
the envbuilder of another checkout (e.g. `git worktree add /tmp/before <commit>`), to measure a
former version in the same session on the same machine.
"""

import argparse
import html
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from envbuilder.cluster.node_image import choose_node_image, docker_cgroup_version
from envbuilder.spec.profile import load_profile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.checkout import LAUNCH  # noqa: E402

KIND = str(REPO / ".tools" / "bin" / "kind")
# (label, what it is compared with): bare kind's figures first, then the environment's.
STAGES = [
    ("kind create cluster", None),
    ("kind delete cluster", None),
    ("up, new environment, to green smoke", "kind create cluster"),
    ("up again, nothing changed", "kind create cluster"),
    ("down", "kind delete cluster"),
]


def timed(command: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[float, str]:
    """Seconds the command took, and what it said (envbuilder's status lines: each phase's time)."""
    started = time.perf_counter()
    result = subprocess.run(command, env=env, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[-4:])} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started, result.stdout + result.stderr


def envbuilder(*args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCH, *args]


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def bare_cluster_config(workers: int) -> str:
    """kind's own defaults, with the nodes an environment has; on a cgroup v1 host the kubelet of recent
    Kubernetes starts only when told to, as envbuilder tells it (desired/host.py)."""
    config: dict = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4",
                    "nodes": [{"role": "control-plane"}] + [{"role": "worker"} for _ in range(workers)]}
    if docker_cgroup_version() == "1":
        config["kubeadmConfigPatches"] = [yaml.safe_dump({"kind": "KubeletConfiguration", "failCgroupV1": False})]
    return yaml.safe_dump(config)


def up_phases(home: Path, name: str, started: float) -> list[dict]:
    """Each phase of the environment's last `up`: its name and its start and end in seconds from `started`
    (a wall-clock time), as its record keeps them."""
    record = json.loads((home / "environments" / f"{name}.json").read_text())
    return [{"name": phase["name"], "start": datetime.fromisoformat(phase["started_at"]).timestamp() - started,
             "end": datetime.fromisoformat(phase["finished_at"]).timestamp() - started}
            for phase in record.get("phases", []) if phase.get("finished_at")]


def timeline_svg(phases: list[dict], total: float, bare_create: float, title: str) -> str:
    """The phases as bars on one time axis, with the whole command and bare kind's create beside them."""
    rows = [*phases, {"name": "up (the whole command)", "start": 0.0, "end": total},
            {"name": "bare kind create cluster", "start": 0.0, "end": bare_create}]
    label_width, width, row, scale = 190, 880, 24, 660 / max(total, bare_create)
    height = 50 + row * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
             f'<text x="10" y="20" font-size="14">{html.escape(title)}</text>']
    for second in range(0, int(max(total, bare_create)) + 1, 10):
        x = label_width + second * scale
        parts.append(f'<line x1="{x:.1f}" y1="34" x2="{x:.1f}" y2="{height - 26}" stroke="#ddd"/>'
                     f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" fill="#666">{second}s</text>')
    for index, phase in enumerate(rows):
        y = 40 + index * row
        x, bar = label_width + phase["start"] * scale, max((phase["end"] - phase["start"]) * scale, 1)
        colour = "#4c78a8" if index < len(phases) else "#9d9d9d"
        parts.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{html.escape(phase["name"])}</text>'
                     f'<rect x="{x:.1f}" y="{y + 3}" width="{bar:.1f}" height="{row - 8}" fill="{colour}"/>'
                     f'<text x="{x + bar + 4:.1f}" y="{y + 15}" fill="#333">{phase["start"]:.1f}–{phase["end"]:.1f} s'
                     '</text>')
    return "\n".join([*parts, "</svg>"]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--services", default="web,worker")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose envbuilder is timed")
    parser.add_argument("--timeline", type=Path, help="draw the first run's phases of a new environment's up here (SVG)")
    options = parser.parse_args()
    code = options.code.resolve()
    profile = load_profile(code / "stacks", "default")
    node_image = choose_node_image(profile.node_image_candidates()).name
    commit = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    figures: dict[str, list[float]] = {label: [] for label, _ in STAGES}
    loads: list[str] = [load()]
    phases: list[list[dict]] = []  # each run's new environment's up, phase by phase
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "ENVBUILDER_HOME": str(Path(scratch) / "home"), "ENVBUILDER_CODE": str(code),
               "KUBECONFIG": str(Path(scratch) / "kubeconfig"),
               "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        print(f"envbuilder {commit} ({code}), node image {node_image}, {1 + profile.workers} nodes; building images",
              flush=True)
        timed(envbuilder("images", "build"), env)  # outside the figures: what a first `up` would build
        for run in range(1, options.runs + 1):
            # No environment's cluster has this name: theirs are envbuilder-<name>.
            bare = f"bench-bare-{secrets.token_hex(3)}"
            name = f"bench-{secrets.token_hex(3)}"
            up = envbuilder("up", "--services", options.services, "--name", name)
            steps = [
                ("kind create cluster", [KIND, "create", "cluster", "--name", bare, "--image", node_image,
                                         "--config", "-"], bare_cluster_config(profile.workers)),
                ("kind delete cluster", [KIND, "delete", "cluster", "--name", bare], None),
                ("up, new environment, to green smoke", up, None),
                ("up again, nothing changed", up, None),
                ("down", envbuilder("down", name), None),
            ]
            try:
                for label, command, stdin in steps:
                    started = time.time()
                    seconds, said = timed(command, env, stdin)
                    figures[label].append(seconds)
                    loads.append(load())
                    print(f"run {run}: {label:<38} {seconds:6.1f} s   load {loads[-1]}", flush=True)
                    if label == "up, new environment, to green smoke":
                        phases.append(up_phases(Path(env["ENVBUILDER_HOME"]), name, started))
                        print("".join(f"    {phase['name']:<14} {phase['start']:6.1f} → {phase['end']:6.1f} s "
                                      f"({phase['end'] - phase['start']:5.1f} s)\n" for phase in phases[-1]), flush=True)
                    if label == "down":
                        print("".join(f"    {line}\n" for line in said.splitlines() if line.strip()), flush=True)
            finally:  # whatever a failed step left
                subprocess.run([KIND, "delete", "cluster", "--name", bare], env=env, capture_output=True)
                subprocess.run(envbuilder("down", name), env=env, capture_output=True)
    medians = {label: statistics.median(values) for label, values in figures.items()}
    print(f"\n{'':<38} {'median':>9} {'min–max':>15} {'× bare kind':>12}")
    for label, compared_with in STAGES:
        ratio = f"{medians[label] / medians[compared_with]:.1f}" if compared_with else ""
        spread = f"{min(figures[label]):.1f}–{max(figures[label]):.1f} s"
        print(f"{label:<38} {medians[label]:7.1f} s {spread:>15} {ratio:>12}")
    print(f"load average (1, 5, 15 min) before and after each step: {'; '.join(loads)} on {os.cpu_count()} cores")
    if options.json:
        options.json.write_text(json.dumps({
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit, "node_image": node_image,
            "nodes": 1 + profile.workers, "services": options.services, "runs": options.runs, "cores": os.cpu_count(),
            "load_average": loads, "seconds": figures, "median_seconds": medians, "up_phases": phases,
        }, indent=1) + "\n")
    if options.timeline and phases:
        up, create = figures["up, new environment, to green smoke"][0], figures["kind create cluster"][0]
        options.timeline.write_text(timeline_svg(phases[0], up, create, f"envbuilder up --services {options.services} "
                                                 f"of a new environment, phase by phase ({commit}, run 1)"))


if __name__ == "__main__":
    main()
