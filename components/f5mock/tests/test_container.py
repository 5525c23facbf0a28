"""The container image: built offline from the local base, serving /health and the API, forwarding fastL4
virtuals in the kernel of its own network namespace, which goes with the container."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from envbuilder.images.base import BASE_IMAGE, ensure_base_image
from envbuilder.images.debs import component_debian_packages, download_debian_packages
from envbuilder.images.wheels import prepare_wheels
from f5mock.fastpath import table_name
from components.f5mock.tests.loopback import wait_healthy
from tests.support.docker import remove_images, require_docker

pytestmark = [pytest.mark.slow, pytest.mark.docker]
PACKAGE = Path(__file__).resolve().parents[1]
VIRTUAL_PORT = 9443


def docker(*args: str, timeout: float = 120) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, timeout=timeout).stdout


@pytest.fixture
def build_context(tmp_path: Path) -> Path:
    """This package's folder and Dockerfile plus host-prepared wheels and Debian packages, as `envbuilder images
    build` makes them (a copy: the package's own build/ is left alone)."""
    context = tmp_path / "f5mock"
    shutil.copytree(PACKAGE, context, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info", "tests"))
    prepare_wheels(context, component=True)
    download_debian_packages(component_debian_packages(context), context)
    return context


def kernel_routes(container: str) -> set[tuple[str, str]]:
    """(destination, gateway) of the container's routes through a gateway, read from /proc/net/route."""
    rows = docker("exec", container, "cat", "/proc/net/route").splitlines()[1:]
    as_address = lambda text: str(ipaddress.IPv4Address(bytes.fromhex(text)[::-1]))  # noqa: E731
    return {(as_address(row.split()[1]), as_address(row.split()[2])) for row in rows if row.split()[2] != "00000000"}


def network_namespace_holders(inode: int) -> list[str]:
    """What keeps the network namespace `inode` alive: processes in it, or Docker's bind mounts of it."""
    paths = [*Path("/proc").glob("[0-9]*/ns/net"), *Path("/run/docker/netns").glob("*")]
    holders = []
    for path in paths:
        try:
            if path.stat().st_ino == inode:
                holders.append(str(path))
        except OSError:  # a process that ended while listed
            continue
    return holders


def test_the_image_serves_health_creates_pools_installs_routes_and_forwards_fastl4_in_its_kernel(build_context):
    require_docker()
    ensure_base_image()
    tag = f"envbuilder-test/f5-mock:{uuid.uuid4().hex[:8]}"
    name = f"envbuilder-test-f5-mock-{uuid.uuid4().hex[:8]}"
    try:
        docker(
            "build",
            "--quiet",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "-t",
            tag,
            str(build_context),
            timeout=600,
        )
        docker(
            "run", "--detach", "--name", name, "--cap-add", "NET_ADMIN", "-e", "F5MOCK_PASSWORD=s3cret",
            "-p", "127.0.0.1::443", "-p", f"127.0.0.1::{VIRTUAL_PORT}", tag,
        )
        gateway = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}", name).strip()
        address = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).strip()
        port = docker("port", name, "443/tcp").splitlines()[0].rpartition(":")[2]
        virtual_port = docker("port", name, f"{VIRTUAL_PORT}/tcp").splitlines()[0].rpartition(":")[2]
        namespace = Path(f"/proc/{docker('inspect', '-f', '{{.State.Pid}}', name).strip()}/ns/net").stat().st_ino
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", auth=("admin", "s3cret"), verify=False) as api:
            wait_healthy(api, timeout=60)
            created = api.post("/mgmt/tm/ltm/pool", json={"name": "web", "members": [{"name": "10.0.0.1:80"}]})
            assert created.status_code == 200, created.text
            assert api.get("/mgmt/tm/ltm/pool/~Common~web/members").json()["items"][0]["address"] == "10.0.0.1"
            before = kernel_routes(name)
            route = api.post("/mgmt/tm/net/route", json={"name": "pods", "network": "10.250.1.0/24", "gw": gateway})
            assert route.status_code == 200, route.text
            assert api.get("/health").json()["routesNotInstalled"] == {}
            assert kernel_routes(name) - before == {("10.250.1.0", gateway)}
            api.delete("/mgmt/tm/net/route/~Common~pods").raise_for_status()
            assert kernel_routes(name) == before

            # A fastL4 virtual in front of the mock's own API: the container's nftables forward it.
            pool = {"name": "api", "members": [{"name": f"{address}:443"}]}
            assert api.post("/mgmt/tm/ltm/pool", json=pool).status_code == 200
            virtual = {"name": "api", "destination": f"{address}:{VIRTUAL_PORT}", "pool": "api",
                       "profiles": ["/Common/fastL4"]}
            assert api.post("/mgmt/tm/ltm/virtual", json=virtual).status_code == 200
            through = httpx.get(f"https://127.0.0.1:{virtual_port}/health", verify=False, timeout=10)
            assert through.json()["status"] == "ok"
            (stats,) = api.get("/mgmt/tm/ltm/virtual/~Common~api/stats").json()["entries"].values()
            entries = stats["nestedStats"]["entries"]
            assert entries["status.statusReason"]["description"] == (
                "The virtual server is available (fastL4 forwarded by the kernel)"
            )
            assert entries["clientside.totConns"]["value"] >= 1
            table = table_name(Path("/var/lib/f5-mock"))  # the image's state directory
            assert table in docker("exec", name, "nft", "list", "tables")
            host_tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
            assert table not in host_tables
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=60).stderr
        assert '"event":"change"' in logs
    finally:
        # Its state directory is a VOLUME of the image: without a volume mounted there, Docker makes an
        # anonymous one, which outlives the container unless removed with it.
        volumes = subprocess.run(["docker", "inspect", "-f", "{{range .Mounts}}{{.Name}} {{end}}", name],
                                 capture_output=True, text=True, timeout=60).stdout.split()
        subprocess.run(["docker", "rm", "--force", "--volumes", name], capture_output=True, timeout=60)
        remove_images(tag)
    # The nftables table was the container's network namespace's: nothing holds that namespace any more, so the
    # kernel has freed it with every table and rule in it (the host's own ruleset never held them).
    assert network_namespace_holders(namespace) == []
    assert volumes and not [volume for volume in volumes
                            if subprocess.run(["docker", "volume", "inspect", volume], capture_output=True).returncode == 0]
