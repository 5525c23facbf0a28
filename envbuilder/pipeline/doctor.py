"""`envbuilder doctor`: every prerequisite of `up` and of the tests, one line each, with the fix.

The checks reuse what `up` itself checks before it creates anything (envbuilder.cluster.tools and
node_image), so doctor and `up` cannot disagree; doctor goes on past a failure to name them all.
"""

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from envbuilder.cluster.commands import Runner, run
from envbuilder.cluster.tools import DRIVEN_TOOLS, SKEWS, choose_tool, find_tool, pinned_versions, require_memory, tool_version
from envbuilder.errors import EnvbuilderError
from envbuilder.state.home import project_root, stacks_dir, state_home

Outcome = Literal["ok", "warn", "fail"]
# A 2-node environment takes about 4 GB of Docker's disk (its nodes' volumes; docs/troubleshooting.md):
# below room for one, `up` fails; below room for the two the test suite runs at once, a warning.
DISK_FOR_AN_ENVIRONMENT_GIB = 5
DISK_FOR_THE_TESTS_GIB = 10
# Binaries `make setup` builds for the tests' control plane (tests/support/controlplane.py runs them).
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    fix: str = ""
    needed_by: Literal["up", "tests"] = "up"


def diagnose(runner: Runner = run) -> list[Check]:
    """Every check, in the order a user fixes them: Docker, tools, node image, machine, tests."""
    checks: list[Check] = []
    for produce in (_docker, _tools, _node_image, _registry, _machine, _tests):
        checks.extend(produce(runner))
    return checks


def _docker(runner: Runner) -> Iterator[Check]:
    docker = find_tool("docker")
    if docker is None:
        yield Check("docker", "fail", "not installed", "apt-get install docker.io, then make setup (starts it)")
        return
    info = runner([str(docker), "info", "--format", "{{json .}}"], timeout=30)
    if not info.ok:
        yield Check("docker", "fail", "the engine does not answer", "make setup starts it (tools/host/prepare-docker.sh)")
        return
    facts = json.loads(info.stdout)
    yield Check("docker", "ok", f"engine {facts.get('ServerVersion')}, default runtime {facts.get('DefaultRuntime')}, "
                f"cgroup v{facts.get('CgroupVersion') or '1'}")
    yield _disk(facts.get("DockerRootDir") or "/")


def _disk(docker_root: str) -> Check:
    free = shutil.disk_usage(docker_root).free / 2**30
    detail = f"{free:.0f} GiB free for Docker ({docker_root})"
    if free < DISK_FOR_AN_ENVIRONMENT_GIB:
        return Check("disk", "fail", detail + ", less than an environment takes",
                     f"free at least {DISK_FOR_AN_ENVIRONMENT_GIB} GiB (docker system df shows what images take)")
    if free < DISK_FOR_THE_TESTS_GIB:
        return Check("disk", "warn", detail + ": room for one environment, not for the two the tests run at once",
                     f"free {DISK_FOR_THE_TESTS_GIB} GiB to run make test")
    return Check("disk", "ok", detail)


def _tools(runner: Runner) -> Iterator[Check]:
    """The tools `up` drives, as it chooses them: the pinned ones in .tools/bin, else one on PATH within the
    tool's supported skew (cluster.tools.SKEWS); each line says which is used."""
    pins = pinned_versions()
    for name in DRIVEN_TOOLS:
        choice = choose_tool(name, runner)
        if choice.path is None:
            yield Check(name, "fail", choice.refused or "not found on PATH or in .tools/bin", "make setup")
            continue
        pin = pins.get(SKEWS[name].pin)
        version = choice.version or tool_version(name, choice.path, runner)
        where = f"{choice.path} ({'pinned' if choice.source == 'pinned' else 'on PATH, within the supported skew'})"
        if version is None and name == "pulumi-resource-kubernetes" and choice.source == "pinned":
            yield Check(name, "ok", f"{pin} at {where}")  # built from its module's source: the pin says its version
        elif version is None:
            yield Check(name, "fail", f"{choice.path} does not say its version", "make setup")
        elif name == "kubectl":
            yield _kubectl_skew(choice.path, version, pin, where)
        elif choice.source == "pinned" and pin and version != pin:
            yield Check(name, "warn", f"{version} at {where}; the pinned version is {pin}", "make setup installs it")
        else:
            yield Check(name, "ok", f"{version} at {where}")


def _kubectl_skew(path: Path, version: str, server: str | None, where: str) -> Check:
    minor, server_minor = _minor(version), _minor(server or "")
    if minor is None or server_minor is None:
        return Check("kubectl", "warn", f"{version} at {where}; the cluster's version is unknown")
    skew = abs(minor - server_minor)
    if skew > SKEWS["kubectl"].behind:
        return Check("kubectl", "fail", f"{version} at {path} is {skew} minor versions from the clusters' {server}",
                     "make setup builds the pinned one into .tools/bin")
    return Check("kubectl", "ok", f"{version} at {where} (clusters run {server})")


def _minor(version: str) -> int | None:
    match = re.match(r"v?(\d+)\.(\d+)", version)
    return int(match[2]) if match else None


def _node_image(runner: Runner) -> Iterator[Check]:
    from envbuilder.cluster.node_image import choose_node_image
    from envbuilder.images.build import registry_reachable
    from envbuilder.spec.profile import load_profile

    image = choose_node_image(load_profile(stacks_dir(), "default").node_image_candidates(None), runner)
    if image.present:
        network = f", which brings the pod network {image.bundled_cni}" if image.bundled_cni else ", which brings no pod network"
        yield Check("node image", "ok", f"{image.name}{network}")
    elif registry_reachable():
        yield Check("node image", "ok", f"{image.name}, which kind pulls (a registry is reachable)")
    else:
        yield Check("node image", "fail", f"no local node image and no registry to pull {image.name}", "make setup")


def _registry(runner: Runner) -> Iterator[Check]:
    """The machine's image registry, which `up` on kind starts when it is not running."""
    from envbuilder.images.registry import LOCAL_REGISTRY_IMAGE, REGISTRY_BINARY, Registry, is_envbuilders

    registry = Registry(runner=runner)
    container = registry.inspect()
    if container is None:
        image = "registry:2, or " + (f"{LOCAL_REGISTRY_IMAGE} made from {REGISTRY_BINARY}" if REGISTRY_BINARY.is_file()
                                      else f"no local image: {REGISTRY_BINARY} is missing")
        yield Check("image registry", "ok" if REGISTRY_BINARY.is_file() else "warn",
                    f"{registry.name} is not running; the next up on kind starts it ({image})",
                    "" if REGISTRY_BINARY.is_file() else "apt-get install docker-registry, or make setup")
    elif not is_envbuilders(container):
        yield Check("image registry", "fail", f"container {registry.name} is not envbuilder's registry",
                    f"remove or rename it (docker rm -f {registry.name})")
    elif registry.answers():
        networks = ", ".join(sorted(container["NetworkSettings"]["Networks"]))
        yield Check("image registry", "ok", f"{registry.name} ({container['Config']['Image']}) answers at {registry.url}, "
                    f"on networks {networks}")
    else:
        yield Check("image registry", "warn", f"{registry.name} does not answer at {registry.url} "
                    f"({container['State']['Status']}); the next up on kind starts it", f"docker logs {registry.name}")


def _machine(runner: Runner) -> Iterator[Check]:
    from envbuilder.pipeline.prerequisites import BASE_MEMORY_GIB, MEMORY_PER_WORKER_GIB
    from envbuilder.state import ports

    needed = BASE_MEMORY_GIB + MEMORY_PER_WORKER_GIB
    yield _as_check("memory", lambda: require_memory(needed), f"at least {needed:.0f} GiB available")
    low, high = ports.port_range()
    free = ports.free_ports(3)
    yield Check("ports", "ok" if len(free) == 3 else "fail", f"range {low}-{high}: a new environment's 3 ports are free"
                if len(free) == 3 else f"range {low}-{high} has {len(free)} of the 3 ports an environment takes",
                "envbuilder list / down frees ports, or set ENVBUILDER_PORT_RANGE")
    home = state_home()
    writable = os.access(home, os.W_OK)
    yield Check("state home", "ok" if writable else "fail", str(home), "set ENVBUILDER_HOME to a writable directory")


def _tests(runner: Runner) -> Iterator[Check]:
    for command, package in (("rabbitmq-server", "rabbitmq-server"), ("chromium", "chromium"), ("wrk", "wrk")):
        path = shutil.which(command) or shutil.which(command, path="/usr/sbin:/usr/lib/rabbitmq/bin")
        yield Check(command, "ok" if path else "fail", path or "not installed", f"apt-get install {package}, or make setup",
                    "tests")
    bin_dir = project_root() / ".tools" / "bin"
    absent = [name for name in CONTROL_PLANE if not (bin_dir / name).is_file()]
    yield Check("control plane", "fail" if absent else "ok",
                f"missing {', '.join(absent)}" if absent else f"{', '.join(CONTROL_PLANE)} in {bin_dir}",
                "make setup", "tests")


def _as_check(name: str, check: Callable[[], None], detail: str) -> Check:
    try:
        check()
    except EnvbuilderError as error:
        return Check(name, "fail", str(error), error.hint or "")
    return Check(name, "ok", detail)
