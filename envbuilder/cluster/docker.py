"""Docker, called as a subprocess: the environment's plain containers, and finding what is left."""

import io
import json
import tarfile
import time
from dataclasses import dataclass, field

from envbuilder.cluster.commands import Runner, check, run
from envbuilder.cluster.tools import tool_path_env
from envbuilder.errors import EnvbuilderError
from envbuilder.naming import ENVIRONMENT_LABEL, OWNER_LABEL, REGISTRY_CONTAINER


@dataclass(frozen=True)
class ContainerSpec:
    """A container started with `docker create` and `docker start`; every one carries the environment's labels."""

    name: str
    image: str
    network: str
    labels: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)  # never a secret: `docker inspect` shows it
    # (path in the container, content): copied in before the container starts, so that no secret is in
    # its configuration; a `*_FILE` variable in env tells the program the path.
    secret_files: tuple[tuple[str, str], ...] = ()
    publish: tuple[tuple[int, int], ...] = ()  # (port on 127.0.0.1 of the host, container port)
    volumes: tuple[tuple[str, str], ...] = ()  # (named volume, mount path)
    capabilities: tuple[str, ...] = ()  # added to Docker's default set (`--cap-add`)

    def shown(self) -> dict:
        """The container as `render` and `status` show it: secrets hidden."""
        return {
            "name": self.name,
            "image": self.image,
            "network": self.network,
            "labels": self.labels,
            "env": self.env,
            "secret_files": [path for path, _content in self.secret_files],
            "publish": [f"127.0.0.1:{host or '<allocated at up>'}:{inner}" for host, inner in self.publish],
            "volumes": [f"{volume}:{path}" for volume, path in self.volumes],
            "capabilities": list(self.capabilities),
        }


# One `docker image inspect` answers both questions asked of a local image: its ID and its labels.
IMAGE_FORMAT = "{{.Id}} {{json .Config.Labels}}"


@dataclass(frozen=True)
class LocalImage:
    """An image Docker holds."""

    id: str
    labels: dict[str, str]


def local_image(image: str, runner: Runner = run) -> LocalImage | None:
    """What Docker holds as `image`, or None when it does not have it."""
    result = runner(["docker", "image", "inspect", "--format", IMAGE_FORMAT, image], timeout=60)
    if not result.ok:
        return None
    image_id, _, labels = result.stdout.strip().partition(" ")
    return LocalImage(image_id, json.loads(labels or "null") or {})  # Docker prints `null` for no labels


def require_local_image(image: str, runner: Runner = run) -> LocalImage:
    found = local_image(image, runner)
    if found is None:
        raise EnvbuilderError(f"Docker has no image {image}", hint="build it first: envbuilder images build")
    return found


@dataclass
class Docker:
    binary: str = "docker"
    runner: Runner = run

    def run_container(self, container: ContainerSpec) -> str:
        """`docker create`, the secret files copied in, `docker start`; returns the container's ID."""
        # Named volumes are made first, so they carry the container's labels (implicit ones carry none).
        for volume, _path in container.volumes:
            self.create_volume(volume, container.labels)
        args = [self.binary, "create", "--name", container.name, "--network", container.network,
                "--restart", "unless-stopped"]
        for key, value in container.labels.items():
            args += ["--label", f"{key}={value}"]
        for host_port, container_port in container.publish:
            args += ["--publish", f"127.0.0.1:{host_port}:{container_port}"]
        for volume, path in container.volumes:
            args += ["--volume", f"{volume}:{path}"]
        for capability in container.capabilities:
            args += ["--cap-add", capability]
        for key in container.env:
            # Values travel in the environment of the docker client, not on its command line.
            args += ["--env", key]
        args.append(container.image)
        env = {**tool_path_env(), **container.env}
        container_id = check(self.runner(args, timeout=120, env=env), f"creating container {container.name}").stdout
        self._copy_secret_files(container)
        check(self.runner([self.binary, "start", container.name], timeout=120), f"starting container {container.name}")
        return container_id.strip()

    def _copy_secret_files(self, container: ContainerSpec) -> None:
        """Into the container's own filesystem, where `docker inspect` does not show them, as an archive
        streamed to `docker cp`: never written on the host. Directories the image lacks are made; those it
        has keep their owner and mode. Readable by the container's user, whichever it is: nothing else runs
        in the container."""
        if not container.secret_files:
            return
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for path, content in container.secret_files:
                data = content.encode()
                entry = tarfile.TarInfo(path.lstrip("/"))
                entry.size, entry.mode, entry.mtime = len(data), 0o444, int(time.time())
                tar.addfile(entry, io.BytesIO(data))
        check(self.runner([self.binary, "cp", "-", f"{container.name}:/"], input=archive.getvalue(), timeout=60),
              f"copying secret files into container {container.name}")

    def running(self) -> bool:
        """Whether the engine answers (the CLI alone is not enough)."""
        return self.runner([self.binary, "info", "--format", "{{.ServerVersion}}"], timeout=20).ok

    def remove_container(self, name: str) -> bool:
        result = self.runner([self.binary, "rm", "--force", "--volumes", name], timeout=60)
        return result.ok and "No such container" not in result.stderr

    def create_network(self, name: str, labels: dict[str, str], subnet: str) -> bool:
        """Create the bridge network `name` with `labels` on `subnet`; False when Docker refuses the subnet
        (another network took it meanwhile)."""
        label_args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
        created = self.runner([self.binary, "network", "create", "--driver", "bridge", "--subnet", subnet, *label_args,
                               name], timeout=60)
        if not created.ok and "overlap" in created.stderr:
            return False
        check(created, f"creating network {name}")
        return True

    def network_subnets(self, name: str) -> list[str]:
        """The IPv4 subnets of network `name`."""
        shown = check(self.runner([self.binary, "network", "inspect", name, "--format", "{{json .IPAM.Config}}"],
                                  timeout=30), f"inspecting network {name}")
        return [entry["Subnet"] for entry in json.loads(shown.stdout) or [] if ":" not in entry.get("Subnet", ":")]

    def subnets_in_use(self) -> list[str]:
        """Every IPv4 subnet of every Docker network."""
        ids = check(self.runner([self.binary, "network", "ls", "--quiet"], timeout=30), "listing networks").stdout.split()
        if not ids:
            return []
        shown = check(self.runner([self.binary, "network", "inspect", "--format", "{{json .IPAM.Config}}", *ids],
                                  timeout=30), "inspecting networks")
        return [entry["Subnet"] for line in shown.stdout.splitlines() if line.strip()
                for entry in json.loads(line) or [] if ":" not in entry.get("Subnet", ":")]

    def remove_network(self, name: str) -> bool:
        # The machine's image registry joins each environment's network (its nodes pull through it) and
        # outlives it: it leaves first, or Docker refuses to remove a network a container is on.
        attached = self.runner([self.binary, "network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{end}}",
                                name], timeout=60)
        if REGISTRY_CONTAINER in attached.stdout.split():
            self.runner([self.binary, "network", "disconnect", "--force", name, REGISTRY_CONTAINER], timeout=60)
        return self.runner([self.binary, "network", "rm", name], timeout=60).ok

    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        """Create `name` with `labels`; an existing volume is kept as it is."""
        label_args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
        check(self.runner([self.binary, "volume", "create", *label_args, name], timeout=60), f"creating volume {name}")

    def remove_volume(self, name: str) -> bool:
        return self.runner([self.binary, "volume", "rm", "--force", name], timeout=60).ok

    def labels(self, kind: str, name: str) -> dict[str, str] | None:
        """The labels of the container, volume or network `name`; None when there is no such object."""
        template = "{{json .Config.Labels}}" if kind == "container" else "{{json .Labels}}"
        result = self.runner([self.binary, kind, "inspect", name, "--format", template], timeout=30)
        return (json.loads(result.stdout) or {}) if result.ok else None

    def container_ip(self, name: str, network: str) -> str:
        result = check(self.runner([self.binary, "inspect", name], timeout=30), f"inspecting {name}")
        return json.loads(result.stdout)[0]["NetworkSettings"]["Networks"][network]["IPAddress"]

    def labelled(self, kind: str, environment: str | None = None) -> dict[str, tuple[str, str | None]]:
        """Containers, networks or volumes (`kind`) carrying envbuilder's environment label (of `environment`,
        when given): name -> (environment, owner), owner None when the object has no owner label."""
        label = f"{ENVIRONMENT_LABEL}={environment}" if environment else ENVIRONMENT_LABEL
        fields = f'{{{{.Label "{ENVIRONMENT_LABEL}"}}}}\t{{{{.Label "{OWNER_LABEL}"}}}}'
        if kind == "container":
            args = [self.binary, "ps", "--all", "--filter", f"label={label}", "--format", "{{.Names}}\t" + fields]
        else:
            args = [self.binary, kind, "ls", "--filter", f"label={label}", "--format", "{{.Name}}\t" + fields]
        result = check(self.runner(args, timeout=60), f"listing {kind}s")
        found = {}
        for line in result.stdout.splitlines():
            name, labelled_environment, owner = (line.split("\t") + ["", ""])[:3]
            if name:
                found[name] = (labelled_environment, owner or None)
        return found
