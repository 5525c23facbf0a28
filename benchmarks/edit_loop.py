"""An engineer's edit loop on a changed tree, timed: edit web, `up`; edit it again, `up`; `up` with no change.

    .venv/bin/python benchmarks/edit_loop.py [--code DIR]

Works on a copy of the tree (a clone of DIR's repository at its HEAD; DIR defaults to this
repository), so the repository itself is never edited. Creates its own environment (web, worker) in
its own ENVBUILDER_HOME, times the three `up`s (no smoke: the VIP is asked directly), says after each
whether the VIP serves the edit, and removes the environment. `--code DIR` runs the envbuilder of
another checkout (e.g. `git worktree add /tmp/before <commit>`), to measure a former version in the
same run on the same machine.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.checkout import LAUNCH  # noqa: E402

GREETING_LINE = '"greeting": settings.greeting,'


def envbuilder(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", LAUNCH, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"envbuilder {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started


def served(vip: str, marker: str, wait: float = 20) -> bool:
    """Whether ten answers in a row of the VIP come from the edit marked `marker` within `wait` seconds."""
    deadline, streak = time.monotonic() + wait, 0
    while time.monotonic() < deadline and streak < 10:
        streak = streak + 1 if httpx.get(vip, timeout=10).json()["greeting"].endswith(marker) else 0
        time.sleep(0.2)
    return streak == 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=REPO)
    code = parser.parse_args().code.resolve()
    name = f"bench-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory() as scratch:
        tree, home = Path(scratch) / "tree", Path(scratch) / "home"
        subprocess.run(["git", "clone", "--quiet", "--shared", str(code), str(tree)], check=True)
        (tree / ".tools").symlink_to(REPO / ".tools")
        with (tree / ".git" / "info" / "exclude").open("a") as exclude:
            exclude.write("/.tools\n")
        env = {**os.environ, "ENVBUILDER_HOME": str(home), "ENVBUILDER_PROJECT": str(tree),
               "ENVBUILDER_CODE": str(code), "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        up = ["up", "--services", "web,worker", "--name", name, "--no-smoke"]
        source = tree / "fixtures" / "services" / "web" / "web.py"
        original = source.read_text()
        try:
            print(f"new environment {name}: {envbuilder(env, *up):.1f} s", flush=True)
            shown = subprocess.run([sys.executable, "-c", LAUNCH, "status", name, "--json"], env=env,
                                   capture_output=True, text=True, check=True)
            vip = json.loads(shown.stdout)["vips"]["web"] + "/"
            for label, marker in (("edit", "-edit-one"), ("second edit", "-edit-two"), ("no change", "-edit-two")):
                source.write_text(original.replace(GREETING_LINE, f'"greeting": settings.greeting + "{marker}",'))
                seconds = envbuilder(env, *up)
                print(f"up after {label:<12} {seconds:6.1f} s   VIP serves it: {served(vip, marker)}", flush=True)
        finally:
            print(f"down: {envbuilder(env, 'down', name):.1f} s", flush=True)


if __name__ == "__main__":
    main()
