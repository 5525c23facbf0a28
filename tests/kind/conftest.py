"""Environments on a real kind cluster, driven through the CLI as a user would.

Each environment gets a name no real environment has (`kt-` and random hex), its own
ENVBUILDER_HOME, and is torn down by the test that owns it (and by the fixture, should
that test not get there). The checks that nothing is left look only at its own names.
"""

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from envbuilder.components.f5sync.contract import pool_name
from tests.support.docker import require_docker
from tests.support.leftovers import leftovers as leftovers_of

ENVBUILDER = str(Path(sys.executable).parent / "envbuilder")
REPO = Path(__file__).resolve().parents[2]
SERVICES = "web,worker,legacy-worker"
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
        return f"env-{self.name}"

    @property
    def cluster(self) -> str:
        return f"envbuilder-{self.name}"

    def up(self, *extra: str) -> subprocess.CompletedProcess:
        return run_envbuilder(self.env, "up", "--services", self.services, "--name", self.name, *extra)

    def status(self) -> dict:
        shown = run_envbuilder(self.env, "status", self.name, "--json")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        return json.loads(shown.stdout)

    def vip(self, service: str) -> str:
        return self.status()["vips"][service]

    def kubectl(self, *args: str) -> str:
        status = self.status()
        result = subprocess.run(
            ["kubectl", "--kubeconfig", status["kubeconfig"], "--context", status["kube_context"], *args],
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def f5_pool_members(self, service: str) -> list[str]:
        secret = json.loads(self.kubectl("-n", self.namespace, "get", "secret", "f5-credentials", "-o", "json"))
        password = base64.b64decode(secret["data"]["F5_PASSWORD"]).decode()
        pool = pool_name(self.namespace, service, WEB_PORT)
        answer = httpx.get(f"{self.status()['f5_api']}/mgmt/tm/ltm/pool/~Common~{pool}/members",
                           auth=("admin", password), verify=False, timeout=30)
        assert answer.status_code == 200, answer.text
        return [member["name"].split("%")[0] for member in answer.json().get("items", [])]

    def down_and_prove_nothing_is_left(self) -> None:
        down = run_envbuilder(self.env, "down", self.name)
        assert down.returncode == 0, down.stdout + down.stderr
        assert leftovers(self) == {}


def leftovers(environment: Environment) -> dict[str, list[str]]:
    """Whatever of `environment` still exists, by kind; looks only at its own names and labels."""
    return leftovers_of(environment.name, environment.home)


def environment_up(tmp_path_factory: pytest.TempPathFactory, services: str) -> Iterator[Environment]:
    """A new environment, up and green; `down` afterwards even when its own test did not get there."""
    require_docker()
    name = f"kt-{secrets.token_hex(3)}"
    created = Environment(name=name, home=tmp_path_factory.mktemp(f"home-{name}"), services=services)
    up = created.up()
    try:
        assert up.returncode == 0, f"up failed:\n{up.stdout}\n{up.stderr}"
        yield created
    finally:
        run_envbuilder(created.env, "down", created.name)


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    yield from environment_up(tmp_path_factory, SERVICES)


@pytest.fixture(scope="module")
def second_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    yield from environment_up(tmp_path_factory, "web,worker")
