"""From an environment record to the checks' target, and the `envbuilder smoke` command around the suite."""

import asyncio
import base64
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.desired import Credentials
from f5sync.kubeconfig import load_kubeconfig
from envbuilder.smoke.kube import Kube
from envbuilder.smoke.target import ExtraCheck, F5Access, RpcRoute, read_credentials, target_from_record
from envbuilder.spec.catalog import ServiceEntry, load_catalog
from envbuilder.state.records import EnvironmentRecord, HostPorts, PhaseRecord, save_record
from envbuilder.state.identity import home_identity
from tests.reports.sample import sample_run
from tests.smoke.fake_kube import FakeKube

runner = CliRunner()
CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "stacks" / "services")


def record(
    target: str = "kind", services: tuple[str, ...] = ("web", "worker"), entries: list[ServiceEntry] | None = None,
    smoke_timeout_seconds: int = 120,
) -> EnvironmentRecord:
    """A record as `up` writes it: the catalog entries of its services and the default profile's facts."""
    entries = entries if entries is not None else CATALOG.select(list(services))
    return EnvironmentRecord(
        name="demo",
        owner="ci",
        owner_id=home_identity(),
        created_at=datetime(2026, 11, 27, tzinfo=UTC),
        ttl_seconds=3600,
        profile="default",
        services=list(services),
        revision="abc1234",
        target=target,
        namespace="env-demo",
        kube_context="kind-envbuilder-demo",
        kubeconfig="/tmp/envbuilder-demo.kubeconfig",
        ports=HostPorts(f5_api=43001, broker=43002, vips={"web": 43003}),
        phases=[PhaseRecord(name="cluster", started_at=datetime(2026, 11, 27, tzinfo=UTC), status="running")],
        catalog=[entry.model_dump(mode="json") for entry in entries],
        node_count=2 if target == "kind" else None,  # the default profile: one control plane, one worker
        smoke_timeout_seconds=smoke_timeout_seconds,
    )


def test_a_kind_environment_is_checked_through_its_host_ports_with_the_catalogs_checks():
    target = target_from_record(record(), Credentials(f5_password="f5-secret", broker_password="p@ss"))
    assert (target.environment, target.namespace, target.kube_context) == ("demo", "env-demo", "kind-envbuilder-demo")
    assert target.kubeconfig == Path("/tmp/envbuilder-demo.kubeconfig")
    assert target.node_count == 2, "the default profile: one control plane and one worker"
    assert target.f5 == F5Access("https://127.0.0.1:43001", "admin", "f5-secret")
    assert target.broker_url == "amqp://envbuilder:p%40ss@127.0.0.1:43002/%2F"
    web, worker = target.services
    assert (web.name, web.port, web.health_path, web.exposed, web.vip_url, web.partition) == (
        "web",
        8080,
        "/healthz",
        True,
        "http://127.0.0.1:43003",
        "Common",
    )
    assert web.extra_checks == (ExtraCheck("greeting", "/", 200, None),)
    assert web.f5_mode == "nodeport"
    assert (worker.name, worker.port, worker.exposed, worker.vip_url) == ("worker", 8081, False, None)
    assert target.rpc == RpcRoute(via="web", path="/work", worker="worker")
    assert target.probe_image == "localhost:5001/envbuilder/web:abc1234"  # the nodes pull it through the registry


def test_an_existing_cluster_has_no_host_ports_so_f5_and_broker_are_not_targeted():
    target = target_from_record(record(target="existing", services=("worker",)), Credentials(f5_password="x", broker_password="y"))
    assert (target.node_count, target.f5, target.broker_url, target.rpc) == (None, None, None, None)
    assert [service.exposed for service in target.services] == [False]


def test_credentials_are_read_from_the_environments_secrets(tmp_path):
    fake = FakeKube()

    def secret(**data: str) -> dict:
        return {"data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}

    fake.put("/api/v1/namespaces/env-demo/secrets/f5-credentials", secret(F5_USERNAME="admin", F5_PASSWORD="f5-pw"))
    fake.put("/api/v1/namespaces/env-demo/secrets/broker-credentials", secret(password="amqp-pw"))
    kube = Kube(load_kubeconfig(fake.kubeconfig(tmp_path)), fake.transport())
    assert asyncio.run(read_credentials(kube, "env-demo")) == Credentials(f5_password="f5-pw", broker_password="amqp-pw")
    kube = Kube(load_kubeconfig(FakeKube().kubeconfig(tmp_path)), FakeKube().transport())
    assert asyncio.run(read_credentials(kube, "env-demo")) == Credentials(f5_password="", broker_password="")


@pytest.fixture
def canned_checks(monkeypatch):
    """The suite's results as in the sample run (one check failed); the command is what is under test."""
    checks = list(sample_run().checks)

    async def smoke_environment(record):
        return checks

    monkeypatch.setattr("envbuilder.smoke.suite.smoke_environment", smoke_environment)
    return checks


def test_smoke_prints_each_check_and_why_one_failed_and_exits_1(canned_checks):
    save_record(record())
    result = runner.invoke(app, ["smoke", "demo"])
    assert result.exit_code == 1
    assert "pod-to-pod HTTP across nodes" in result.stdout
    assert "f5-pool:web: why" in result.stdout
    assert "<f5-sync> log: 401 & retry" in result.stdout, "diagnoses are printed verbatim"
    assert "1 of 5 smoke checks failed: f5-pool:web" in result.stderr


def test_smoke_json_and_reports_carry_the_records_phases(canned_checks, tmp_path):
    save_record(record())
    result = runner.invoke(app, ["smoke", "demo", "--json", "--report-dir", str(tmp_path / "reports")])
    assert result.exit_code == 1
    run = json.loads(result.stdout)
    assert [check["name"] for check in run["checks"]] == [check.name for check in canned_checks]
    assert [(phase["name"], phase["status"]) for phase in run["phases"]] == [("cluster", "running")]
    suite = ET.parse(tmp_path / "reports" / "smoke-junit.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("5", "1")
    assert (tmp_path / "reports" / "smoke.html").read_text().count("<svg") == 2


def test_smoke_passes_with_exit_0_when_no_check_failed(monkeypatch):
    passed = [check for check in sample_run().checks if not check.failed]

    async def smoke_environment(record):
        return passed

    monkeypatch.setattr("envbuilder.smoke.suite.smoke_environment", smoke_environment)
    save_record(record())
    assert runner.invoke(app, ["smoke", "demo"]).exit_code == 0


def test_smoke_of_an_unknown_environment_is_an_input_error():
    result = runner.invoke(app, ["smoke", "nowhere"])
    assert result.exit_code == 2
    assert "no environment named 'nowhere'" in result.stderr


def test_no_check_may_run_longer_than_the_profiles_smoke_timeout_as_recorded():
    from envbuilder.smoke.suite import smoke_checks

    target = target_from_record(record(smoke_timeout_seconds=7), Credentials(f5_password="f5-secret", broker_password="p@ss"))
    checks = smoke_checks(target, FakeKube())
    assert max(check.deadline_seconds for check in checks) == 7


def test_the_checks_come_from_the_record_not_from_a_catalog_or_profile_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVBUILDER_PROJECT", str(tmp_path))  # no stacks/ there at all
    target = target_from_record(record(), Credentials(f5_password="f5-secret", broker_password="p@ss"))
    assert [service.name for service in target.services] == ["web", "worker"]
    assert (target.node_count, target.time_limit_seconds) == (2, 120)


def test_the_round_trip_follows_the_rpc_route_of_the_recorded_catalog():
    web, worker = CATALOG.select(["web", "worker"])
    front = web.model_copy(update={"name": "front", "rpc": web.rpc.model_copy(update={"to": "back", "path": "/ask"})})
    back = worker.model_copy(update={"name": "back"})
    target = target_from_record(record(services=("front", "back"), entries=[front, back]), Credentials(f5_password="x", broker_password="y"))
    assert target.rpc == RpcRoute(via="front", path="/ask", worker="back")
    without_route = web.model_copy(update={"rpc": None})
    assert target_from_record(record(entries=[without_route, worker]), Credentials(f5_password="x", broker_password="y")).rpc is None


def test_a_record_from_before_catalog_entries_were_recorded_is_refused_with_the_way_out():
    old = record().model_copy(update={"catalog": []})
    save_record(old)
    result = runner.invoke(app, ["smoke", "demo"])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())  # rich wraps long lines
    assert "names no catalog entries to check" in message
    assert "envbuilder up --name demo" in message
