"""Wall time of `envbuilder --help` and of `render` for 2 and 20 services (targets: 0.3 s, 1 s).

Runs each command several times as a user would (a fresh process each time) and prints
the median and the best run. `render` for 20 services uses a generated catalog in a
throwaway git repository, so the figures do not depend on this checkout's catalog.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENVBUILDER = str(Path(sys.executable).parent / "envbuilder")
RUNS = 15


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), min(samples)


def project_with_services(root: Path, count: int) -> Path:
    shutil.copytree(REPO / "stacks", root / "stacks", ignore=shutil.ignore_patterns("services"))
    services = root / "stacks" / "services"
    services.mkdir()
    template = (REPO / "stacks" / "services" / "web.yaml").read_text()
    for index in range(count):
        name = f"svc{index:02d}"
        text = template.replace("name: web", f"name: {name}").replace("vip_port: 80", f"vip_port: {8000 + index}")
        (services / f"{name}.yaml").write_text(text)
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "user.email=b@e", "-c", "user.name=b", "commit", "-qm", "x"]):
        subprocess.run(command, cwd=root, check=True)
    return root


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ENVBUILDER_HOME": f"{tmp}/home"}
        rows = [("envbuilder --help", *timed([ENVBUILDER, "--help"], env))]
        rows.append(("render web,worker", *timed([ENVBUILDER, "render", "--services", "web,worker", "--out", f"{tmp}/out2", "--name", "bench"], env)))
        project = project_with_services(Path(tmp) / "project", 20)
        names = ",".join(f"svc{index:02d}" for index in range(20))
        env20 = {**env, "ENVBUILDER_PROJECT": str(project)}
        rows.append(("render 20 services", *timed([ENVBUILDER, "render", "--services", names, "--out", f"{tmp}/out20", "--name", "bench"], env20)))
    print(f"{'command':<22} {'median':>8} {'best':>8}   ({RUNS} runs, {os.cpu_count()} cores)")
    for name, median, best in rows:
        print(f"{name:<22} {median:>7.3f}s {best:>7.3f}s")


if __name__ == "__main__":
    main()
