"""Build times of the base image and the sample service images, cold and warm.

    .venv/bin/python benchmarks/images.py

Cold means no cache at all: a fresh rootfs cache dir, a fresh pip cache, `docker build --no-cache`.
It uses its own base tag and a throwaway repository of the samples, and removes its images after,
so the shared Docker cache and ~/.cache are left as they were. Figures go to docs/services.md.
"""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from envbuilder.images.base import ensure_base_image
from envbuilder.images.build import build_images
from envbuilder.images.revision import current_revision

REPO = Path(__file__).resolve().parents[1]
SAMPLES = ["fixtures/services/web", "fixtures/services/worker", "stacks/services/web.yaml", "stacks/services/worker.yaml"]
BENCHMARK_BASE = "envbuilder/base:benchmark"


def timed(label: str, action: Callable[[], object]) -> None:
    started = time.monotonic()
    action()
    print(f"{label:<58} {time.monotonic() - started:7.1f} s", flush=True)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@example.invalid", *args],
                   check=True, capture_output=True)


def sample_repo(root: Path) -> Path:
    for relative in SAMPLES:
        source, target = REPO / relative, root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("build", "__pycache__"))
        else:
            shutil.copy2(source, target)
    git(root, "init", "--quiet")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "samples")
    return root


def remove_images(*tags: str) -> None:
    subprocess.run(["docker", "image", "rm", "--force", *tags], capture_output=True, check=False)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="envbuilder-bench-") as workdir:
        work = Path(workdir)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # a cold rootfs cache
        os.environ["PIP_CACHE_DIR"] = str(work / "pip-cache")  # cold wheel downloads
        remove_images(BENCHMARK_BASE)
        tags: list[str] = []
        try:
            timed("base image, cold (debootstrap + tar + docker import)", lambda: ensure_base_image(image=BENCHMARK_BASE))
            timed("base image, present", lambda: ensure_base_image(image=BENCHMARK_BASE))
            remove_images(BENCHMARK_BASE)
            timed("base image, from the cached rootfs tarball", lambda: ensure_base_image(image=BENCHMARK_BASE))

            repo = sample_repo(work / "repo")

            def build(no_cache: bool = False) -> None:
                revision = current_revision(repo)
                tags.extend(image.tag for image in build_images(repo, revision, ["web", "worker"], BENCHMARK_BASE,
                                                                 no_cache=no_cache))

            timed("web + worker, cold (no pip cache, docker --no-cache)", lambda: build(no_cache=True))
            timed("web + worker, same commit again (tags present)", build)
            (repo / "fixtures/services/web/web.py").write_text((repo / "fixtures/services/web/web.py").read_text() + "\n")
            git(repo, "commit", "--quiet", "-am", "touch web")
            timed("web + worker, next commit (warm pip and layer caches)", build)
        finally:
            remove_images(*tags, BENCHMARK_BASE)


if __name__ == "__main__":
    main()
