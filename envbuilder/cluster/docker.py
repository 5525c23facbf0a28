"""Docker, called as a subprocess: the environment's plain containers, and finding what is left."""

import json
from dataclasses import dataclass

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.cluster.tools import tool_path_env
from envbuilder.desired.host import ContainerSpec
from envbuilder.desired.meta import ENVIRONMENT_LABEL


@dataclass
class Docker:
    binary: str = "docker"
    runner: Runner = run

    def run_container(self, container: ContainerSpec) -> str:
        args = [self.binary, "run", "--detach", "--name", container.name, "--network", container.network,
                "--restart", "unless-stopped"]
        for key, value in container.labels.items():
            args += ["--label", f"{key}={value}"]
        for host_port, container_port in container.publish:
            args += ["--publish", f"127.0.0.1:{host_port}:{container_port}"]
        for volume, path in container.volumes:
            args += ["--volume", f"{volume}:{path}"]
        for key in container.env:
            # Values travel in the environment of the docker client, not on its command line.
            args += ["--env", key]
        args.append(container.image)
        env = {**tool_path_env(), **container.env}
        return check(self.runner(args, timeout=120, env=env), f"starting container {container.name}").stdout.strip()

    def running(self) -> bool:
        """Whether the engine answers (the CLI alone is not enough)."""
        return self.runner([self.binary, "info", "--format", "{{.ServerVersion}}"], timeout=20).ok

    def remove_container(self, name: str) -> bool:
        result = self.runner([self.binary, "rm", "--force", "--volumes", name], timeout=60)
        return result.ok and "No such container" not in result.stderr

    def remove_volume(self, name: str) -> bool:
        return self.runner([self.binary, "volume", "rm", "--force", name], timeout=60).ok

    def container_ip(self, name: str, network: str) -> str:
        result = check(self.runner([self.binary, "inspect", name], timeout=30), f"inspecting {name}")
        return json.loads(result.stdout)[0]["NetworkSettings"]["Networks"][network]["IPAddress"]

    def labelled(self, kind: str, environment: str | None = None) -> list[str]:
        """Names of containers, networks or volumes (`kind`) carrying envbuilder's labels."""
        label = f"{ENVIRONMENT_LABEL}={environment}" if environment else ENVIRONMENT_LABEL
        if kind == "container":
            args = [self.binary, "ps", "--all", "--filter", f"label={label}", "--format", "{{.Names}}"]
        else:
            args = [self.binary, kind, "ls", "--filter", f"label={label}", "--format", "{{.Name}}"]
        result = check(self.runner(args, timeout=60), f"listing {kind}s")
        return [line for line in result.stdout.splitlines() if line]

    def environment_of(self, kind: str, name: str) -> str:
        """The environment a labelled container, volume or network belongs to ("" when unknown)."""
        labels = ".Config.Labels" if kind == "container" else ".Labels"
        template = f'{{{{index {labels} "{ENVIRONMENT_LABEL}"}}}}'
        result = self.runner([self.binary, kind, "inspect", name, "--format", template], timeout=30)
        return result.stdout.strip() if result.ok else ""
