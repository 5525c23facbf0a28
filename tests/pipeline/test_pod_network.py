"""The pod network is a choice the user sees: Calico where it can be had, else the offline node image's
kube-router; said on the status line, in `status` and the record; `render` writes its objects."""

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.cluster.node_image import NodeImage
from envbuilder.desired.phases import Phase
from envbuilder.errors import InputError, PrerequisiteError
from envbuilder.pipeline.pod_network import choose_pod_network
from envbuilder.pipeline.progress import Progress
from envbuilder.spec.profile import PodNetwork
from envbuilder.state.records import EnvironmentRecord, HostPorts, save_record
from tests.support.tools import missing

OFFLINE_IMAGE = NodeImage("envbuilder/kind-node:v1.35.4", present=True, bundled_cni="kube-router")
PUBLISHED_IMAGE = NodeImage("kindest/node:v1.35.4", present=False, bundled_cni=None)
CALICO_MANIFEST = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: calico-node, namespace: kube-system}
spec: {}
"""


def manifest_at(path: Path):
    def calico_manifest(version: str) -> Path:
        return path
    return calico_manifest


def no_manifest(version: str) -> Path:
    raise PrerequisiteError(f"cannot fetch the Calico {version} manifest: no network")


def choose(requested=None, kept=None, image=OFFLINE_IMAGE, manifest=manifest_at(Path("/calico.yaml")), registry=True):
    return choose_pod_network(requested, kept, image, "v3.29.1", manifest, lambda: registry)


def test_the_default_is_calico_where_its_manifest_and_images_can_be_had_even_on_the_offline_node_image():
    choice = choose()
    assert (choice.network, choice.calico_manifest) == (PodNetwork.CALICO, "/calico.yaml")
    assert "can be had" in choice.reason


@pytest.mark.parametrize("registry, manifest, why", [
    (False, manifest_at(Path("/calico.yaml")), "no container registry answers"),
    (True, no_manifest, "cannot fetch the Calico v3.29.1 manifest"),
])
def test_the_default_is_the_node_images_kube_router_where_calico_cannot_be_had_and_says_why(registry, manifest, why):
    choice = choose(manifest=manifest, registry=registry)
    assert (choice.network, choice.calico_manifest) == (PodNetwork.KUBE_ROUTER, None)
    assert why in choice.reason and "the node image brings kube-router" in choice.reason


def test_without_calico_and_without_a_node_image_that_brings_a_network_up_stops_naming_both():
    with pytest.raises(PrerequisiteError, match="no pod network can be had") as raised:
        choose(image=PUBLISHED_IMAGE, registry=False)
    assert "make node-image" in raised.value.hint


def test_kube_router_asked_for_needs_the_node_image_that_brings_it():
    assert choose(PodNetwork.KUBE_ROUTER).network is PodNetwork.KUBE_ROUTER
    with pytest.raises(PrerequisiteError, match="kube-router comes only with the node image"):
        choose(PodNetwork.KUBE_ROUTER, image=PUBLISHED_IMAGE)


def test_calico_asked_for_without_a_registry_stops_before_the_nodes_would_wait_for_images():
    with pytest.raises(PrerequisiteError, match="cannot pull Calico's images"):
        choose(PodNetwork.CALICO, registry=False)


def test_an_environment_keeps_its_pod_network_and_refuses_another_as_bad_input():
    # Kept even where the default would now differ: no registry is needed for images already on the nodes.
    assert choose(kept=PodNetwork.CALICO, registry=False).network is PodNetwork.CALICO
    with pytest.raises(InputError, match="runs the pod network kube-router"):
        choose(PodNetwork.CALICO, kept=PodNetwork.KUBE_ROUTER)


def test_an_unknown_pod_network_is_bad_input():
    result = CliRunner().invoke(app, ["up", "--services", "web", "--pod-network", "flannel"])
    assert result.exit_code == 2
    assert "flannel" in result.output and "calico" in result.output and "kube-router" in result.output


def test_pod_network_on_an_existing_cluster_is_bad_input():
    result = CliRunner().invoke(app, ["up", "--services", "web", "--target", "existing", "--kube-context", "x",
                                      "--pod-network", "calico"])
    assert result.exit_code == 2
    assert "--pod-network applies to --target kind only" in result.output


def test_the_prerequisites_status_line_names_the_pod_network_and_why():
    out = io.StringIO()
    with Progress(Console(file=out, width=200)) as progress:
        with progress.phase(Phase.PREREQUISITES):
            progress.note(Phase.PREREQUISITES, str(choose(registry=False)))
    line = out.getvalue().splitlines()[-1]
    assert "✓" in line and "pod network kube-router (Calico cannot be had here: no container registry" in line


def test_status_shows_the_pod_network_and_why_and_old_records_name_calico_by_its_daemonset():
    save_record(EnvironmentRecord(
        name="dev", owner="alice", owner_id="home-of-the-test", created_at=datetime.now(UTC), ttl_seconds=3600, profile="default",
        services=["web"], revision="abc1234", target="kind", namespace="env-dev", ports=HostPorts(f5_api=1, broker=2),
        node_image="envbuilder/kind-node:v1.35.4", pod_network="kube-router", pod_network_reason="--pod-network",
    ))
    result = CliRunner().invoke(app, ["status", "dev"])
    assert "pod_network: kube-router (--pod-network)" in result.output
    assert "node_image: envbuilder/kind-node:v1.35.4" in result.output
    assert EnvironmentRecord.model_validate({**EnvironmentRecord(
        name="old", owner="a", owner_id="home-of-the-test", created_at=datetime.now(UTC), ttl_seconds=1, profile="default", services=[],
        revision="r", target="kind", namespace="env-old", ports=HostPorts(f5_api=1, broker=2),
    ).model_dump(), "pod_network": "calico-node"}).pod_network == "calico"


def test_render_writes_the_pod_network_up_would_install(tmp_path, monkeypatch):
    (tmp_path / "calico.yaml").write_text(CALICO_MANIFEST)
    monkeypatch.setenv("ENVBUILDER_CALICO_MANIFEST", str(tmp_path / "calico.yaml"))
    monkeypatch.setattr("envbuilder.images.build.registry_reachable", lambda: True)
    monkeypatch.setattr("envbuilder.cluster.node_image.local_image", lambda name, runner=None: None)

    result = CliRunner().invoke(app, ["render", "--services", "web", "--name", "dev", "--out", str(tmp_path / "out")])

    assert result.exit_code == 0, result.output
    network = list(yaml.safe_load_all((tmp_path / "out" / "02-pod-network.yaml").read_text()))
    assert [(doc["kind"], doc["metadata"]["name"]) for doc in network] == [("DaemonSet", "calico-node")]
    cluster = yaml.safe_load((tmp_path / "out" / "00-kind-cluster.yaml").read_text())
    assert cluster["networking"]["disableDefaultCNI"] is True


@pytest.mark.docker
def test_render_with_kube_router_writes_the_daemonset_the_offline_node_image_installs(tmp_path):
    from envbuilder.cluster.docker import local_image

    if local_image(OFFLINE_IMAGE.name) is None:
        missing("docker", f"the node image {OFFLINE_IMAGE.name} is not built", "make node-image, or make setup")
    result = CliRunner().invoke(app, ["render", "--services", "web", "--name", "dev", "--pod-network", "kube-router",
                                      "--node-image", OFFLINE_IMAGE.name, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in yaml.safe_load_all((tmp_path / "02-pod-network.yaml").read_text())}
    assert ("DaemonSet", "kube-router") in kinds
    assert yaml.safe_load((tmp_path / "00-kind-cluster.yaml").read_text())["networking"]["disableDefaultCNI"] is False
