"""`envbuilder dev` and `envbuilder logs` on one kind environment of web, worker and legacy-worker, up from a
copy of the tree that the tests edit: a sync, a restart that fails and recovers on the next save, the
rebuild fallback, logs following a new pod, and Ctrl-C leaving the synced code and no process behind."""

import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from envbuilder.polling import wait_until
from tests.kind.conftest import ENVBUILDER, Environment, copy_of_the_tree, run_envbuilder
from tests.support.docker import require_docker

pytestmark = [pytest.mark.kind, pytest.mark.docker, pytest.mark.slow]

WEB_ANCHOR = '"hostname": settings.hostname,'


class Background:
    """An envbuilder command running in its own session (as in a terminal), its output in a file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log_path = log
        with log.open("w") as out:
            self.process = subprocess.Popen([ENVBUILDER, *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 120) -> None:
        wait_until(lambda: text in self.output(), timeout=timeout, what=f"{text!r} in the output",
                   diagnosis=self.output)

    def mark(self) -> int:
        return len(self.output())

    def wait_for_cycle(self, service: str, mode: str, outcome: str, after: int, timeout: float = 120) -> str:
        """The cycle line of `service` printed since `after` (a mark) whose outcome starts with `outcome`."""
        line = re.compile(rf"^{re.escape(service)}  {mode}  .+  \d+\.\d s  {re.escape(outcome)}.*$", re.MULTILINE)
        wait_until(lambda: line.search(self.output()[after:]), timeout=timeout,
                   what=f"a {mode} line of {service}: {outcome}", diagnosis=self.output)
        return line.search(self.output()[after:]).group(0)

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it: SIGINT to the whole session."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)

    def processes_left(self) -> str:
        return subprocess.run(["ps", "-o", "pid=,args=", "-s", str(self.process.pid)], capture_output=True,
                              text=True).stdout.strip()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_of_the_tree(tmp_path_factory.mktemp("dev-tree"))


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory, tree: Path) -> Iterator[Environment]:
    require_docker()
    name = f"kt-{secrets.token_hex(3)}"
    created = Environment(name=name, home=tmp_path_factory.mktemp(f"home-{name}"), services="web,worker,legacy-worker")
    try:
        up = created.up("--no-smoke", tree=tree)
        assert up.returncode == 0, f"up failed:\n{up.stdout}\n{up.stderr}"
        yield created
    finally:
        run_envbuilder({**created.env, "ENVBUILDER_PROJECT": str(tree)}, "down", created.name)


@pytest.fixture(scope="module")
def dev(environment: Environment, tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Background]:
    running = Background({**environment.env, "ENVBUILDER_PROJECT": str(tree)},
                         tmp_path_factory.mktemp("dev") / "dev.log", "dev", environment.name)
    running.wait_for("watching web, worker, legacy-worker")
    time.sleep(2)  # the watcher thread is up
    yield running
    if running.process.poll() is None:
        running.interrupt()


def edit_web(tree: Path, marker: str) -> None:
    path = tree / "fixtures/services/web/web.py"
    text = path.read_text()
    start = text.index(WEB_ANCHOR)
    path.write_text(text[:start] + f'{WEB_ANCHOR} "edit": "{marker}",' + text[text.index("\n", start):])


def every_web_pod_answers(environment: Environment, marker: str) -> bool:
    pods = set(environment.kubectl("-n", environment.namespace, "get", "pods", "-l", "app.kubernetes.io/name=web",
                                   "-o", "jsonpath={.items[*].metadata.name}").split())
    seen = set()
    for _ in range(20):
        body = httpx.get(environment.vip("web"), timeout=10).json()
        if body.get("edit") == marker:
            seen.add(body["hostname"])
    return seen >= pods


def test_a_saved_file_is_in_every_pod_and_the_classic_container_in_seconds(environment, tree, dev):
    mark = dev.mark()
    edit_web(tree, "one")
    dev.wait_for_cycle("web", "sync", "2 pods answering", after=mark)
    wait_until(lambda: every_web_pod_answers(environment, "one"), timeout=30, what="the edit through the VIP")

    mark = dev.mark()
    worker = tree / "fixtures/services/worker/worker.py"
    worker.write_text(worker.read_text().replace('"result": payload.upper(),', '"result": payload.lower(),'))
    dev.wait_for_cycle("legacy-worker", "sync", "1 container answering", after=mark)
    dev.wait_for_cycle("worker", "sync", "2 pods answering", after=mark)
    assert httpx.get(f"{environment.vip('web')}/work", params={"payload": "MiXeD"}, timeout=30).json()["answer"]["result"] == "mixed"
    assert environment.status(tree)["live_changes"] == {
        "web": ["fixtures/services/web/web.py"], "worker": ["fixtures/services/worker/worker.py"],
        "legacy-worker": ["fixtures/services/worker/worker.py"]}


def test_a_restart_that_fails_shows_why_and_the_next_save_recovers(environment, tree, dev):
    web = tree / "fixtures/services/web/web.py"
    good = web.read_text()
    mark = dev.mark()
    web.write_text(good + "\ndef broken(:\n")  # a SyntaxError (a line like `this is not python` parses)
    failed = dev.wait_for_cycle("web", "sync", "restart failed in web-", after=mark, timeout=90)
    assert "0 of 2 pods run this save" in failed  # the other pod was left alone, serving
    wait_until(lambda: "SyntaxError" in dev.output()[mark:], timeout=10, what="the pod's last lines",
               diagnosis=dev.output)
    wait_until(lambda: httpx.get(environment.vip("web"), timeout=10).status_code == 200, timeout=30,
               what="web answering through the VIP meanwhile")

    mark = dev.mark()
    web.write_text(good)
    edit_web(tree, "recovered")
    dev.wait_for_cycle("web", "sync", "2 pods answering", after=mark, timeout=90)
    wait_until(lambda: every_web_pod_answers(environment, "recovered"), timeout=30, what="the fixed code answering")
    assert dev.process.poll() is None


def test_logs_follow_a_pod_that_starts_after_them(environment, tree, tmp_path):
    logs = Background(environment.env, tmp_path / "logs.log", "logs", environment.name, "web", "-f")
    try:
        logs.wait_for("web/web-")
        before = set(environment.kubectl("-n", environment.namespace, "get", "pods", "-o", "name").split())
        scaled = run_envbuilder({**environment.env, "ENVBUILDER_PROJECT": str(tree)}, "scale", environment.name, "web=3")
        assert scaled.returncode == 0, scaled.stderr
        after = set(environment.kubectl("-n", environment.namespace, "get", "pods", "-o", "name").split())
        [new_pod] = [pod.removeprefix("pod/") for pod in after - before if "/web-" in pod]
        logs.wait_for(f"web/{new_pod} | ", timeout=60)
    finally:
        assert logs.interrupt() in (0, 130)
    assert logs.processes_left() == ""


def test_a_change_sync_cannot_carry_rebuilds_that_image_and_rolls_it(environment, tree, dev):
    before = environment.status(tree)["images"]
    mark = dev.mark()
    requirements = tree / "fixtures/services/web/requirements.txt"
    requirements.write_text(requirements.read_text() + "# a dependency changed\n")
    edit_web(tree, "rebuilt")
    dev.wait_for_cycle("web", "rebuild", "rolled", after=mark, timeout=900)
    after = environment.status(tree)
    assert after["images"]["web"] != before["web"]
    assert after["live_changes"] == {}
    wait_until(lambda: every_web_pod_answers(environment, "rebuilt"), timeout=120, what="the rebuilt image answering")


def test_ctrl_c_leaves_the_synced_code_running_nothing_else_and_up_brings_back_the_image(environment, tree, dev):
    edit_web(tree, "last")
    wait_until(lambda: every_web_pod_answers(environment, "last"), timeout=60, what="the last edit")

    assert dev.interrupt() == 0
    assert "live changes stay" in dev.output()
    assert dev.processes_left() == ""
    assert every_web_pod_answers(environment, "last")

    subprocess.run(["git", "-C", str(tree), "checkout", "--", "fixtures/services/web"], check=True)
    up = environment.up("--no-smoke", tree=tree)
    assert up.returncode == 0, up.stderr
    assert environment.status(tree)["live_changes"] == {}
    assert "edit" not in httpx.get(environment.vip("web"), timeout=10).json()
