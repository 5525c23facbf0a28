"""`up`, a repeated `up` with no change, and `down` on the real Pulumi engine, timed.

Runs against the test control plane of `make toolchain` (etcd, kube-apiserver, controllers
and KWOK nodes, all on loopback), with the `existing` target and services web and worker.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.controlplane import ControlPlane  # noqa: E402

ENVBUILDER = str(Path(sys.executable).parent / "envbuilder")


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([ENVBUILDER, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return time.perf_counter() - started


def main() -> None:
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as home, ControlPlane(nodes=2) as control_plane:
        env = {**os.environ, **control_plane.env(), "KUBECONFIG": str(control_plane.kubeconfig), "ENVBUILDER_HOME": home}
        up = ["up", "--services", "web,worker", "--name", "bench", "--target", "existing",
              "--kube-context", "envbuilder-test", "--revision", revision, "--no-smoke"]
        rows = [("up (new environment)", timed(up, env)), ("up (no change)", timed(up, env)),
                ("down", timed(["down", "bench"], env))]
    for name, seconds in rows:
        print(f"{name:<22} {seconds:6.1f}s")


if __name__ == "__main__":
    main()
