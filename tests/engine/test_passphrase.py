"""Each stack's secrets are encrypted with a passphrase of its own, kept in a 0600 file of its workspace;
a stack made when every stack shared one passphrase is re-encrypted with its own and keeps its secrets.

Runs the real Pulumi CLI on the local file backend (no plugins needed).
"""

import subprocess
from pathlib import Path

import pulumi
import pytest

from envbuilder.cluster.tools import find_tool
from envbuilder.engine.workspace import (
    FORMER_SHARED_PASSPHRASE,
    PROJECT,
    default_backend_url,
    engine_env,
    own_passphrase,
    passphrase_path,
    select_stack,
    workspace_path,
)
from envbuilder.errors import EnvbuilderError
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


def stack_with_a_secret_made_with(name: str, passphrase: str):
    """A stack as envbuilder made them before each had its own passphrase: a secret in its config and in
    its state (a secret output of an update)."""
    from pulumi import automation as auto

    env = {**engine_env(default_backend_url()), "PULUMI_CONFIG_PASSPHRASE": passphrase}
    workspace_path(name).mkdir(parents=True)
    stack = auto.create_or_select_stack(
        stack_name=name, project_name=PROJECT, program=lambda: pulumi.export("token", pulumi.Output.secret("t0ken")),
        opts=auto.LocalWorkspaceOptions(work_dir=str(workspace_path(name)), env_vars=env,
                                        project_settings=auto.ProjectSettings(name=PROJECT, runtime="python"),
                                        pulumi_command=auto.PulumiCommand(root=str(find_tool("pulumi").parent.parent))),
    )
    stack.set_config("password", auto.ConfigValue("s3cret-password", secret=True))
    stack.up(on_output=lambda _line: None)


def former_copies(name: str) -> list[Path]:
    """What the local backend keeps of a stack besides its checkpoint: history, backups, `.bak`."""
    state = Path(default_backend_url().removeprefix("file://")) / ".pulumi"
    current = {state / "stacks" / PROJECT / f"{name}.json", state / "stacks" / PROJECT / f"{name}.json.attrs"}
    return [path for path in state.rglob(f"{name}*") if path.is_file() and path not in current]


def test_each_stack_gets_a_random_passphrase_of_its_own_that_only_its_owner_reads(monkeypatch):
    from pulumi import automation as auto

    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "the-users-passphrase-for-other-projects")
    for name in ("alpha", "beta"):
        select_stack(name, lambda: None).set_config("password", auto.ConfigValue("s3cret", secret=True))
    alpha, beta = passphrase_path("alpha").read_text(), passphrase_path("beta").read_text()
    assert alpha != beta and len(alpha) >= 32 and FORMER_SHARED_PASSPHRASE not in (alpha, beta)
    assert passphrase_path("alpha").stat().st_mode & 0o777 == 0o600
    assert workspace_path("alpha").stat().st_mode & 0o777 == 0o700
    assert "s3cret" not in (workspace_path("alpha") / "Pulumi.alpha.yaml").read_text()
    assert opens_with("alpha", alpha) and not opens_with("alpha", beta)
    assert not opens_with("alpha", FORMER_SHARED_PASSPHRASE)
    assert own_passphrase(select_stack("alpha", lambda: None)) is None  # it has its own: nothing to do


def test_a_stack_made_with_the_former_shared_passphrase_gets_its_own_and_keeps_its_secrets():
    stack_with_a_secret_made_with("before", FORMER_SHARED_PASSPHRASE)
    assert not passphrase_path("before").exists()
    assert former_copies("before")  # the backend's history of the stack
    stack = select_stack("before", lambda: pulumi.export("token", pulumi.Output.secret("t0ken")))
    said = own_passphrase(stack)
    assert said is not None and "a passphrase of its own" in said
    assert passphrase_path("before").stat().st_mode & 0o777 == 0o600
    assert not opens_with("before", FORMER_SHARED_PASSPHRASE)
    assert opens_with("before", passphrase_path("before").read_text())
    assert former_copies("before") == []  # they were encrypted with the former passphrase
    # Config and state both open with the new passphrase, and the next update works.
    assert stack.get_config("password").value == "s3cret-password"
    assert stack.up(on_output=lambda _line: None).outputs["token"].value == "t0ken"
    assert own_passphrase(stack) is None


def test_a_run_interrupted_after_the_stack_was_re_encrypted_finds_the_new_passphrase_again():
    stack_with_a_secret_made_with("interrupted", FORMER_SHARED_PASSPHRASE)
    stack = select_stack("interrupted", lambda: None)
    own_passphrase(stack)
    passphrase_path("interrupted").rename(passphrase_path("interrupted").with_name("passphrase.new"))
    assert own_passphrase(stack) is not None
    assert stack.get_config("password").value == "s3cret-password"


def test_a_stack_no_known_passphrase_opens_is_left_as_it_is():
    stack_with_a_secret_made_with("elsewhere", "another-homes-passphrase")
    stack = select_stack("elsewhere", lambda: None)
    with pytest.raises(EnvbuilderError, match="former shared passphrase does not open it"):
        own_passphrase(stack)
    assert opens_with("elsewhere", "another-homes-passphrase")
    assert not passphrase_path("elsewhere").exists()
