"""The local broker image: build times cold and warm, its size, and how long a container takes to be ready.

    .venv/bin/python benchmarks/broker_image.py [--starts N]

Cold means a fresh rootfs cache dir (debootstrap, tar, docker import, docker build). It uses its own
tag and containers and removes them after, so the shared Docker cache and ~/.cache are left as they
were. Ready means the StatefulSet's readiness probe command succeeds in the container, which runs on
an emptyDir-like volume. Figures go to docs/services.md.
"""

import argparse
import os
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from envbuilder.images.broker import ensure_broker_image

BENCHMARK_TAG = "envbuilder-bench/broker:benchmark"


def timed(label: str, action: Callable[[], object]) -> None:
    started = time.monotonic()
    action()
    print(f"{label:<58} {time.monotonic() - started:7.1f} s", flush=True)


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def seconds_to_ready(image: str, data: Path) -> float:
    name = f"envbuilder-bench-broker-{secrets.token_hex(4)}"
    data.mkdir()
    data.chmod(0o777)
    started = time.monotonic()
    try:
        run = docker("run", "--detach", "--name", name, "--volume", f"{data}:/var/lib/rabbitmq",
                     "--env", "RABBITMQ_DEFAULT_USER=bench", "--env", "RABBITMQ_DEFAULT_PASS=bench", image)
        if run.returncode != 0:
            raise SystemExit(run.stderr)
        while docker("exec", name, "rabbitmq-diagnostics", "-q", "check_port_connectivity").returncode != 0:
            if time.monotonic() - started > 180:
                raise SystemExit(f"not ready within 180 s:\n{docker('logs', name).stderr[-2000:]}")
            time.sleep(0.5)
        return time.monotonic() - started
    finally:
        docker("rm", "--force", name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=3, help="containers to start for the ready time")
    starts = parser.parse_args().starts
    with tempfile.TemporaryDirectory(prefix="envbuilder-bench-") as workdir:
        work = Path(workdir)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # a cold rootfs cache
        def make() -> str:
            return ensure_broker_image(image=BENCHMARK_TAG)

        try:
            timed("broker image, cold (debootstrap + tar + import + build)", make)
            timed("broker image, present (same recipe)", make)
            docker("image", "rm", BENCHMARK_TAG)
            timed("broker image, from the cached rootfs tarball", make)
            tarball = next((work / "cache").rglob("*.tar"))
            size = int(docker("image", "inspect", "--format", "{{.Size}}", BENCHMARK_TAG).stdout)
            print(f"{'rootfs tarball / image size':<58} {tarball.stat().st_size / 1e6:.0f} MB / {size / 1e6:.0f} MB")
            ready = [seconds_to_ready(BENCHMARK_TAG, work / f"data-{index}") for index in range(starts)]
            print(f"{'container start to ready (probe succeeds), median':<58} {statistics.median(ready):7.1f} s "
                  f"(of {', '.join(f'{value:.1f}' for value in ready)})")
        finally:
            docker("image", "rm", "--force", BENCHMARK_TAG)


if __name__ == "__main__":
    main()
