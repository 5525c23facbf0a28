"""The machine's image registry: one container that every environment and home of this machine shares.

The host pushes the images pods run to it (only the layers it lacks travel), and each kind node's
containerd pulls them through it (desired.host's mirror configuration), so a layer reaches the nodes
once per machine instead of once per node and environment. It runs as a container rather than a host
process: Docker restarts it, names it on the cluster's network and labels it, where a host process would
need its own supervisor and would have to listen beyond loopback for the nodes to reach it.

Its image is the official `registry:2` when Docker has it or a registry answers, else `envbuilder/registry`,
made here from Debian's `docker-registry` package (tools/host/packages.txt) on the local base image.
Its blobs live in a named volume, so a replaced container keeps them.
"""

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.cluster.docker import local_image
from envbuilder.errors import EnvbuilderError, PrerequisiteError
from envbuilder.images.base import SUITE, ensure_base_image
from envbuilder.images.build import choose_image, registry_reachable
from envbuilder.naming import (
    REGISTRY_CONTAINER,
    REGISTRY_CONTAINER_PORT,
    REGISTRY_LABEL,
    REGISTRY_PORT,
    registry_reference,
)
from envbuilder.polling import wait_until
from envbuilder.state.home import project_root

PUBLIC_REGISTRY_IMAGE = "registry:2"
REGISTRY_VERSION = "2.8.2"  # bookworm's docker-registry; the build checks the host's binary says so
LOCAL_REGISTRY_IMAGE = f"envbuilder/registry:{REGISTRY_VERSION}-{SUITE}"
REGISTRY_IMAGE_VARIABLE = "ENVBUILDER_REGISTRY_IMAGE"
REGISTRY_BINARY = Path("/usr/bin/docker-registry")
RECIPE_LABEL = "io.envbuilder.recipe"
STORAGE = "/var/lib/registry"
# Both images read their settings from the environment too: deleting manifests (superseded images) is
# off by default.
SETTINGS = {"REGISTRY_STORAGE_DELETE_ENABLED": "true"}
# What a manifest can be: Docker pushes v2 manifests, buildx may push OCI ones or indexes.
MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
))


def registry_context() -> Path:
    return project_root() / "docker" / "registry"


@dataclass(frozen=True)
class Registry:
    """A registry container: the machine's by default; the tests run their own under other names."""

    name: str = REGISTRY_CONTAINER  # the container and its volume
    port: int = REGISTRY_PORT  # on the host's 127.0.0.1
    runner: Runner = field(default=run, compare=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reference(self, image: str) -> str:
        """The name pods and pushes give `image` in this registry."""
        return registry_reference(image, self.port)

    def ensure(self, image: Callable[[], str]) -> None:
        """Running and answering; `image()` is asked for only when the container must be made (the engine
        joins it to each environment's network, `join`). Idempotent, and safe against another `up`
        making it at the same moment: Docker's container names are the lock."""
        state = self.inspect()
        if state is None:
            self._create(image())
            state = self.inspect()
        if state is None:
            raise EnvbuilderError(f"registry container {self.name} vanished while it was being started")
        if not is_envbuilders(state):
            raise EnvbuilderError(
                f"container {self.name} exists and is not envbuilder's registry (no {REGISTRY_LABEL} label)",
                hint=f"remove or rename it (docker rm -f {self.name}); envbuilder then starts its own",
            )
        if not state["State"]["Running"]:
            check(self.runner(["docker", "start", self.name], timeout=60), f"starting registry {self.name}")
        wait_until(self.answers, timeout=30, what=f"registry {self.name} to answer at {self.url}")

    def join(self, network: str) -> None:
        """On `network` under its own name (idempotent: another `up` may have joined it just now)."""
        joined = self.runner(["docker", "network", "connect", network, self.name], timeout=60)
        if not joined.ok and "already exists" not in joined.stderr:
            check(joined, f"connecting registry {self.name} to network {network}")

    def networks(self) -> set[str]:
        """The Docker networks it is on (none when it does not exist)."""
        state = self.inspect()
        return set(state["NetworkSettings"]["Networks"]) if state else set()

    def answers(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.url}/v2/", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def push(self, images: list[str]) -> dict[str, int]:
        """Push each local image; returns image -> the layers that travelled (0: the registry held them all).
        The registry's tag is removed locally afterwards, so `docker images` lists each image once."""
        travelled = {}
        for image in images:
            target = self.reference(image)
            check(self.runner(["docker", "tag", image, target], timeout=60), f"tagging {image} as {target}")
            try:
                pushed = check(self.runner(["docker", "push", target], timeout=900), f"pushing {image} to {self.name}")
            finally:
                self.runner(["docker", "image", "rm", target], timeout=60)  # the tag only: `image` keeps the image
            travelled[image] = sum(1 for line in pushed.stdout.splitlines() if line.rstrip().endswith(": Pushed"))
        return travelled

    def holds(self, image: str) -> bool:
        """Whether the registry has `image` (a `name:tag` reference)."""
        return self._manifest_digest(image) is not None

    def delete(self, image: str) -> bool:
        """Remove `image`'s manifest (its blobs go at the registry's next garbage collection); False when the
        registry does not hold it or does not answer."""
        import httpx

        digest = self._manifest_digest(image)
        if digest is None:
            return False
        repository, _, _tag = image.rpartition(":")
        try:
            return httpx.delete(f"{self.url}/v2/{repository}/manifests/{digest}", timeout=30).status_code == 202
        except httpx.HTTPError:
            return False

    def _manifest_digest(self, image: str) -> str | None:
        import httpx

        repository, _, tag = image.rpartition(":")
        try:
            answer = httpx.head(f"{self.url}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES},
                                timeout=10)
        except httpx.HTTPError:
            return None
        return answer.headers.get("Docker-Content-Digest") if answer.status_code == 200 else None

    def inspect(self) -> dict | None:
        """Its container as `docker inspect` shows it; None when there is none."""
        result = self.runner(["docker", "container", "inspect", self.name], timeout=30)
        return json.loads(result.stdout)[0] if result.ok else None

    def _create(self, image: str) -> None:
        labels = ["--label", f"{REGISTRY_LABEL}=true"]
        check(self.runner(["docker", "volume", "create", *labels, self.name], timeout=60), f"creating volume {self.name}")
        created = self.runner([
            "docker", "run", "--detach", "--name", self.name, "--restart", "unless-stopped", *labels,
            "--publish", f"127.0.0.1:{self.port}:{REGISTRY_CONTAINER_PORT}", "--volume", f"{self.name}:{STORAGE}",
            *(arg for key in SETTINGS for arg in ("--env", f"{key}={SETTINGS[key]}")),
            image,
        ], timeout=120)
        if not created.ok and "is already in use" not in created.stderr:  # else another `up` made it just now
            check(created, f"starting registry {self.name} on 127.0.0.1:{self.port}")


def is_envbuilders(container: dict) -> bool:
    """Whether a container (as `docker inspect` shows it) is an envbuilder registry, not another of that name."""
    return (container.get("Config", {}).get("Labels") or {}).get(REGISTRY_LABEL) == "true"


def registry_image(runner: Runner = run, progress: Callable[[str], None] = lambda message: None) -> str:
    """$ENVBUILDER_REGISTRY_IMAGE, else `registry:2` when Docker has it or a registry answers, else ours,
    made when missing."""
    choice = choose_image(PUBLIC_REGISTRY_IMAGE, LOCAL_REGISTRY_IMAGE, REGISTRY_IMAGE_VARIABLE, os.environ,
                          local_image(PUBLIC_REGISTRY_IMAGE, runner) is not None, registry_reachable)
    progress(f"registry image {choice.image} ({choice.reason})")
    if choice.image == LOCAL_REGISTRY_IMAGE:
        ensure_registry_image(runner, progress)
    return choice.image


def recipe_digest(context: Path, binary: Path) -> str:
    digest = hashlib.sha256(binary.read_bytes())
    for path in sorted(context.iterdir()):
        digest.update(f"{path.name}\n".encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_registry_image(
    runner: Runner = run, progress: Callable[[str], None] = lambda message: None, binary: Path = REGISTRY_BINARY
) -> str:
    """Make `envbuilder/registry` from the host's docker-registry unless Docker has it from the same recipe."""
    if not binary.is_file():
        raise PrerequisiteError(
            f"{binary} is missing: the local registry image is made from Debian's docker-registry package",
            hint="apt-get install docker-registry (make setup installs it), or set "
            f"${REGISTRY_IMAGE_VARIABLE} to a registry image Docker can get",
        )
    version = check(runner([str(binary), "--version"], timeout=30), f"asking {binary} its version").stdout
    if f" {REGISTRY_VERSION}" not in version:
        raise EnvbuilderError(
            f"{binary} says {version.strip()!r}, not {REGISTRY_VERSION}",
            hint="set REGISTRY_VERSION in envbuilder/images/registry.py to the package's version",
        )
    context = registry_context()
    recipe = recipe_digest(context, binary)
    existing = local_image(LOCAL_REGISTRY_IMAGE, runner)
    if existing and existing.labels.get(RECIPE_LABEL) == recipe:
        return LOCAL_REGISTRY_IMAGE
    base = ensure_base_image(runner, progress)
    progress(f"docker build {LOCAL_REGISTRY_IMAGE} (base {base}, {binary}) ...")
    with tempfile.TemporaryDirectory(prefix="envbuilder-registry-") as workdir:
        build_context = Path(workdir) / "context"
        shutil.copytree(context, build_context)
        shutil.copy2(binary, build_context / "registry")
        check(runner([
            "docker", "build", "--build-arg", f"BASE_IMAGE={base}",
            "--label", f"{RECIPE_LABEL}={recipe}", "--label", f"{REGISTRY_LABEL}=true",
            "--tag", LOCAL_REGISTRY_IMAGE, str(build_context),
        ], timeout=600), f"building {LOCAL_REGISTRY_IMAGE}")
    return LOCAL_REGISTRY_IMAGE
