"""No secret appears in any process's arguments, where every local user reads them (ps,
/proc/<pid>/cmdline): a sampler reads every process's command line while a first `up` generates
and stores the environment's passwords, then looks for them and for the stack's passphrase."""

import os
import subprocess
import threading
from pathlib import Path

import pytest

from envbuilder.engine.program import CONFIG_BROKER_PASSWORD, CONFIG_F5_PASSWORD
from envbuilder.engine.backend import workspace_path
from envbuilder.engine.passphrases import passphrase_path
from envbuilder.engine.stacks import select_stack
from tests.engine.test_environment_on_real_engine import ENVBUILDER, envbuilder, up_args

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture
def cli_env(control_plane, isolated_state):
    return {**os.environ, **control_plane.env(), "KUBECONFIG": str(control_plane.kubeconfig),
            "ENVBUILDER_HOME": str(isolated_state)}


def command_lines() -> set[str]:
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            found.add(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass  # the process ended meanwhile
    return found


def test_a_first_up_puts_no_generated_password_nor_passphrase_in_any_command_line(control_plane, cli_env):
    seen: set[str] = set()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            seen.update(command_lines())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        up = subprocess.run([ENVBUILDER, *up_args("quiet")], env=cli_env, capture_output=True, text=True, timeout=600)
    finally:
        done.set()
        sampler.join()
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        config = select_stack("quiet", lambda: None).get_all_config()
        secrets = {key: config[f"envbuilder:{key}"].value for key in (CONFIG_BROKER_PASSWORD, CONFIG_F5_PASSWORD)}
        secrets["passphrase"] = passphrase_path(workspace_path("quiet")).read_text()
        # The sampler saw the moment they were stored: the command that stores them names their keys.
        assert any("config set" in line and CONFIG_F5_PASSWORD in line for line in seen), (
            "the sampler missed the command that stores the passwords")
        leaked = {name: line for name, value in secrets.items() for line in seen if value in line}
        assert leaked == {}
    finally:
        assert envbuilder(cli_env, "down", "quiet").returncode == 0
