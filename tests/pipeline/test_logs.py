"""`envbuilder logs`: which services it reads, how a line is told apart and ordered, which containers it reads."""

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.errors import InputError
from envbuilder.pipeline.logs import ContainerKey, LogLine, chosen_services, split_timestamp, started_containers
from envbuilder.state.records import EnvironmentRecord, HostPorts, save_record

runner = CliRunner()


def record(name: str = "logs-test") -> EnvironmentRecord:
    return EnvironmentRecord(
        name=name, owner="ci", owner_id="home-of-the-test", created_at=datetime.now(UTC), ttl_seconds=3600,
        profile="default",
        services=["web", "legacy-worker"], revision="abc1234", target="kind", namespace=f"env-{name}",
        ports=HostPorts(f5_api=1, broker=2), catalog=[{"name": "legacy-worker", "runtime": "classic"}],
    )


def test_no_service_named_means_every_service_with_the_broker_and_f5_sync():
    assert chosen_services(record(), []) == {"web", "legacy-worker", "broker", "f5-sync"}
    assert chosen_services(record(), ["web"]) == {"web"}


def test_a_service_the_environment_does_not_run_is_an_input_error_naming_those_it_runs():
    with pytest.raises(InputError, match="has no service billing; its services: web, legacy-worker, broker, f5-sync"):
        chosen_services(record(), ["web", "billing"])


def test_the_cli_refuses_an_unknown_environment_or_service_with_exit_2():
    assert runner.invoke(app, ["logs", "nowhere"]).exit_code == 2
    save_record(record())
    result = runner.invoke(app, ["logs", "logs-test", "billing"])
    assert result.exit_code == 2 and "has no service billing" in result.output
    assert runner.invoke(app, ["logs", "logs-test", "--since", "soon"]).exit_code == 2


def test_a_line_keeps_its_time_apart_from_its_text():
    assert split_timestamp("2026-12-01T10:00:00.5Z hello world") == ("2026-12-01T10:00:00.5Z", "hello world")
    assert split_timestamp("no time here") == (None, "no time here")


def test_lines_order_by_time_whatever_the_number_of_fraction_digits():
    later = LogLine("web", "a", "2026-12-01T10:00:00.12345Z", "later")
    earlier = LogLine("web", "b", "2026-12-01T10:00:00.1234Z", "earlier")
    assert [line.text for line in sorted([later, earlier], key=LogLine.sort_key)] == ["earlier", "later"]


def test_a_pod_keeps_its_colour_and_json_says_who_said_what():
    line = LogLine("web", "web-1", "2026-12-01T10:00:00Z", "hi")
    assert line.prefix == "web/web-1" and line.colour == LogLine("web", "web-1", None, "other").colour
    assert line.as_json() == '{"service": "web", "source": "web-1", "time": "2026-12-01T10:00:00Z", "line": "hi"}'


def pod(name: str, service: str, restarts: int = 0, state: str = "running") -> dict:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "labels": {"app.kubernetes.io/name": service}},
        "status": {"containerStatuses": [{"name": service, "restartCount": restarts, "state": {state: {}}}]},
    }


def test_containers_are_read_once_started_and_again_after_a_restart():
    pods = {"items": [pod("web-1", "web"), pod("web-2", "web", state="waiting"), pod("f5-sync-1", "f5-sync"),
                      pod("worker-1", "worker", restarts=2)]}
    assert started_containers(pods, {"web", "worker"}) == {
        ContainerKey("web-1", "uid-web-1", "web", 0): "web",
        ContainerKey("worker-1", "uid-worker-1", "worker", 2): "worker",
    }
