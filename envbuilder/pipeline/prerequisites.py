"""Everything `up` needs, checked before anything is created: one message per missing piece."""

from dataclasses import dataclass
from pathlib import Path

from envbuilder.cluster.tools import require_docker_running, require_memory, require_tools
from envbuilder.spec.environment import EnvironmentSpec

BASE_MEMORY_GIB = 2.0
MEMORY_PER_WORKER_GIB = 1.0


@dataclass(frozen=True)
class Prerequisites:
    tools: dict[str, str]
    calico_manifest: str | None


def check_prerequisites(spec: EnvironmentSpec) -> Prerequisites:
    if spec.target == "existing":
        tools = require_tools(["pulumi", "kubectl"])
        return Prerequisites({name: str(path) for name, path in tools.items()}, None)

    from envbuilder.engine.calico import calico_manifest

    tools = require_tools(["docker", "kind", "pulumi", "kubectl"])
    require_docker_running(tools["docker"])
    require_memory(BASE_MEMORY_GIB + MEMORY_PER_WORKER_GIB * spec.profile.workers)
    manifest: Path = calico_manifest(spec.profile.calico_version)
    return Prerequisites({name: str(path) for name, path in tools.items()}, str(manifest))
