"""The kind subprocess boundary: the arguments we pass, the output we parse, the failures we explain."""

from pathlib import Path

import pytest
import yaml

from envbuilder.cluster.commands import CommandFailed, CommandResult
from envbuilder.cluster.kind import Kind


class FakeRunner:
    def __init__(self, *results: CommandResult) -> None:
        self.results = list(results)
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, args, **kwargs) -> CommandResult:
        self.calls.append((list(args), kwargs))
        return self.results.pop(0)


def ok(stdout="", stderr=""):
    return CommandResult(("kind",), 0, stdout, stderr)


def test_create_passes_name_image_kubeconfig_and_config_on_stdin_and_puts_the_nodes_on_the_given_network(tmp_path):
    runner = FakeRunner(ok())
    config = {"kind": "Cluster", "networking": {"disableDefaultCNI": True}}
    Kind(binary="/bin/kind", runner=runner).create("envbuilder-dev", config, "kindest/node:v1.33.1", tmp_path / "kc", 300,
                                                   "envbuilder-dev")
    args, kwargs = runner.calls[0]
    assert args[:3] == ["/bin/kind", "create", "cluster"]
    assert args[args.index("--name") + 1] == "envbuilder-dev"
    assert args[args.index("--image") + 1] == "kindest/node:v1.33.1"
    assert args[args.index("--kubeconfig") + 1] == str(tmp_path / "kc")
    assert args[args.index("--config") + 1] == "-"
    assert yaml.safe_load(kwargs["input"]) == config
    assert kwargs["timeout"] == 300
    assert kwargs["env"]["KIND_EXPERIMENTAL_DOCKER_NETWORK"] == "envbuilder-dev"  # not kind's shared network


def test_clusters_are_parsed_from_stdout_and_none_is_an_empty_list():
    assert Kind(runner=FakeRunner(ok("envbuilder-a\nkind\n"))).clusters() == ["envbuilder-a", "kind"]
    assert Kind(runner=FakeRunner(ok("", "No kind clusters found.\n"))).clusters() == []


def test_deleting_a_cluster_that_does_not_exist_says_so_instead_of_succeeding_silently():
    runner = FakeRunner(ok("other\n"))
    assert Kind(runner=runner).delete("envbuilder-dev") is False
    assert len(runner.calls) == 1  # never called `kind delete`


def test_deleting_an_existing_cluster():
    runner = FakeRunner(ok("envbuilder-dev\n"), ok())
    assert Kind(runner=runner).delete("envbuilder-dev", Path("/k")) is True
    assert runner.calls[1][0] == ["kind", "delete", "cluster", "--name", "envbuilder-dev", "--kubeconfig", "/k"]


def test_a_failure_carries_the_command_and_the_end_of_its_output():
    stderr = "Creating cluster ...\nERROR: failed to create cluster: node(s) already exist for a cluster with the name \"envbuilder-dev\"\n"
    runner = FakeRunner(CommandResult(("kind",), 1, "", stderr))
    with pytest.raises(CommandFailed) as raised:
        Kind(runner=runner).create("envbuilder-dev", {}, "img", Path("kc"), 10, "envbuilder-dev")
    assert "creating kind cluster envbuilder-dev failed (exit 1)" in str(raised.value)
    assert "already exist" in str(raised.value)
