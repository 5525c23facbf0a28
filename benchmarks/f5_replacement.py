"""How long a VIP is dark when the F5 container of an environment on kind is replaced or restarted.

    .venv/bin/python benchmarks/f5_replacement.py [--services web,worker]

Stands up an environment (its own ENVBUILDER_HOME, a name no one else has), then, while a
probe asks the web VIP for `/` every 0.1 s (1 s timeout):

- replacement: `up --revision R2 --no-smoke`, where R2 is a commit of the same tree made for
  this run alone and its images are the environment's, tagged (no build, no real revision's
  images touched). A new revision replaces the F5 container.
- restart: `docker restart` of the F5 container.

For each: the VIP's dark time (first failed probe to the next good one), the time from the
new F5 process starting (the container's StartedAt) to the VIP's first good answer, and what
the new F5 loaded at start and how many changes f5-sync then made to it (from its log).
`down` at the end; the tags are removed.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from envbuilder.naming import f5_container_name

REPO = Path(__file__).resolve().parents[1]
ENVBUILDER = str(Path(sys.executable).parent / "envbuilder")


def envbuilder(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([ENVBUILDER, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"envbuilder {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


@dataclass
class Probe:
    """Asks the VIP every 0.1 s; keeps (wall-clock time, answered) for each attempt."""

    url: str
    results: list[tuple[float, bool]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=1.0) as client:
            while not self._stop.is_set():
                try:
                    ok = client.get(self.url, headers={"Connection": "close"}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.results.append((time.time(), ok))
                self._stop.wait(0.1)

    def __enter__(self) -> "Probe":
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def wait_answering(self, since: float, timeout: float = 300) -> float:
        deadline = time.time() + timeout
        while time.time() < deadline:
            answered = [t for t, ok in self.results if ok and t >= since]
            if answered:
                return answered[0]
            time.sleep(0.2)
        raise SystemExit(f"the VIP did not answer within {timeout} s")

    def dark(self, since: float) -> tuple[float | None, float | None]:
        """(first failure after `since`, first good answer after it)."""
        failed = next((t for t, ok in self.results if t >= since and not ok), None)
        if failed is None:
            return None, None
        return failed, next((t for t, ok in self.results if t > failed and ok), None)


def started_at(container: str) -> float:
    stamp = docker("inspect", "--format", "{{.State.StartedAt}}", container).strip()
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{fraction[:6] or '0'}+00:00").timestamp()


def f5_log(container: str) -> tuple[dict, int]:
    """What the F5 loaded at start, and how many changes it has been given since."""
    logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True).stderr
    events = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    loaded = [e for e in events if e["event"] == "loaded"][-1]
    started = [i for i, e in enumerate(events) if e["event"] == "loaded"][-1]
    return loaded, sum(1 for e in events[started:] if e["event"] == "change")


def another_revision(current: str) -> tuple[str, list[str]]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()

    base = current.removesuffix("-dirty")
    revision = git("rev-parse", "--short", git("commit-tree", f"{base}^{{tree}}", "-p", base, "-m", "benchmark revision"))
    images = docker("images", "--filter", f"reference=envbuilder/*:{current}", "--format", "{{.Repository}}").split()
    for repository in images:
        docker("tag", f"{repository}:{current}", f"{repository}:{revision}")
    return revision, [f"{repository}:{revision}" for repository in images]


def report(label: str, probe: Probe, since: float, container: str) -> None:
    start = started_at(container)
    answered = probe.wait_answering(start)
    failed, back = probe.dark(since)
    loaded, changes = f5_log(container)
    dark = f"{back - failed:6.1f} s" if failed and back else "  none"
    print(f"{label:<12} VIP dark {dark}; new F5 start -> VIP answers {answered - start:6.1f} s; "
          f"F5 loaded {loaded['pools']} pools, {loaded['virtuals']} virtuals; f5-sync changes since: {changes}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", default="web,worker")
    services = parser.parse_args().services
    name = f"bench-{secrets.token_hex(3)}"
    container = f5_container_name(name)
    tags: list[str] = []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ENVBUILDER_HOME": home, "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        try:
            envbuilder(env, "up", "--services", services, "--name", name, "--no-smoke")
            status = json.loads(envbuilder(env, "status", name, "--json"))
            with Probe(status["vips"]["web"] + "/") as probe:
                probe.wait_answering(0)
                revision, tags = another_revision(status["revision"])
                since = time.time()
                took = time.perf_counter()
                envbuilder(env, "up", "--services", services, "--name", name, "--no-smoke", "--revision", revision)
                print(f"{'':<12} up --revision (F5 replaced): {time.perf_counter() - took:.1f} s")
                report("replacement", probe, since, container)
                time.sleep(5)
                since = time.time()
                docker("restart", container)
                report("restart", probe, since, container)
        finally:
            subprocess.run([ENVBUILDER, "down", name], env=env, capture_output=True)
            if tags:
                subprocess.run(["docker", "image", "rm", *tags], capture_output=True)


if __name__ == "__main__":
    main()
