"""Each stack's secrets are encrypted with a passphrase of its own, kept in a 0600 file of its workspace.

Runs the real Pulumi CLI on the local file backend (no plugins needed).
"""

import subprocess

import pytest

from envbuilder.cluster.tools import find_tool
from envbuilder.engine.backend import default_backend_url, engine_env, workspace_path
from envbuilder.engine.passphrases import passphrase_path
from envbuilder.engine.stacks import select_stack
from tests.support.tools import missing

pytestmark = [pytest.mark.engine]


@pytest.fixture(autouse=True)
def pulumi_cli():
    if find_tool("pulumi") is None:
        missing("toolchain", "the Pulumi CLI is not built", "make setup")


def opens_with(name: str, passphrase: str) -> bool:
    """Whether `passphrase` decrypts the stack's secret config."""
    env = {**engine_env(default_backend_url()), "PULUMI_CONFIG_PASSPHRASE": passphrase}
    result = subprocess.run([str(find_tool("pulumi")), "config", "get", "password", "--stack", name,
                             "--cwd", str(workspace_path(name))], env=env, capture_output=True, text=True)
    return result.returncode == 0


def test_each_stack_gets_a_random_passphrase_of_its_own_that_only_its_owner_reads(monkeypatch):
    from pulumi import automation as auto

    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "the-users-passphrase-for-other-projects")
    for name in ("alpha", "beta"):
        select_stack(name, lambda: None).set_config("password", auto.ConfigValue("s3cret", secret=True))
    alpha, beta = (passphrase_path(workspace_path(name)).read_text() for name in ("alpha", "beta"))
    assert alpha != beta and len(alpha) >= 32
    assert passphrase_path(workspace_path("alpha")).stat().st_mode & 0o777 == 0o600
    assert workspace_path("alpha").stat().st_mode & 0o777 == 0o700
    assert "s3cret" not in (workspace_path("alpha") / "Pulumi.alpha.yaml").read_text()
    assert opens_with("alpha", alpha) and not opens_with("alpha", beta)
    assert not opens_with("alpha", "the-users-passphrase-for-other-projects")
    # Selected again, the stack keeps its passphrase and its secrets.
    assert select_stack("alpha", lambda: None).get_config("password").value == "s3cret"
    assert passphrase_path(workspace_path("alpha")).read_text() == alpha
