"""Wall time of the whole smoke suite for two services (web, worker) on a ready environment.

The environment is tests/smoke/local_environment.py: a private RabbitMQ node, the sample web and
worker as processes, the project's mock F5 forwarding a virtual server to them, all on loopback.
The Kubernetes API is the tests' stand-in (fake_kube.py): no kind cluster runs on this machine,
so the probe pods (pod network, DNS) answer at once and their real cost, a pod start each, is
not in these figures. Everything else (HTTP through the F5, AMQP, the service proxy's forward to
the services, the iControl REST reads) is real.

    .venv/bin/python benchmarks/smoke_walltime.py [--runs 10]
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envbuilder.smoke.result import CheckStatus
from envbuilder.smoke.suite import run_smoke
from tests.smoke.local_environment import LocalEnvironment

TARGET_SECONDS = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    walls: list[float] = []
    per_check: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as workdir, LocalEnvironment(Path(workdir)) as environment:
        target = environment.target()
        for _ in range(runs):
            start = time.perf_counter()
            results = asyncio.run(run_smoke(target, environment.kube.transport()))
            walls.append(time.perf_counter() - start)
            failed = [f"{r.name}: {r.summary}" for r in results if r.status is not CheckStatus.PASSED]
            if failed:
                sys.exit("a check did not pass, the figures would mean nothing:\n" + "\n".join(failed))
            for result in results:
                per_check[result.name].append(result.duration_seconds)
    print(f"smoke suite, {len(per_check)} checks, 2 services, {runs} runs")
    print(
        f"wall time: median {statistics.median(walls):.2f} s, min {min(walls):.2f} s, max {max(walls):.2f} s "
        f"(target < {TARGET_SECONDS:g} s)"
    )
    print("median per check:")
    for name, durations in sorted(per_check.items(), key=lambda item: -statistics.median(item[1])):
        print(f"  {name:<20} {statistics.median(durations):.3f} s")


if __name__ == "__main__":
    main()
