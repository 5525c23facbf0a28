"""The inner loop on kind: from a saved edit to every pod answering the new code through the F5 VIP.

A new environment of web and worker (two replicas each) from a copy of the working tree, `envbuilder dev`
on it, requests at 10/s through web's VIP (`/work`, so through the broker to a worker) counting
failures, then: 20 edits of web.py (until both web pods answer the edit on `GET /` through the VIP),
20 edits of worker.py (until both workers' answers to `/work` carry it) and a few edits of web's
requirements.txt with web.py (the rebuild fallback). Run under the machine's kind lock:

    flock /work/wt/kind.lock .venv/bin/python benchmarks/dev_loop.py [--edits 20] [--rebuilds 3]
"""

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
ENVBUILDER = str(Path(sys.executable).parent / "envbuilder")
WEB_ANCHOR = '"hostname": settings.hostname,'
WORKER_ANCHOR = '"redelivered": message.redelivered,'


def working_copy(into: Path) -> Path:
    """A clone at the same commit with the working tree's changes: its images get the tree's tags."""
    from envbuilder.images.revision import current_revision

    copy = into / "tree"
    subprocess.run(["git", "clone", "--quiet", "--shared", str(REPO), str(copy)], check=True)
    for path in current_revision(REPO).changes:
        source, target = REPO / path, copy / path
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        else:
            target.unlink(missing_ok=True)
    (copy / ".tools").symlink_to(REPO / ".tools")
    with (copy / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("/.tools\n")
    return copy


class Traffic(threading.Thread):
    """GET /work through the VIP ten times a second on the clock, each on a new connection and without waiting
    for the ones before (a slow answer does not lower the rate); counts what fails."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.sent, self.failed, self.errors = url, 0, 0, []
        self.stopping = threading.Event()

    def run(self) -> None:
        asyncio.run(self._send())

    async def _send(self) -> None:
        under_way: set[asyncio.Task] = set()
        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            next_at = time.monotonic()
            while not self.stopping.is_set():
                task = asyncio.create_task(self._one(client))
                under_way.add(task)
                task.add_done_callback(under_way.discard)
                next_at += 0.1
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await asyncio.gather(*under_way)

    async def _one(self, client: httpx.AsyncClient) -> None:
        self.sent += 1
        try:
            answer = await client.get(f"{self.url}/work", params={"payload": "bench"})
            if answer.status_code != 200:
                self.failed += 1
                self.errors.append(f"{time.strftime('%H:%M:%S')} {answer.status_code} {answer.text[:100]}")
        except httpx.HTTPError as error:
            self.failed += 1
            self.errors.append(f"{time.strftime('%H:%M:%S')} {error!r}")

    def counts(self) -> tuple[int, int]:
        return self.sent, self.failed


def wait_for(predicate, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the edit never showed")
        time.sleep(0.02)


def pods(env: dict, status: dict, service: str) -> set[str]:
    command = ["kubectl", "--kubeconfig", status["kubeconfig"], "--context", status["kube_context"], "-n",
               status["namespace"], "get", "pods", "-l", f"app.kubernetes.io/name={service}", "-o",
               "jsonpath={.items[?(@.status.phase=='Running')].metadata.name}"]
    return set(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.split())


def seen_everywhere(url: str, expected: set[str], field: str, marker: int, path: str = "/") -> bool:
    """Whether each of `expected` (pod names) has answered with `marker` through the VIP."""
    seen: set[str] = set()
    for _ in range(12):
        try:
            body = httpx.get(f"{url}{path}", params={"payload": "probe"}, timeout=5).json()
        except (httpx.HTTPError, ValueError):
            continue
        answer = body.get("answer", body)
        if answer.get("edit") == marker:
            seen.add(answer[field])
        if seen >= expected:
            return True
    return False


def edit(path: Path, anchor: str, marker: int) -> float:
    text = path.read_text()
    start = text.index(anchor)
    line_end = text.index("\n", start)
    path.write_text(text[:start] + f'{anchor} "edit": {marker},' + text[line_end:])
    return time.time()


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 2),
            "p95": round(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))], 2),
            "max": round(ordered[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--rebuilds", type=int, default=3)
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dev-loop-"))
    tree = working_copy(workdir)
    name = f"bench-dev-{secrets.token_hex(3)}"
    env = {**os.environ, "ENVBUILDER_HOME": str(workdir / "home"), "ENVBUILDER_PROJECT": str(tree),
           "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    results: dict = {"date": time.strftime("%Y-%m-%d"), "environment": name}
    dev = None
    try:
        started = time.monotonic()
        subprocess.run([ENVBUILDER, "up", "--services", "web,worker", "--name", name, "--no-smoke"], env=env, check=True)
        results["up_seconds"] = round(time.monotonic() - started, 1)
        status = json.loads(subprocess.run([ENVBUILDER, "status", name, "--json"], env=env, capture_output=True,
                                           text=True, check=True).stdout)
        vip = status["vips"]["web"]
        wait_for(lambda: httpx.get(f"{vip}/work", params={"payload": "x"}, timeout=10).status_code == 200)
        dev_log = (workdir / "dev.log").open("w")
        dev = subprocess.Popen([ENVBUILDER, "dev", name, "--quiet"], env=env, stdout=dev_log, stderr=subprocess.STDOUT,
                               start_new_session=True)
        time.sleep(3)  # the watcher is up
        traffic = Traffic(vip)
        traffic.start()
        for kind, path, anchor, field, probe, service in (
            ("web", tree / "fixtures/services/web/web.py", WEB_ANCHOR, "hostname", "/", "web"),
            ("worker", tree / "fixtures/services/worker/worker.py", WORKER_ANCHOR, "worker", "/work", "worker"),
        ):
            expected = pods(env, status, service)
            sent_before, failed_before = traffic.counts()
            samples = []
            for marker in range(1, options.edits + 1):
                saved = edit(path, anchor, marker)
                wait_for(lambda: seen_everywhere(vip, expected, field, marker, probe))
                samples.append(time.time() - saved)
                time.sleep(0.5)
            results[kind] = percentiles(samples)
            sent, failed = traffic.counts()
            results[kind]["requests"] = {"sent": sent - sent_before, "failed": failed - failed_before}
            print(kind, results[kind], traffic.errors[-5:], flush=True)
        requirements = tree / "fixtures/services/web/requirements.txt"
        web = tree / "fixtures/services/web/web.py"
        samples = []
        for marker in range(100, 100 + options.rebuilds):
            requirements.write_text(requirements.read_text() + f"# rebuild {marker}\n")
            saved = edit(web, WEB_ANCHOR, marker)
            wait_for(lambda: len(pods(env, status, "web")) == 2 and seen_everywhere(
                vip, pods(env, status, "web"), "hostname", marker), timeout=900)
            samples.append(time.time() - saved)
        results["rebuild"] = percentiles(samples)
        traffic.stopping.set()
        traffic.join()
        results["requests"] = {"sent": traffic.sent, "failed": traffic.failed, "errors": traffic.errors[:10]}
    finally:
        try:
            if dev is not None:
                os.killpg(dev.pid, signal.SIGINT)
                results["dev_exit"] = dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            results["dev_exit"] = "did not stop within 60 s of Ctrl-C"
            os.killpg(dev.pid, signal.SIGKILL)
        finally:
            subprocess.run([ENVBUILDER, "down", name], env=env)
        print((workdir / "dev.log").read_text()[-4000:] if (workdir / "dev.log").exists() else "")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
