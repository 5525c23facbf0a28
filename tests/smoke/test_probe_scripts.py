"""The programs the pod network probe pods run, run here for real on loopback (python3 only, like the pods)."""

import subprocess
import sys

import pytest

from envbuilder.smoke.probes import _FETCH
from tests.support.ports import free_port


@pytest.fixture
def server_pod_program(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield f"http://127.0.0.1:{port}/"
    server.terminate()
    server.wait(timeout=10)


def test_the_client_program_retries_until_it_reaches_the_server_program(server_pod_program):
    result = subprocess.run(
        [sys.executable, "-c", _FETCH, server_pod_program, "5"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith(f"reached {server_pod_program} HTTP 200")


def test_the_client_program_exits_1_and_logs_every_attempt_when_nothing_answers():
    url = f"http://127.0.0.1:{free_port()}/"
    result = subprocess.run(
        [sys.executable, "-c", _FETCH, url, "2"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 1
    assert [line.split()[:3] for line in result.stdout.splitlines()] == [["attempt", "1", url], ["attempt", "2", url]]
    assert "Connection refused" in result.stdout
