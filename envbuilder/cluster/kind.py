"""kind, called as a subprocess: create, delete, list clusters, load images."""

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.cluster.kubectl import kubectl_command
from envbuilder.cluster.tools import tool_path_env

KIND_NETWORK_VARIABLE = "KIND_EXPERIMENTAL_DOCKER_NETWORK"


def kind_context(cluster: str) -> str:
    """The kubeconfig context kind writes for `cluster`."""
    return f"kind-{cluster}"


@dataclass
class Kind:
    binary: str = "kind"
    runner: Runner = run

    def clusters(self) -> list[str]:
        # kind prints "No kind clusters found." on stderr and nothing on stdout when there are none.
        result = check(self.runner([self.binary, "get", "clusters"], timeout=60), "listing kind clusters")
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def exists(self, name: str) -> bool:
        return name in self.clusters()

    def create(self, name: str, config: dict, node_image: str, kubeconfig: Path, wait_seconds: int,
               network: str) -> None:
        """The nodes on the Docker network `network` (which exists), not kind's shared one: kind's
        KIND_EXPERIMENTAL_DOCKER_NETWORK, so their node addresses, which the F5's pools and routes use,
        are on the network the F5 is on."""
        check(
            self.runner(
                [
                    self.binary, "create", "cluster",
                    "--name", name,
                    "--image", node_image,
                    "--kubeconfig", str(kubeconfig),
                    # Nodes cannot be Ready before Calico is installed, so don't wait for them here.
                    "--wait", "0s",
                    "--config", "-",
                ],
                input=yaml.safe_dump(config, sort_keys=False),
                timeout=wait_seconds,
                env={**tool_path_env(), KIND_NETWORK_VARIABLE: network},
            ),
            f"creating kind cluster {name}",
        )

    def delete(self, name: str, kubeconfig: Path | None = None) -> bool:
        """Delete `name`; False when there was no such cluster (kind itself would not say)."""
        if not self.exists(name):
            return False
        args = [self.binary, "delete", "cluster", "--name", name]
        if kubeconfig:
            args += ["--kubeconfig", str(kubeconfig)]
        check(self.runner(args, timeout=300), f"deleting kind cluster {name}")
        return True

    def node_labels(self, name: str, kubectl: str) -> list[dict[str, str]] | None:
        """The labels of the cluster's nodes as its API server lists them; None when it does not answer."""
        kubeconfig = self.runner([self.binary, "get", "kubeconfig", "--name", name], timeout=60)
        if not kubeconfig.ok:
            return None
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as handle:
            handle.write(kubeconfig.stdout)
            handle.flush()
            result = self.runner([*kubectl_command(kubectl, handle.name), "get", "nodes", "--output", "json",
                                  "--request-timeout", "20s"], timeout=60)
        if not result.ok:
            return None
        return [item["metadata"].get("labels", {}) for item in json.loads(result.stdout).get("items", [])]

    def export_kubeconfig(self, name: str, kubeconfig: Path) -> None:
        check(self.runner([self.binary, "export", "kubeconfig", "--name", name, "--kubeconfig", str(kubeconfig)],
                          timeout=60), f"writing the kubeconfig of kind cluster {name}")
