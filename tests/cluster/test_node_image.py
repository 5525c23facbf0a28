"""Which node image an environment gets, and stopping early when Docker cannot run a kind node."""

import json
from pathlib import Path

import pytest

from envbuilder.cluster.commands import CommandResult
from envbuilder.cluster.node_image import CNI_LABEL, choose_node_image, require_privileged_containers
from envbuilder.errors import PrerequisiteError
from envbuilder.spec.profile import load_profile

STACKS = Path(__file__).resolve().parents[2] / "stacks"
PROFILE = load_profile(STACKS, "default")
LOCAL = PROFILE.local_node_image
PUBLIC = PROFILE.published_node_image


def docker_with(images: dict[str, dict[str, str] | None]):
    """A runner that answers `docker image inspect` for `images` (name -> labels) and fails for others."""

    def runner(args, **_kwargs) -> CommandResult:
        name = args[-1]
        if name in images:
            return CommandResult(tuple(args), 0, f"sha256:{len(name):064x} {json.dumps(images[name])}", "")
        return CommandResult(tuple(args), 1, "", f"Error: No such image: {name}")

    return runner


def test_the_locally_built_image_wins_and_says_which_pod_network_it_brings():
    chosen = choose_node_image(PROFILE.node_image_candidates(None), docker_with({LOCAL: {CNI_LABEL: "kube-router"}, PUBLIC: {}}))
    assert (chosen.name, chosen.present, chosen.bundled_cni) == (LOCAL, True, "kube-router")


def test_without_a_local_image_kind_pulls_its_published_one():
    chosen = choose_node_image(PROFILE.node_image_candidates(None), docker_with({}))
    assert (chosen.name, chosen.present, chosen.bundled_cni) == (PUBLIC, False, None)


def test_an_explicit_image_is_used_even_when_a_local_one_exists():
    chosen = choose_node_image(PROFILE.node_image_candidates("kindest/node:v1.35.0"), docker_with({LOCAL: {CNI_LABEL: "kube-router"}}))
    assert (chosen.name, chosen.present, chosen.bundled_cni) == ("kindest/node:v1.35.0", False, None)


def test_an_image_without_labels_brings_no_pod_network():
    chosen = choose_node_image(PROFILE.node_image_candidates(None), docker_with({LOCAL: None}))  # Docker prints `null` for no labels
    assert (chosen.name, chosen.present, chosen.bundled_cni) == (LOCAL, True, None)


def test_a_host_that_cannot_start_privileged_containers_is_named_with_the_cause_and_the_fix():
    refused = "docker: Error response from daemon: OCI runtime create failed: unable to apply caps: operation not permitted"

    def runner(args, **_kwargs) -> CommandResult:
        return CommandResult(tuple(args), 126, "", refused)

    with pytest.raises(PrerequisiteError) as raised:
        require_privileged_containers(LOCAL, runner)
    assert "Docker cannot start a privileged container" in str(raised.value)
    assert "unable to apply caps" in str(raised.value)
    assert "tools/host/prepare-docker.sh" in (raised.value.hint or "")
    assert raised.value.exit_code == 2
