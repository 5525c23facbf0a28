"""An environment on a real kind cluster, timed as an engineer lives it.

    .venv/bin/python benchmarks/kind_environment.py [--services web,worker]

`up` of a new environment to green smoke checks (images and node image already built:
the everyday case), `up` again with nothing changed, the memory the running environment
holds (its node containers, the F5 and classic containers, from `docker stats`), and
`down`. Uses its own ENVBUILDER_HOME and an environment name no one else has.
"""

import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envbuilder.naming import cluster_name

REPO = Path(__file__).resolve().parents[1]
ENVBUILDER = str(Path(sys.executable).parent / "envbuilder")
_UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([ENVBUILDER, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"envbuilder {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started


def memory_mib(prefix: str) -> float:
    """Resident memory of every container whose name starts with `prefix`, in MiB."""
    names = [n for n in subprocess.run(["docker", "ps", "--format", "{{.Names}}"], capture_output=True, text=True,
                                       check=True).stdout.split() if n.startswith(prefix)]
    stats = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", *names],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    total = 0.0
    for line in stats:
        match = re.match(r"([\d.]+)(B|KiB|MiB|GiB)", line.strip())
        if match:
            total += float(match.group(1)) * _UNITS[match.group(2)]
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", default="web,worker")
    services = parser.parse_args().services
    name = f"bench-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ENVBUILDER_HOME": home, "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        up = ["up", "--services", services, "--name", name]
        rows = [("up to green smoke (new environment)", timed(up, env))]
        rows.append(("up again, no change (with smoke)", timed(up, env)))
        rows.append(("up again, no change (--no-smoke)", timed([*up, "--no-smoke"], env)))
        time.sleep(30)  # let the pods settle before reading memory
        memory = memory_mib(f"{cluster_name(name)}-")
        rows.append(("down", timed(["down", name], env)))
    for label, seconds in rows:
        print(f"{label:<40} {seconds:7.1f} s")
    print(f"{'memory of the running environment':<40} {memory:7.0f} MiB")


if __name__ == "__main__":
    main()
