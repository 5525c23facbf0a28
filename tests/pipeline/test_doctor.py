"""`envbuilder doctor` with the machine's answers faked: one line per prerequisite, the fix for each
failure, and a non-zero exit when `up` or the tests cannot work."""

import json
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.cluster.commands import CommandResult
from envbuilder.pipeline import doctor
from envbuilder.cluster.tools import pinned_versions
from envbuilder.pipeline.doctor import diagnose


def answers(docker_info: str | None = None, kubectl: str = "v1.35.4", kind: str = "v0.33.0"):
    """A runner answering the version and info commands doctor runs."""
    def runner(args, **_kwargs) -> CommandResult:
        name, *rest = args
        if name.endswith("docker"):  # `docker info` as given; no image is present
            answered = docker_info is not None and rest[0] == "info"
            return CommandResult(tuple(args), 0 if answered else 1, docker_info if answered else "", "No such")
        if name.endswith("kubectl"):
            return CommandResult(tuple(args), 0, json.dumps({"clientVersion": {"gitVersion": kubectl}}), "")
        if name.endswith("kind"):
            return CommandResult(tuple(args), 0, f"kind {kind} go1.26 linux/amd64", "")
        return CommandResult(tuple(args), 0, pinned_versions()["PULUMI_VERSION"] + "\n", "")
    return runner


@pytest.fixture(autouse=True)
def no_registry(monkeypatch):
    """No probe leaves the machine: the node image check is told no registry is reachable."""
    monkeypatch.setattr("envbuilder.images.build.registry_reachable", lambda: False)


def by_name(checks) -> dict:
    return {check.name: check for check in checks}


def test_the_pins_come_from_the_toolchains_versions_file():
    assert pinned_versions()["KIND_VERSION"].startswith("v")
    assert pinned_versions()["KUBERNETES_VERSION"].startswith("v1.")


def test_a_docker_engine_that_does_not_answer_fails_with_how_to_start_it():
    checks = by_name(diagnose(answers(docker_info=None)))
    assert checks["docker"].outcome == "fail" and "prepare-docker.sh" in checks["docker"].fix
    assert checks["node image"].outcome == "fail" and checks["node image"].fix == "make setup"


def test_a_kubectl_too_far_from_the_clusters_fails_and_one_minor_apart_passes():
    checks = by_name(diagnose(answers(docker_info=json.dumps({"ServerVersion": "20.10"}), kubectl="v1.32.4")))
    assert checks["kubectl"].outcome == "fail" and "3 minor versions" in checks["kubectl"].detail
    checks = by_name(diagnose(answers(docker_info=json.dumps({"ServerVersion": "20.10"}), kubectl="v1.34.1")))
    assert checks["kubectl"].outcome == "ok"


@pytest.mark.parametrize(("free_gib", "outcome"), [(3, "fail"), (7, "warn"), (40, "ok")])
def test_disk_fails_below_one_environment_and_warns_below_the_two_the_tests_run(monkeypatch, free_gib, outcome):
    monkeypatch.setattr(doctor.shutil, "disk_usage", lambda path: SimpleNamespace(free=free_gib * 2**30))

    check = by_name(diagnose(answers(docker_info=json.dumps({"DockerRootDir": "/var/lib/docker"}))))["disk"]

    assert check.outcome == outcome and check.detail.startswith(f"{free_gib} GiB free for Docker (/var/lib/docker)")


def test_a_tool_of_another_version_than_the_pin_is_a_warning_naming_both():
    check = by_name(diagnose(answers(docker_info=json.dumps({}), kind="v0.20.0")))["kind"]
    assert check.outcome == "warn" and "v0.20.0" in check.detail and pinned_versions()["KIND_VERSION"] in check.detail


def test_the_command_prints_a_line_per_check_and_exits_1_on_a_failure(monkeypatch):
    failing = [doctor.Check("docker", "fail", "the engine does not answer", "make setup starts it"),
               doctor.Check("wrk", "ok", "/usr/bin/wrk", needed_by="tests")]
    monkeypatch.setattr(doctor, "diagnose", lambda: failing)

    result = CliRunner().invoke(app, ["doctor"])

    assert result.exit_code == 1
    assert result.output.splitlines() == ["✗ docker: the engine does not answer → make setup starts it",
                                          "✓ wrk (tests): /usr/bin/wrk"]
    monkeypatch.setattr(doctor, "diagnose", lambda: failing[1:])
    assert CliRunner().invoke(app, ["doctor", "--json"]).exit_code == 0


def kubectl_saying(folder, version: str):
    """A kubectl in `folder` that says it is `version`."""
    folder.mkdir(exist_ok=True)
    answer = json.dumps({"clientVersion": {"gitVersion": version}})
    (folder / "kubectl").write_text(f"#!/bin/sh\necho '{answer}'\n")
    (folder / "kubectl").chmod(0o755)
    return folder / "kubectl"


@pytest.fixture
def pinned_and_path(tmp_path, monkeypatch):
    """.tools/bin and PATH, each a folder of its own."""
    from envbuilder.cluster import tools

    pinned, on_path = tmp_path / "pinned", tmp_path / "path"
    pinned.mkdir()
    on_path.mkdir()
    monkeypatch.setattr(tools, "tools_bin", lambda: pinned)
    monkeypatch.setenv("PATH", str(on_path))
    return pinned, on_path


def test_the_pinned_tool_setup_installed_comes_before_one_on_path(pinned_and_path):
    from envbuilder.cluster import tools

    pinned, on_path = pinned_and_path
    kubectl_saying(pinned, "v1.35.4")
    kubectl_saying(on_path, "v1.34.2")
    assert tools.find_tool("kubectl") == pinned / "kubectl"
    assert tools.tool_path_env()["PATH"].split(":")[0] == str(pinned)
    assert tools.choose_tool("kubectl").shown() == f"v1.35.4 at {pinned / 'kubectl'} (pinned)"
    (pinned / "kubectl").unlink()
    assert tools.find_tool("kubectl") == on_path / "kubectl"  # one minor from the clusters: used
    assert tools.choose_tool("kubectl").shown() == f"v1.34.2 at {on_path / 'kubectl'} (on PATH, within the supported skew)"


def test_the_machines_image_registry_is_reported_and_a_foreign_container_of_its_name_fails(monkeypatch):
    monkeypatch.setattr("envbuilder.images.registry.Registry.answers", lambda self: False)

    def with_registry(labels: dict[str, str] | None):
        base = answers(docker_info=json.dumps({"ServerVersion": "20.10"}))

        def runner(args, **kwargs) -> CommandResult:
            if list(args[:3]) == ["docker", "container", "inspect"] and labels is not None:
                container = {"Config": {"Labels": labels, "Image": "registry:2"}, "State": {"Status": "exited"},
                             "NetworkSettings": {"Networks": {"kind": {}}}}
                return CommandResult(tuple(args), 0, json.dumps([container]), "")
            return base(args, **kwargs)
        return runner

    missing = by_name(diagnose(with_registry(None)))["image registry"]
    assert "the next up on kind starts it" in missing.detail
    foreign = by_name(diagnose(with_registry({})))["image registry"]
    assert foreign.outcome == "fail" and "docker rm -f envbuilder-registry" in foreign.fix
    stopped = by_name(diagnose(with_registry({"envbuilder.io/registry": "true"})))["image registry"]
    assert stopped.outcome == "warn" and "exited" in stopped.detail


def test_a_tool_on_path_out_of_the_supported_skew_is_not_used_and_up_says_why(pinned_and_path):
    """A cloud SDK's kubectl 1.32 first on PATH never drives a 1.35 cluster."""
    from envbuilder.cluster import tools
    from envbuilder.errors import PrerequisiteError

    _pinned, on_path = pinned_and_path
    kubectl = kubectl_saying(on_path, "v1.32.4")
    assert tools.find_tool("kubectl") is None
    with pytest.raises(PrerequisiteError) as refused:
        tools.require_tools(["kubectl"])
    assert (f"kubectl: v1.32.4 at {kubectl} is not used: the product drives kubectl 1.34 to 1.36 (pinned "
            f"{pinned_versions()['KUBERNETES_VERSION']}; kubectl supports one minor version") in str(refused.value)
    check = by_name(diagnose(answers(docker_info=json.dumps({}), kubectl="v1.32.4")))["kubectl"]
    assert check.outcome == "fail" and "v1.32.4" in check.detail and "is not used" in check.detail


@pytest.mark.parametrize(("tool", "version", "used"), [
    ("kind", "v0.33.9", True), ("kind", "v0.32.0", False), ("pulumi", "v3.280.0", True), ("pulumi", "v3.200.0", False),
    ("pulumi", "v4.0.0", False), ("kubectl", "v1.36.0", True), ("kubectl", "v1.37.0", False),
])
def test_each_driven_tool_has_its_supported_skew(tool, version, used):
    from envbuilder.cluster.tools import SKEWS

    skew = SKEWS[tool]
    assert skew.allows(version, pinned_versions()[skew.pin]) is used


def test_a_plugin_on_path_says_its_version_through_its_go_build_information(pinned_and_path):
    """The Kubernetes provider answers its version only to the engine; its binary carries it."""
    from envbuilder.cluster import tools

    _pinned, on_path = pinned_and_path
    info = "path\tgithub.com/pulumi/pulumi-kubernetes/provider/v4/cmd/x\nmod\tgithub.com/pulumi/pulumi-kubernetes/provider/v4\t{}\t\n"

    def plugin(version: str) -> None:
        header = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16)
        strings = b"".join(bytes([len(text)]) + text for text in (b"go1.26.8", info.format(version).encode()))
        (on_path / "pulumi-resource-kubernetes").write_bytes(b"\x7fELF" + bytes(64) + header + strings + bytes(8))
        (on_path / "pulumi-resource-kubernetes").chmod(0o755)

    plugin("v4.30.1")
    assert tools.choose_tool("pulumi-resource-kubernetes").version == "v4.30.1"
    assert tools.find_tool("pulumi-resource-kubernetes") == on_path / "pulumi-resource-kubernetes"
    plugin("v3.30.0")
    assert tools.find_tool("pulumi-resource-kubernetes") is None
