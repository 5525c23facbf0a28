"""`up` and `scale` against an environment that exists: what they take from its record.

The engine is replaced by a recorder of what it was asked to do; prerequisites are taken as met.
"""

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.state.records import find_record, load_record

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def up_args(name: str, *extra: str) -> list[str]:
    return ["up", "--services", "web,worker", "--name", name, "--revision", "HEAD", "--no-smoke", *extra]


def test_scale_on_kind_reuses_the_recorded_kube_context(engine_runs):
    assert invoke(*up_args("dev")).exit_code == 0
    assert load_record("dev").kube_context == "kind-envbuilder-dev"
    result = invoke("scale", "dev", "web=3")
    assert result.exit_code == 0, result.output
    assert engine_runs[-1].spec.target == "kind" and engine_runs[-1].replicas == {"web": 3}
    assert load_record("dev").replicas == {"web": 3} and load_record("dev").kube_context == "kind-envbuilder-dev"


def test_scale_on_an_existing_cluster_keeps_its_context_and_kubeconfig(engine_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    assert invoke(*up_args("shared", "--target", "existing", "--kube-context", "team")).exit_code == 0
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "another-kubeconfig"))
    result = invoke("scale", "shared", "web=3")
    assert result.exit_code == 0, result.output
    assert engine_runs[-1].spec.kube_context == "team"
    assert load_record("shared").kubeconfig == str(tmp_path / "kubeconfig")


def test_the_backend_is_recorded_and_later_commands_use_it(engine_runs, tmp_path):
    backend = (tmp_path / "shared-backend").as_uri()
    assert invoke(*up_args("dev", "--backend-url", backend)).exit_code == 0
    assert load_record("dev").backend_url == backend
    assert invoke("scale", "dev", "web=3").exit_code == 0
    assert engine_runs[-1].backend_url == backend
    other = invoke("scale", "dev", "web=2", "--backend-url", (tmp_path / "elsewhere").as_uri())
    assert other.exit_code == 2 and "keeps its stack in" in other.output
    moved = invoke(*up_args("dev", "--backend-url", (tmp_path / "elsewhere").as_uri()))
    assert moved.exit_code == 2 and len(engine_runs) == 2


def test_ttl_applies_when_up_updates_an_environment_and_is_kept_otherwise(engine_runs):
    assert invoke(*up_args("dev", "--ttl", "1h")).exit_code == 0
    first = load_record("dev")
    assert invoke(*up_args("dev", "--ttl", "8h")).exit_code == 0
    extended = load_record("dev")
    assert extended.created_at == first.created_at
    assert abs(extended.time_left() - timedelta(hours=8)) < timedelta(minutes=1)
    assert invoke(*up_args("dev")).exit_code == 0
    assert load_record("dev").expires_at == extended.expires_at
    assert invoke("scale", "dev", "web=3").exit_code == 0
    assert load_record("dev").expires_at == extended.expires_at


def test_the_record_holds_what_later_commands_need(engine_runs):
    assert invoke(*up_args("dev")).exit_code == 0
    record = find_record("dev")
    assert record is not None
    assert (record.target, record.kube_context, record.namespace) == ("kind", "kind-envbuilder-dev", "env-dev")
    assert record.kubeconfig and record.kubeconfig.endswith("kube/dev.yaml")
    assert record.owner_id and record.backend_url is None
    assert datetime.now(UTC) - record.created_at < timedelta(minutes=1)
    status = invoke("status", "dev", "--json")
    assert status.exit_code == 0 and '"owner_id"' in status.output and '"backend_url"' in status.output
