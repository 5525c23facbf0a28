"""`f5-mock serve` (the console script): credentials from the environment, JSON-lines logs, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from components.f5mock.tests.loopback import wait_healthy
from tests.support.ports import free_port

# The console script installed beside this interpreter (the image runs the same entry point).
COMMAND = [str(Path(sys.executable).with_name("f5-mock")), "serve"]


@pytest.mark.slow
def test_serve_takes_credentials_from_the_environment_and_logs_json_lines(tmp_path):
    port = free_port()
    environment = {**os.environ, "F5MOCK_USERNAME": "ops", "F5MOCK_PASSWORD": "s3cret"}
    process = subprocess.Popen(
        [*COMMAND, "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path)],
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=False) as client:
            wait_healthy(client, timeout=30)
            assert client.get("/mgmt/tm/ltm/pool", auth=("admin", "admin")).status_code == 401
            assert client.post("/mgmt/tm/ltm/pool", json={"name": "web"}, auth=("ops", "s3cret")).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    events = [json.loads(line)["event"] for line in stderr.splitlines()]
    assert events[0] == "loaded" and "change" in events and events[-1] == "stopped"
    assert (tmp_path / "tls" / "cert.pem").exists()


def test_a_malformed_listen_address_is_a_usage_error(tmp_path):
    result = subprocess.run(
        [*COMMAND, "--listen", "nonsense", "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "is not HOST:PORT" in result.stderr


@pytest.mark.slow
def test_serve_takes_the_password_from_a_file(tmp_path):
    port = free_port()
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n")
    process = subprocess.Popen(
        [
            *COMMAND,
            "--listen",
            f"127.0.0.1:{port}",
            "--state-dir",
            str(tmp_path / "f5"),
            "--password-file",
            str(secret),
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=False) as client:
            wait_healthy(client, timeout=30)
            assert client.get("/mgmt/tm/sys", auth=("admin", "from-a-file")).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.parametrize(
    ("arguments", "environment", "message"),
    [
        (["--password", "on-the-command-line"], {}, "unrecognized arguments: --password"),
        ([], {"F5MOCK_PASSWORD": ""}, "password is empty"),
    ],
)
def test_a_password_on_the_command_line_or_an_empty_one_is_a_usage_error(tmp_path, arguments, environment, message):
    result = subprocess.run(
        [*COMMAND, "--state-dir", str(tmp_path), "--listen", f"127.0.0.1:{free_port()}", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **environment},
    )
    assert result.returncode == 2
    assert message in result.stderr
