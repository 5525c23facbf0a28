"""The command line as a user meets it: help, exit codes, messages, and nothing created on bad input."""

import json
import shutil
import stat
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.images.build import image_references
from envbuilder.images.revision import current_revision
from envbuilder.state.home import project_root
from envbuilder.state.identity import IDENTITY_FILE
from envbuilder.state.records import EnvironmentRecord, HostPorts, find_record, save_record
from envbuilder.state.identity import home_identity

runner = CliRunner()
COMMANDS = ["up", "down", "list", "status", "services", "render", "scale", "smoke"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def state_files(home) -> list[str]:
    """What envbuilder keeps of environments; the home's own identity (made on first use) is not one of them."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if p.is_file() and not p.name.endswith(".lock") and p.name != IDENTITY_FILE)


def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_services_lists_the_catalog_as_json():
    result = invoke("services", "--json")
    assert result.exit_code == 0
    names = [entry["name"] for entry in json.loads(result.output)]
    assert {"web", "worker"} <= set(names)


def test_up_with_an_unknown_service_exits_2_and_creates_nothing(isolated_state):
    result = invoke("up", "--services", "web,nosuch", "--name", "dev")
    assert result.exit_code == 2
    shown = " ".join(result.output.split())  # the console wraps long lines
    assert "nosuch" in shown and "known services: legacy-worker, web, web-direct, worker" in shown
    assert state_files(isolated_state) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "Bad_Name"], "invalid environment name"),
        (["--set", "web.NOPE=1"], "unknown config key for web: NOPE"),
        (["--set", "nosuch.A=1"], "'nosuch' is not one of this environment's services"),
        (["--profile", "weekly"], "unknown profile 'weekly'"),
        (["--target", "cloud"], "unknown target 'cloud'"),
        (["--target", "existing"], "needs --kube-context"),
        (["--ttl", "soon"], "--ttl"),
        (["--ttl", "1000000000000d"], "--ttl: '1000000000000d' is longer than 3650 days"),
        (["--revision", "no-such-revision-anywhere"], "no-such-revision-anywhere"),
    ],
)
def test_bad_input_to_up_exits_2_with_a_clear_message_and_creates_nothing(isolated_state, args, message):
    result = invoke("up", "--services", "web,worker", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert state_files(isolated_state) == []


@pytest.mark.parametrize("value", ["42000", "42999-42000", "80-90", "42000-70000", "٤٢٠٠٠-٤٢٠١٠", "a-b"])
def test_a_port_range_variable_that_is_no_range_exits_2_and_creates_nothing(isolated_state, monkeypatch, value):
    monkeypatch.setenv("ENVBUILDER_PORT_RANGE", value)
    result = invoke("up", "--services", "web,worker", "--name", "dev")
    assert result.exit_code == 2, result.output
    assert "is not a range of ports like 42000-42999" in " ".join(result.output.split())
    assert state_files(isolated_state) == []


def test_a_broker_image_variable_that_names_no_image_exits_2_and_creates_nothing(isolated_state, monkeypatch):
    monkeypatch.setenv("ENVBUILDER_BROKER_IMAGE", "RabbitMQ latest")
    result = invoke("up", "--services", "web,worker", "--name", "dev")
    assert result.exit_code == 2, result.output
    assert "$ENVBUILDER_BROKER_IMAGE='RabbitMQ latest' is not an image reference" in " ".join(result.output.split())
    assert state_files(isolated_state) == []


def test_a_missing_tool_fails_fast_before_anything_is_created(isolated_state, monkeypatch, tmp_path):
    (tmp_path / "git").symlink_to(shutil.which("git"))  # only git: the revision is read first
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("envbuilder.cluster.tools.tools_bin", lambda: tmp_path / "none")
    result = invoke("up", "--services", "web", "--name", "dev")
    assert result.exit_code == 2
    assert "missing prerequisite tools" in result.output
    for tool in ("docker", "kind", "pulumi", "kubectl"):
        assert tool in result.output
    assert find_record("dev") is None and state_files(isolated_state) == []


def test_the_pipelines_status_lines_reach_the_user_through_the_console_the_cli_supplies(isolated_state, monkeypatch):
    monkeypatch.setattr("envbuilder.pipeline.up.check_prerequisites", _refuse)
    result = invoke("up", "--services", "web", "--name", "dev")
    assert result.exit_code == 2
    assert "Creating environment dev (web)" in result.output
    assert "refused by the test" in result.output


def _refuse(*_args, **_kwargs):
    from envbuilder.errors import PrerequisiteError

    raise PrerequisiteError("refused by the test")


def test_docker_not_running_fails_fast(isolated_state, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kind", "pulumi", "kubectl"):
        fake(bin_dir / tool, "exit 0")
    fake(bin_dir / "docker", "echo 'Cannot connect to the Docker daemon' >&2; exit 1")
    (bin_dir / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", str(bin_dir))
    result = invoke("up", "--services", "web", "--name", "dev")
    assert result.exit_code == 2
    assert "Docker engine is not running" in result.output
    assert state_files(isolated_state) == []


def fake(path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_render_writes_the_environment_without_secrets(tmp_path):
    out = tmp_path / "out"
    result = invoke("render", "--services", "web,worker", "--out", str(out), "--name", "dev", "--set", "web.GREETING=hi")
    assert result.exit_code == 0, result.output
    text = "\n".join(p.read_text() for p in sorted(out.glob("*.yaml")))
    assert "kind: Deployment" in text and "name: f5-sync" in text and "kind: StatefulSet" in text
    assert "GREETING: hi" in text
    assert "<generated at up>" in text


def test_down_of_an_unknown_environment_exits_2_listing_the_existing_ones(monkeypatch):
    from envbuilder.pipeline.down import _Survey

    monkeypatch.setattr("envbuilder.pipeline.down._survey", lambda *args: _Survey(traces=[], docker_answers=True))
    save_record(make_record("alpha"))
    result = invoke("down", "nosuch")
    assert result.exit_code == 2
    assert "no environment named 'nosuch'" in result.output and "alpha" in result.output


def make_record(name: str, age: timedelta = timedelta(minutes=5)) -> EnvironmentRecord:
    return EnvironmentRecord(
        name=name, owner="alice", owner_id=home_identity(), created_at=datetime.now(UTC) - age, ttl_seconds=8 * 3600, profile="default",
        services=["web", "worker"], revision="abc1234", target="kind", namespace=f"env-{name}",
        ports=HostPorts(f5_api=42000, broker=42001, vips={"web": 42002}), status="ready",
    )


def test_list_shows_age_and_time_left_as_json():
    save_record(make_record("fresh"))
    save_record(make_record("old", age=timedelta(hours=9)))
    result = invoke("list", "--json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["fresh"]["expired"] is False and rows["fresh"]["time_left"].startswith("7h")
    assert rows["old"]["expired"] is True


def test_an_unreadable_record_is_listed_as_such_and_hides_no_other(isolated_state):
    save_record(make_record("fresh"))
    broken = isolated_state / "environments" / "broken.json"
    broken.write_text("{not json")

    listed = invoke("list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert rows["fresh"]["status"] == "ready"
    assert rows["broken"]["status"] == "unreadable" and rows["broken"]["record"] == str(broken)
    # The console may wrap the path anywhere (a longer temporary folder, as under pytest-xdist, wraps it
    # mid-name): the texts are compared without their whitespace.
    def unwrapped(text: str) -> str:
        return "".join(text.split())

    table = invoke("list")
    assert table.exit_code == 0 and "fresh" in table.output and str(broken) in unwrapped(table.output)
    for command in (["status", "broken"], ["up", "--services", "web", "--name", "broken"], ["down", "broken"]):
        refused = invoke(*command)
        assert refused.exit_code == 2, (command, refused.output)
        assert unwrapped(f"the environment record {broken} cannot be read") in unwrapped(refused.output), command
    reap = invoke("reap", "--dry-run")
    assert reap.exit_code == 0 and "broken: left alone" in reap.output, reap.output
    assert broken.read_text() == "{not json"


def test_status_shows_the_f5_and_vip_addresses():
    save_record(make_record("dev"))
    result = invoke("status", "dev", "--json")
    assert result.exit_code == 0
    details = json.loads(result.output)
    assert details["vips"] == {"web": "http://127.0.0.1:42002"}
    assert details["f5_api"] == "https://127.0.0.1:42000"


def test_status_says_which_kind_kubectl_pulumi_and_plugin_the_product_drives(monkeypatch, tmp_path):
    from envbuilder.cluster import tools

    save_record(make_record("dev"))
    pinned = tmp_path / "pinned"
    pinned.mkdir()
    (pinned / "kind").write_text("#!/bin/sh\necho kind v0.33.0 go1.26.8 linux/amd64\n")
    (pinned / "kind").chmod(0o755)
    monkeypatch.setattr(tools, "tools_bin", lambda: pinned)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    shown = json.loads(invoke("status", "dev", "--json").output)["tools"]
    assert shown["kind"] == f"v0.33.0 at {pinned / 'kind'} (pinned)"
    assert shown["kubectl"] == "not found on PATH or in .tools/bin"
    assert set(shown) == {"kind", "kubectl", "pulumi", "pulumi-resource-kubernetes"}


def test_status_names_the_images_that_are_not_the_working_trees():
    tree = image_references(project_root(), current_revision(project_root()))
    record = make_record("dev").model_copy(update={"images": {**tree, "web": "envbuilder/web:0000000"}})
    save_record(record)

    details = json.loads(invoke("status", "dev", "--json").output)
    assert details["images"]["web"] == "envbuilder/web:0000000"
    assert details["not_the_working_tree"] == {"web": {"running": "envbuilder/web:0000000", "tree": tree["web"]}}
    shown = " ".join(invoke("status", "dev").output.split())
    assert "not the working tree's: web (running 0000000" in shown
    assert "envbuilder up --name dev --services web,worker" in shown

    save_record(record.model_copy(update={"images": tree}))
    assert json.loads(invoke("status", "dev", "--json").output)["not_the_working_tree"] == {}


def test_status_of_an_unknown_environment_exits_2():
    assert invoke("status", "nosuch").exit_code == 2


@pytest.mark.parametrize(("pair", "message"), [("web=99", "outside the catalog's bounds"), ("nosuch=1", "has no service 'nosuch'"), ("web", "SERVICE=REPLICAS")])
def test_scale_outside_bounds_or_unknown_exits_2_and_changes_nothing(pair, message):
    save_record(make_record("dev"))
    before = find_record("dev")
    result = invoke("scale", "dev", pair)
    assert result.exit_code == 2
    assert message in result.output
    assert find_record("dev") == before


def test_too_little_memory_fails_fast(isolated_state, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kind", "pulumi", "kubectl", "docker"):
        fake(bin_dir / tool, "exit 0")
    (bin_dir / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr("envbuilder.cluster.tools._available_memory_gib", lambda: 1.5)
    result = invoke("up", "--services", "web", "--name", "dev")
    assert result.exit_code == 2
    assert "only 1.5 GiB of memory available" in result.output
    assert state_files(isolated_state) == []


def _commands(group=None, prefix=""):
    import typer.main

    group = group or typer.main.get_command(app)
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def test_every_commands_help_says_what_its_exit_codes_mean_and_the_readme_says_the_same():
    from envbuilder.cli.exit_codes import BAD_INPUT, MEANINGS
    from envbuilder.state.home import project_root

    commands = dict(_commands())
    assert set(commands) == set(MEANINGS)
    readme = (project_root() / "README.md").read_text()
    for name, (ok, failed) in MEANINGS.items():
        result = invoke(*name.split(), "--help")
        said = "".join(result.output.split())  # as wrapped, words split at hyphens too
        assert "".join(f"Exit codes: 0 {ok}; 1 {failed}; 2 {BAD_INPUT}.".split()) in said, name
        assert f"| `{name}` | {ok} | {failed} |" in readme, name
