"""Two envbuilder homes on one machine and one cluster (the test control plane), both wanting an
environment of the same name: the second is refused before it creates anything, naming the first
home's owner, and neither home's `up`, `reap` or `down` touches the other's objects."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from envbuilder.cluster.kubectl import kubectl_command
from tests.support.leftovers import leftovers

pytestmark = [pytest.mark.engine, pytest.mark.slow]
REVISION = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent).stdout.strip()


def envbuilder(home: Path, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ENVBUILDER_HOME": str(home), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run([sys.executable, "-m", "envbuilder", *args], env=env, capture_output=True, text=True,
                          timeout=600)


def namespace_owner(control_plane, namespace: str) -> str | None:
    found = subprocess.run([*kubectl_command("kubectl", control_plane.kubeconfig), "get", "namespace", namespace,
                            "-o", "json"], capture_output=True, text=True, timeout=60)
    return json.loads(found.stdout)["metadata"]["labels"]["envbuilder.io/owner"] if found.returncode == 0 else None


def test_two_homes_wanting_one_name_on_one_cluster_never_touch_each_others_objects(control_plane, tmp_path):
    first, second = tmp_path / "first-home", tmp_path / "second-home"
    name = f"twin-{secrets.token_hex(3)}"
    up = ["up", "--services", "web", "--name", name, "--target", "existing", "--kube-context", "envbuilder-test",
          "--revision", REVISION, "--no-smoke"]
    created = envbuilder(first, control_plane.kubeconfig, *up)
    assert created.returncode == 0, created.stdout + created.stderr
    first_owner = (first / "identity").read_text().strip()
    try:
        refused = envbuilder(second, control_plane.kubeconfig, *up)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        said = " ".join(refused.stderr.split())
        assert f"namespace env-{name}" in said and f"another envbuilder home (owner {first_owner})" in said
        assert leftovers(name, second) == {}  # not even a record or a port: nothing was created

        reaped = envbuilder(second, control_plane.kubeconfig, "reap")
        assert reaped.returncode == 0, reaped.stdout + reaped.stderr
        removed = envbuilder(second, control_plane.kubeconfig, "down", name)
        assert removed.returncode == 2, removed.stdout + removed.stderr
        assert namespace_owner(control_plane, f"env-{name}") == first_owner

        assert envbuilder(first, control_plane.kubeconfig, "reap").returncode == 0  # not expired: kept
        assert namespace_owner(control_plane, f"env-{name}") == first_owner
    finally:
        gone = envbuilder(first, control_plane.kubeconfig, "down", name)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert leftovers(name, first, control_plane.kubeconfig) == {}
