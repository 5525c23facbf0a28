"""`envbuilder doctor` with the machine's answers faked: one line per prerequisite, the fix for each
failure, and a non-zero exit when `up` or the tests cannot work."""

import json

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.cluster.commands import CommandResult
from envbuilder.pipeline import doctor
from envbuilder.pipeline.doctor import diagnose, pinned_versions


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


def test_the_pinned_tool_setup_installed_comes_before_one_on_path(tmp_path, monkeypatch):
    from envbuilder.cluster import tools

    pinned, on_path = tmp_path / "pinned", tmp_path / "path"
    for folder in (pinned, on_path):
        folder.mkdir()
        (folder / "kubectl").write_text("#!/bin/sh\n")
        (folder / "kubectl").chmod(0o755)
    monkeypatch.setattr(tools, "tools_bin", lambda: pinned)
    monkeypatch.setenv("PATH", str(on_path))

    assert tools.find_tool("kubectl") == pinned / "kubectl"
    assert tools.tool_path_env()["PATH"].split(":")[0] == str(pinned)
    (pinned / "kubectl").unlink()
    assert tools.find_tool("kubectl") == on_path / "kubectl"


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
