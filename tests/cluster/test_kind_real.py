"""The real kind binary at our boundary: what it reports, and how a failed create is explained and cleaned up.

No node image can be pulled here, so the create uses a local image that is no kind node:
kind must fail, and the failure must say why and leave no cluster behind.
"""

import secrets
from pathlib import Path

import pytest

from envbuilder.cluster.commands import CommandFailed
from envbuilder.cluster.docker import Docker
from envbuilder.cluster.kind import Kind
from envbuilder.cluster.tools import find_tool
from envbuilder.desired.host import KindNodes, kind_cluster_config
from tests.support.docker import empty_image, require_docker
from tests.support.tools import missing

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def kind() -> Kind:
    binary = find_tool("kind")
    if binary is None:
        missing("toolchain", "kind is not installed", "make setup")
    require_docker()
    return Kind(binary=str(binary))


def test_a_cluster_that_does_not_exist_is_not_reported_as_deleted(kind):
    never_created = f"envbuilder-test-never-{secrets.token_hex(4)}"
    assert never_created not in kind.clusters()
    assert kind.delete(never_created) is False


def test_a_failed_create_says_why_and_leaves_no_cluster(kind, tmp_path):
    from envbuilder.spec.catalog import load_catalog
    from envbuilder.spec.environment import EnvironmentSpec, resolve_services, tagged_images
    from envbuilder.spec.profile import load_profile

    stacks = Path(__file__).resolve().parents[2] / "stacks"
    profile = load_profile(stacks, "default")
    name = f"test-kindfail-{secrets.token_hex(4)}"  # no real environment has it
    spec = EnvironmentSpec(name=name, profile=profile, revision="abc", owner="test-home",
                           services=resolve_services(load_catalog(stacks / "services"), ["web"], profile,
                                                     tagged_images(["web"], "abc")))
    with pytest.raises(CommandFailed) as raised:
        config = kind_cluster_config(spec, None, KindNodes(empty_image()))
        kind.create(spec.cluster_name, config, empty_image(), tmp_path / "kubeconfig", 180, "kind")
    message = str(raised.value)
    assert f"creating kind cluster envbuilder-{name} failed" in message
    assert "ERROR" in message  # kind's own explanation travels with it
    assert spec.cluster_name not in kind.clusters()
    leftovers = [c for c in Docker().labelled("container") if c.startswith(spec.cluster_name)]
    assert leftovers == []
