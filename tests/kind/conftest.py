"""Environments on a real kind cluster, driven through the CLI as a user would.

Each environment gets a name no real environment has (`kt-` and random hex), its own
ENVBUILDER_HOME, and is torn down by the test that owns it (and by the fixture, should
that test not get there). The checks that nothing is left look only at its own names.
"""

import base64
import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from envbuilder.cluster.kubectl import kubectl_command
from f5sync.contract import pool_name
from envbuilder.images.revision import DIRTY_MARKER, current_revision
from envbuilder.naming import cluster_name, f5_container_name, namespace_name
from tests.support.docker import require_docker
from tests.support.leftovers import leftovers as leftovers_of
from tests.support.ports import in_the_machines_registry

ENVBUILDER = str(Path(sys.executable).parent / "envbuilder")
REPO = Path(__file__).resolve().parents[2]
SERVICES = "web,worker,legacy-worker,web-direct"
WEB_PORT = 8080


def run_envbuilder(env: dict[str, str], *args: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    return subprocess.run([ENVBUILDER, *args], env=env, capture_output=True, text=True, timeout=timeout)


@dataclass
class Environment:
    name: str
    home: Path
    services: str

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "ENVBUILDER_HOME": str(self.home), "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    @property
    def namespace(self) -> str:
        return namespace_name(self.name)

    @property
    def cluster(self) -> str:
        return cluster_name(self.name)

    def up(self, *extra: str, tree: Path | None = None) -> subprocess.CompletedProcess:
        """`up` of this environment from the repository's working tree, or from another `tree`."""
        env = {**self.env, "ENVBUILDER_PROJECT": str(tree)} if tree else self.env
        return run_envbuilder(env, "up", "--services", self.services, "--name", self.name, *extra)

    def status(self, tree: Path | None = None) -> dict:
        env = {**self.env, "ENVBUILDER_PROJECT": str(tree)} if tree else self.env
        shown = run_envbuilder(env, "status", self.name, "--json")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        return json.loads(shown.stdout)

    @functools.cached_property
    def addresses(self) -> dict:
        """What `status` shows that holds for the environment's life: its VIPs and F5 API (host ports reserved
        until `down`) and its cluster's kubeconfig and context. Read once, as each `status` is a CLI run of its
        own (about a second of CPU), and the traffic tests ask for a VIP per request."""
        status = self.status()
        return {key: status[key] for key in ("vips", "f5_api", "kubeconfig", "kube_context")}

    def vip(self, service: str) -> str:
        return self.addresses["vips"][service]

    def kubectl(self, *args: str) -> str:
        result = subprocess.run(
            [*kubectl_command("kubectl", self.addresses["kubeconfig"], self.addresses["kube_context"]), *args],
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def secret_value(self, secret: str, key: str) -> str:
        data = json.loads(self.kubectl("-n", self.namespace, "get", "secret", secret, "-o", "json"))["data"]
        return base64.b64decode(data[key]).decode()

    @functools.cached_property
    def f5_password(self) -> str:
        """The F5's admin password: the environment's secret, made once with it."""
        return self.secret_value("f5-credentials", "F5_PASSWORD")

    @property
    def f5_container(self) -> str:
        return f5_container_name(self.name)

    def f5_get(self, path: str) -> dict:
        """GET from the F5's iControl REST API, with the environment's credentials."""
        answer = httpx.get(f"{self.addresses['f5_api']}{path}", auth=("admin", self.f5_password), verify=False,
                           timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def f5_pool_members(self, service: str) -> list[str]:
        pool = pool_name(self.namespace, service, WEB_PORT)
        members = self.f5_get(f"/mgmt/tm/ltm/pool/~Common~{pool}/members")
        return [member["name"].split("%")[0] for member in members.get("items", [])]

    def f5_configuration(self) -> dict[str, dict[str, list[str]]]:
        """Every pool with its members, and every virtual with its destination and pool."""
        pools = self.f5_get("/mgmt/tm/ltm/pool?expandSubcollections=true").get("items", [])
        virtuals = self.f5_get("/mgmt/tm/ltm/virtual").get("items", [])
        return {
            "pools": {pool["fullPath"]: sorted(m["name"] for m in pool["membersReference"].get("items", []))
                      for pool in pools},
            "virtuals": {virtual["fullPath"]: [virtual["destination"], virtual.get("pool", "")] for virtual in virtuals},
        }

    def f5_events(self) -> list[dict]:
        """The events the F5 container has logged since it started (JSON lines on its stderr)."""
        logs = subprocess.run(["docker", "logs", self.f5_container], capture_output=True, text=True, timeout=60)
        return [json.loads(line) for line in logs.stderr.splitlines() if line.startswith("{")]

    def down_and_prove_nothing_is_left(self) -> None:
        down = run_envbuilder(self.env, "down", self.name)
        assert down.returncode == 0, down.stdout + down.stderr
        assert leftovers(self) == {}


def leftovers(environment: Environment) -> dict[str, list[str]]:
    """Whatever of `environment` still exists, by kind; looks only at its own names and labels."""
    return leftovers_of(environment.name, environment.home)


@pytest.fixture(scope="package", autouse=True)  # defined here, so the package is this one
def _ports_of_the_machine() -> Iterator[None]:
    """These environments publish host ports: they reserve them where every environment of the machine does."""
    with in_the_machines_registry():
        yield


@pytest.fixture
def another_revision(environment: Environment) -> Iterator[str]:
    """A revision other than the environment's, running the same images: a commit of the same tree made for
    this test alone (no real revision's images are touched), its images tagged from the environment's (no build).
    The tags are removed afterwards; the images keep their own."""
    status = environment.status()
    base = status["revision"].partition(DIRTY_MARKER)[0]

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()

    # The environment's own tree: the version of envbuilder that runs it reads that revision's catalog.
    commit = git("commit-tree", f"{base}^{{tree}}", "-p", base, "-m", f"kind tier: another revision for {environment.name}")
    revision = git("rev-parse", "--short", commit)
    images = list(status["images"].values())
    tags = [f"{image.rpartition(':')[0]}:{revision}" for image in images]
    try:
        for image, tag in zip(images, tags):
            subprocess.run(["docker", "tag", image, tag], capture_output=True, check=True)
        yield revision
    finally:
        subprocess.run(["docker", "image", "rm", *tags], capture_output=True)


@pytest.fixture
def working_copy(tmp_path: Path) -> Path:
    return copy_of_the_tree(tmp_path)


def copy_of_the_tree(into: Path) -> Path:
    """A copy of the repository's working tree to edit: a clone at the same commit with the same uncommitted
    changes, so its images get the same tags as the tree's until a test edits it; the built tools are shared."""
    copy = into / "tree"
    subprocess.run(["git", "clone", "--quiet", "--shared", str(REPO), str(copy)], check=True)
    for path in current_revision(REPO).changes:
        source, target = REPO / path, copy / path
        if source.exists() or source.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
        else:
            target.unlink(missing_ok=True)
    (copy / ".tools").symlink_to(REPO / ".tools")
    with (copy / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("/.tools\n")
    return copy


def environment_up(tmp_path_factory: pytest.TempPathFactory, services: str, *extra: str) -> Iterator[Environment]:
    """A new environment (`extra`: more `up` options), up and green; `down` afterwards even when its own
    test did not get there."""
    require_docker()
    name = f"kt-{secrets.token_hex(3)}"
    created = Environment(name=name, home=tmp_path_factory.mktemp(f"home-{name}"), services=services)
    up = created.up(*extra)
    try:
        assert up.returncode == 0, f"up failed:\n{up.stdout}\n{up.stderr}"
        yield created
    finally:
        run_envbuilder(created.env, "down", created.name)


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    yield from environment_up(tmp_path_factory, SERVICES)

